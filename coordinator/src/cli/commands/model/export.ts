import { resolve } from 'node:path';
import { defineCommand } from '../../command.js';
import { refuseExisting, writeFileAtomically } from '../../files.js';
import { nameArg, optFlag, optInteger, optString } from '../../input.js';
import { formatBytes } from '../../render.js';

export interface ModelExportResult {
  readonly federation: string;
  readonly version: number;
  readonly sha256: string;
  readonly size: number;
  /** Absolute path of the written safetensors file. */
  readonly file: string;
}

export default defineCommand({
  path: ['model', 'export'],
  summary: 'Download a model version (SHA-256 checked) to a safetensors file',
  args: [['<federation>', 'federation name']],
  connects: true,
  options(cmd) {
    cmd.option('--version <n>', 'model version (default: the latest)');
    cmd.requiredOption('--out <file>', 'where to write the .safetensors file');
    cmd.option('--force', 'replace an existing file');
  },
  parse(raw) {
    return {
      federation: nameArg(raw, 0, 'federation'),
      version: optInteger(raw, 'version', '--version', 1, Number.MAX_SAFE_INTEGER),
      out: optString(raw, 'out') ?? '',
      force: optFlag(raw, 'force'),
    };
  },
  async run(input, ctx): Promise<ModelExportResult> {
    const file = resolve(ctx.cwd, input.out);
    // Refused before the download, not after it.
    if (!input.force) await refuseExisting(file, '--out');
    const admin = await ctx.admin();
    const model = await admin.downloadModel(input.federation, input.version, { signal: ctx.signal });
    await writeFileAtomically(file, model.bytes, { overwrite: input.force, flag: '--out' });
    return { federation: input.federation, version: model.version, sha256: model.sha256, size: model.bytes.length, file };
  },
  render(r) {
    return `Wrote ${r.federation} model version ${r.version} (${formatBytes(r.size)}, sha256 ${r.sha256}) to ${r.file}.`;
  },
});
