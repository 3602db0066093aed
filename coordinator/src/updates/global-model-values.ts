import {
  decodeSafetensorsAsync,
  dtypeSize,
  parseSafetensorsHeaderAsync,
  safetensorsHeaderLength,
  tensor,
  tensorViewOfBytes,
  elementCount,
  type SafetensorsEntry,
  type SafetensorsLayout,
  type Tensor,
  type TensorMap,
} from '@tributary/proto';
import { readWholeFile } from '../state/index.js';
import { HEADER_BYTES_INITIAL_MODEL, openStaged, type StagedBytes } from './staged-bytes.js';

/**
 * A global model kept on disk: its blob's path and layout. The engine holds one instead of the
 * decoded tensors when the round's strategy never reads them (fedavg), so a large model costs no
 * memory between its uses: the norm bound reads it slice by slice.
 */
export class StoredModel {
  private constructor(
    readonly path: string,
    readonly layout: SafetensorsLayout,
  ) {}

  /** Reads the header of the model at `path` (`size` bytes): its data stays on disk. */
  static async open(path: string, size: number): Promise<StoredModel> {
    const file = await openStaged(path);
    try {
      const headerLength = safetensorsHeaderLength(await file.read(0, 8), size, HEADER_BYTES_INITIAL_MODEL);
      return new StoredModel(path, await parseSafetensorsHeaderAsync(await file.read(8, headerLength), size - 8 - headerLength));
    } finally {
      await file.close();
    }
  }
}

/** The model a round's sites trained from: decoded tensors, or kept on disk. */
export type GlobalModelSource = TensorMap | StoredModel;

/** The decoded tensors of a global model (read whole when it is kept on disk: for small payloads and whole-update folds). */
export async function globalTensorsOf(source: GlobalModelSource): Promise<TensorMap> {
  if (!(source instanceof StoredModel)) return source;
  return (await decodeSafetensorsAsync(await readWholeFile(source.path), { view: true, layout: source.layout })).tensors;
}

/** Slices of a global model's tensors, which a norm measures an update against and clipping scales it towards. */
export interface GlobalModelSlices {
  /** Whether the model has tensor `name` of `length` values, the only kind an update's tensor is compared with. */
  comparable(name: string, length: number): boolean;
  /** `count` values of tensor `name` from element `from`, in its dtype: valid until the next read. */
  read(name: string, from: number, count: number): Promise<Tensor>;
  close(): Promise<void>;
}

/** Opens a global model for reading slices: views of its tensors, or reads of its file. */
export async function openGlobalModelSlices(source: GlobalModelSource): Promise<GlobalModelSlices> {
  if (!(source instanceof StoredModel)) {
    return {
      comparable: (name, length) => source[name]?.data.length === length,
      read: async (name, from, count) => {
        const t = source[name]!;
        return tensor(t.dtype, [count], t.data.subarray(from, from + count));
      },
      close: async () => undefined,
    };
  }
  const entries = new Map<string, SafetensorsEntry>(source.layout.entries.map((e) => [e.name, e]));
  const file: StagedBytes = await openStaged(source.path);
  return {
    comparable: (name, length) => {
      const entry = entries.get(name);
      return entry !== undefined && elementCount(entry.shape) === length;
    },
    read: async (name, from, count) => {
      const entry = entries.get(name)!;
      const size = dtypeSize(entry.dtype);
      const bytes = await file.read(source.layout.dataStart + entry.begin + from * size, count * size);
      return tensorViewOfBytes({ dtype: entry.dtype, shape: [count] }, bytes);
    },
    close: () => file.close(),
  };
}
