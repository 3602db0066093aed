import type { CollectGarbageResponse__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { nameArg } from '../../input.js';
import { formatBytes } from '../../render.js';

export default defineCommand({
  path: ['model', 'gc'],
  summary: "Delete the blobs of a federation's model versions beyond its keep_versions, reporting the bytes freed",
  args: [['<federation>', 'federation name']],
  connects: true,
  parse(raw) {
    return { federation: nameArg(raw, 0, 'federation') };
  },
  async run(input, ctx): Promise<CollectGarbageResponse__Output> {
    return (await ctx.admin()).collectGarbage(input.federation);
  },
  render(r) {
    return `Freed ${formatBytes(r.bytesFreed)} (${r.blobsDeleted} blob(s)); ${r.versionsKept} model version(s) kept, ${r.versionsReleased} released.`;
  },
});
