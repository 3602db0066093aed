import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Reason, TributaryError, allFinite, checkSpec, decodeSafetensors, encodeSafetensors, tensorSpecsOf } from '@tributary/proto';
import type { TensorMap } from '@tributary/proto';
import type { EvaluationResult } from '../evaluation.js';
import type { DatasetDescriptor, SiteTask, TensorTrainResult } from '../types.js';

/** Files of a task directory, relative to it. */
export const TASK_FILES = Object.freeze({
  model: 'model.safetensors',
  task: 'task.json',
  update: 'update.safetensors',
  result: 'result.json',
  metrics: 'metrics.jsonl',
});

/** Largest result.json the agent reads. */
const MAX_RESULT_BYTES = 1024 * 1024;
/** Most dataset descriptors a result may carry. */
const MAX_DATASETS = 64;

/** What a script finds in `task.json`. */
export interface TaskDescription {
  kind: string;
  federation: string;
  runId: string;
  round: number;
  modelVersion: number;
  config: Record<string, string>;
  deadlineAtMs: number;
  modelSpec: Array<{ name: string; dtype: string; shape: number[] }>;
  files: typeof TASK_FILES;
}

/** A fresh directory for one task: the global model and task.json, and where the script writes. */
export class TaskDirectory {
  private constructor(readonly path: string) {}

  static async create(parent: string, task: SiteTask): Promise<TaskDirectory> {
    const safeRun = task.runId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
    const dir = new TaskDirectory(await mkdtemp(join(parent, `${safeRun}-r${task.round}-${task.kind}-`)));
    const description: TaskDescription = {
      kind: task.kind,
      federation: task.federation,
      runId: task.runId,
      round: task.round,
      modelVersion: task.modelVersion,
      config: { ...task.config },
      deadlineAtMs: task.deadlineAtMs,
      modelSpec: task.modelSpec.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape.map(Number) })),
      files: TASK_FILES,
    };
    await writeFile(dir.file('model'), encodeSafetensors(task.model));
    await writeFile(dir.file('task'), `${JSON.stringify(description, null, 2)}\n`);
    await writeFile(dir.file('metrics'), '');
    return dir;
  }

  file(name: keyof typeof TASK_FILES): string {
    return join(this.path, TASK_FILES[name]);
  }

  /** The script's update and result, checked against the task's model spec. */
  async readTrainResult(task: SiteTask): Promise<TensorTrainResult> {
    const result = await this.#readResult();
    const bytes = await readOutput(this.file('update'));
    let weights: TensorMap;
    try {
      weights = decodeSafetensors(bytes).tensors;
    } catch (err) {
      throw TributaryError.of(Reason.MALFORMED_PAYLOAD, `${TASK_FILES.update} is not a valid safetensors file: ${messageOf(err)}`);
    }
    if (task.modelSpec.length > 0) {
      const mismatch = checkSpec(task.modelSpec, tensorSpecsOf(weights));
      if (mismatch !== undefined) throw TributaryError.of(Reason.SCHEMA_MISMATCH, `${TASK_FILES.update} does not fit the model: ${mismatch}`);
    }
    for (const [name, t] of Object.entries(weights)) {
      if (!allFinite(t)) throw TributaryError.of(Reason.NON_FINITE, `${TASK_FILES.update}: tensor "${name}" holds NaN or infinity`);
    }
    return { ...result, weights };
  }

  /** The script's evaluation result. */
  async readEvaluationResult(): Promise<EvaluationResult> {
    const { metrics, ...rest } = await this.#readResult();
    return { ...rest, metrics: metrics ?? {} };
  }

  async remove(): Promise<void> {
    await rm(this.path, { recursive: true, force: true });
  }

  async #readResult(): Promise<{ numExamples: number; metrics?: Record<string, number>; datasets?: DatasetDescriptor[] }> {
    const text = await readOutput(this.file('result'), MAX_RESULT_BYTES);
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(text).toString('utf8'));
    } catch (err) {
      throw TributaryError.of(Reason.INVALID_ARGUMENT, `${TASK_FILES.result} is not JSON: ${messageOf(err)}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw TributaryError.invalidArgument(`${TASK_FILES.result} must hold a JSON object`);
    const r = raw as Record<string, unknown>;
    const numExamples = r['num_examples'];
    if (typeof numExamples !== 'number' || !Number.isSafeInteger(numExamples) || numExamples <= 0) {
      throw TributaryError.of(Reason.ZERO_EXAMPLES, `${TASK_FILES.result}: num_examples must be a positive integer, got ${JSON.stringify(numExamples)}`);
    }
    const out: { numExamples: number; metrics?: Record<string, number>; datasets?: DatasetDescriptor[] } = { numExamples };
    if (r['metrics'] !== undefined) out.metrics = metricsOf(r['metrics']);
    if (r['datasets'] !== undefined) out.datasets = datasetsOf(r['datasets']);
    return out;
  }
}

async function readOutput(path: string, maxBytes?: number): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw TributaryError.of(Reason.PAYLOAD_MISSING, `the script exited 0 without writing ${path.slice(path.lastIndexOf('/') + 1)}`);
    }
    throw TributaryError.of(Reason.PAYLOAD_MISSING, `cannot read ${path}: ${messageOf(err)}`);
  }
  if (maxBytes !== undefined && bytes.length > maxBytes) {
    throw TributaryError.of(Reason.PAYLOAD_TOO_LARGE, `${path.slice(path.lastIndexOf('/') + 1)} has ${bytes.length} bytes, more than ${maxBytes}`);
  }
  return bytes;
}

function metricsOf(v: unknown): Record<string, number> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw TributaryError.invalidArgument(`${TASK_FILES.result}: metrics must be an object of numbers`);
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw TributaryError.of(Reason.NON_FINITE, `${TASK_FILES.result}: metric "${k}" must be a finite number, got ${JSON.stringify(x)}`);
    out[k] = x;
  }
  return out;
}

function datasetsOf(v: unknown): DatasetDescriptor[] {
  if (!Array.isArray(v) || v.length > MAX_DATASETS) throw TributaryError.invalidArgument(`${TASK_FILES.result}: datasets must be a list of at most ${MAX_DATASETS} descriptors`);
  return v.map((d, i) => {
    if (typeof d !== 'object' || d === null || typeof (d as { name?: unknown }).name !== 'string') {
      throw TributaryError.invalidArgument(`${TASK_FILES.result}: datasets[${i}] needs a string "name"`);
    }
    const o = d as Record<string, unknown>;
    const desc: DatasetDescriptor = { name: o['name'] as string };
    for (const key of ['digest', 'schema', 'source', 'context'] as const) if (typeof o[key] === 'string') desc[key] = o[key];
    if (typeof o['rows'] === 'number') desc.rows = o['rows'];
    return desc;
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
