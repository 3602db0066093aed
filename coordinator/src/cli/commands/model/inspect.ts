import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { dtypeSize, parseSafetensorsHeader, safetensorsHeaderLength, TributaryError } from '@tributary/proto';
import type { DType } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { openRegularFile } from '../../files.js';
import { arg } from '../../input.js';
import { fields, formatBytes, table } from '../../render.js';

export interface InspectedTensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly values: number;
  readonly bytes: number;
}

export interface ModelInspectResult {
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  readonly tensors: readonly InspectedTensor[];
  readonly values: number;
  readonly metadata: Readonly<Record<string, string>>;
}

export default defineCommand({
  path: ['model', 'inspect'],
  summary: 'Show the tensors of a .safetensors file: names, dtypes, shapes, sizes and its SHA-256',
  args: [['<file>', 'a .safetensors file']],
  parse(raw) {
    return { file: arg(raw, 0) ?? '' };
  },
  async run(input, ctx): Promise<ModelInspectResult> {
    const file = resolve(ctx.cwd, input.file);
    const { size } = await openRegularFile(file, 'the model file');
    // Only the header is read into memory; the data is hashed as it streams past.
    const handle = await open(file, 'r');
    let layout;
    try {
      const prefix = Buffer.alloc(8);
      await handle.read(prefix, 0, 8, 0);
      const headerLength = safetensorsHeaderLength(prefix, size);
      const header = Buffer.alloc(headerLength);
      await handle.read(header, 0, headerLength, 8);
      layout = parseSafetensorsHeader(header, size - 8 - headerLength);
    } catch (err) {
      throw TributaryError.of(TributaryError.from(err).reason, `${file} is not a safetensors file: ${TributaryError.from(err).message}`);
    } finally {
      await handle.close();
    }
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file, { signal: ctx.signal })) hash.update(chunk as Buffer);
    const tensors = [...layout.entries]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, values: (e.end - e.begin) / dtypeSize(e.dtype), bytes: e.end - e.begin }));
    return { file, size, sha256: hash.digest('hex'), tensors, values: tensors.reduce((n, t) => n + t.values, 0), metadata: layout.metadata };
  },
  render(r) {
    return [
      fields([
        ['file', r.file],
        ['size', formatBytes(r.size)],
        ['sha256', r.sha256],
        ['values', String(r.values)],
      ]),
      '',
      table(
        ['TENSOR', 'DTYPE', 'SHAPE', 'VALUES', 'BYTES'],
        r.tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(',')}]`, String(t.values), formatBytes(t.bytes)]),
      ),
    ].join('\n');
  },
});
