"""Tributary task helper for Python training scripts (standard library and numpy only).

`tributary-site run ... -- python3 train.py` runs your script once per task with
TRIBUTARY_TASK_DIR set. The script reads the global model, trains on local data, and submits:

    from tributary_task import load_task

    task = load_task()
    w = task.model["w"].copy()            # numpy arrays, by tensor name
    lr = float(task.config.get("lr", "0.1"))
    for epoch in range(5):
        loss = train_one_epoch(w, lr)     # your code, on your data
        task.log({"loss": loss}, step=epoch)
    task.submit({"w": w}, num_examples=1200, metrics={"loss": loss})

The agent signs and publishes the update, tails the logged metrics, and waits for the verdict.
Nothing here touches the network.

PyTorch: hand numpy arrays over with `tensor.detach().cpu().numpy()` and take them back with
`torch.from_numpy(array)`; e.g. `task.submit({k: v.detach().cpu().numpy() for k, v in
model.state_dict().items()}, n)`. BF16 tensors arrive as float32 values (see `bf16_to_float32`)
and are rounded back to bfloat16 on submit.
"""
from __future__ import annotations

import json
import math
import os
import struct

import numpy as np

__all__ = ["Task", "TaskError", "load_task", "read_safetensors", "write_safetensors", "bf16_to_float32", "float32_to_bf16"]

# Safetensors dtype name -> numpy little-endian dtype. BF16 is stored as raw uint16 bits.
_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U8": np.dtype("u1"),
}
_METADATA_KEY = "__metadata__"
_MAX_HEADER_BYTES = 100 * 1024 * 1024


class TaskError(Exception):
    """A task directory or a submission that does not fit the task."""


def bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    """BF16 bit patterns (uint16) as float32 values."""
    return (np.asarray(bits, dtype="<u2").astype("<u4") << 16).view("<f4")


def float32_to_bf16(values: np.ndarray) -> np.ndarray:
    """float32 values as BF16 bit patterns (uint16), rounded to nearest even; NaN stays NaN."""
    v = np.ascontiguousarray(values, dtype="<f4")
    bits = v.view("<u4").astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
    nan = np.isnan(v)
    if nan.any():
        rounded = np.where(nan, ((bits >> 16) | 0x40).astype("<u2"), rounded).astype("<u2")
    return rounded


def read_safetensors(path: str) -> dict:
    """Reads a safetensors file: {name: numpy array}, in header order (BF16 as raw uint16 bits)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise TaskError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(_MAX_HEADER_BYTES, len(data) - 8):
        raise TaskError(f"{path}: header length {n} does not fit the file")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    body = memoryview(data)[8 + n :]
    out = {}
    for name, entry in header.items():
        if name == _METADATA_KEY:
            continue
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise TaskError(f"{path}: tensor {name!r} has unknown dtype {entry['dtype']!r}")
        begin, end = entry["data_offsets"]
        shape = tuple(int(d) for d in entry["shape"])
        out[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).copy()
    return out


def write_safetensors(path: str, tensors: list) -> None:
    """Writes [(name, dtype_name, array)] as safetensors, in list order, header padded with spaces to 8 bytes."""
    header = {}
    chunks = []
    offset = 0
    for name, dtype_name, array in tensors:
        raw = np.ascontiguousarray(array, dtype=_DTYPES[dtype_name]).tobytes()
        header[name] = {"dtype": dtype_name, "shape": [int(d) for d in np.shape(array)], "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    padded = text + b" " * ((-len(text)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(padded)))
        f.write(padded)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


class Task:
    """One task: the global model, the strategy's config, and where to write the results."""

    def __init__(self, directory: str):
        self.dir = directory
        with open(os.path.join(directory, "task.json"), encoding="utf-8") as f:
            spec = json.load(f)
        self.kind = spec["kind"]
        self.federation = spec["federation"]
        self.run_id = spec["runId"]
        self.round = int(spec["round"])
        self.model_version = int(spec["modelVersion"])
        self.config = dict(spec.get("config", {}))
        self.deadline_at_ms = int(spec.get("deadlineAtMs", 0))
        self.model_spec = list(spec.get("modelSpec", []))
        files = spec["files"]
        self._paths = {k: os.path.join(directory, v) if not os.path.isabs(v) else v for k, v in files.items()}
        self._dtypes = {t["name"]: t["dtype"] for t in self.model_spec}
        raw = read_safetensors(self._paths["model"])
        self.raw_model = raw
        """The model as stored: BF16 tensors as uint16 bit patterns."""
        self.model = {k: bf16_to_float32(v) if self._dtypes.get(k) == "BF16" else v for k, v in raw.items()}
        """The global model: {name: numpy array}; BF16 tensors as float32 values."""
        self._step = 0

    def log(self, metrics: dict, step: int | None = None) -> None:
        """Records metric points at `step` (default: the number of earlier calls); the agent streams them."""
        if step is None:
            step = self._step
        self._step += 1
        clean = {str(k): float(v) for k, v in metrics.items()}
        with open(self._paths["metrics"], "a", encoding="utf-8") as f:
            f.write(json.dumps({"metrics": clean, "step": int(step)}) + "\n")
            f.flush()

    def submit(self, weights: dict, num_examples: int, metrics: dict | None = None, datasets: list | None = None) -> None:
        """Writes the update (same names, dtypes and shapes as the model) and result.json."""
        if self.kind != "train":
            raise TaskError(f"submit is for train tasks; this task is {self.kind!r} (use submit_evaluation)")
        order = [t["name"] for t in self.model_spec] if self.model_spec else list(weights)
        missing = [n for n in order if n not in weights]
        extra = [n for n in weights if n not in order]
        if missing or extra:
            raise TaskError(f"weights must name exactly the model's tensors: missing {missing}, extra {extra}")
        tensors = []
        for name in order:
            dtype = self._dtypes.get(name) or _dtype_name_of(weights[name])
            value = np.asarray(weights[name])
            if dtype == "BF16" and value.dtype != np.dtype("<u2"):
                value = float32_to_bf16(value)
            tensors.append((name, dtype, value))
        write_safetensors(self._paths["update"], tensors)
        self._write_result(num_examples, metrics, datasets)

    def submit_evaluation(self, num_examples: int, metrics: dict, datasets: list | None = None) -> None:
        """Writes result.json for an evaluation task: metrics of the global model on local data."""
        self._write_result(num_examples, metrics, datasets)

    def _write_result(self, num_examples: int, metrics: dict | None, datasets: list | None) -> None:
        result = {"num_examples": int(num_examples), "metrics": {str(k): float(v) for k, v in (metrics or {}).items()}}
        if datasets:
            result["datasets"] = datasets
        for k, v in result["metrics"].items():
            if not math.isfinite(v):
                raise TaskError(f"metric {k!r} is not finite: {v}")
        tmp = self._paths["result"] + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(result, f)
        os.replace(tmp, self._paths["result"])


def _dtype_name_of(array) -> str:
    dt = np.asarray(array).dtype.newbyteorder("<") if np.asarray(array).dtype.byteorder == ">" else np.asarray(array).dtype
    for name, d in _DTYPES.items():
        if name != "BF16" and d == dt:
            return name
    raise TaskError(f"no safetensors dtype for numpy dtype {dt}")


def load_task(directory: str | None = None) -> Task:
    """The task the agent is running this script for (from TRIBUTARY_TASK_DIR)."""
    d = directory or os.environ.get("TRIBUTARY_TASK_DIR")
    if not d:
        raise TaskError("TRIBUTARY_TASK_DIR is not set: run this script with `tributary-site run ... -- python3 script.py`")
    return Task(d)
