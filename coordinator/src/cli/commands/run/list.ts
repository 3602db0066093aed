import { assertName } from '@tributary/proto';
import type { Run__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { arg } from '../../input.js';
import { runsTable } from '../../views.js';

export default defineCommand({
  path: ['run', 'list'],
  summary: 'List runs, newest first',
  args: [['[federation]', 'only runs of this federation']],
  connects: true,
  parse(raw) {
    const federation = arg(raw, 0);
    return { federation: federation === undefined ? undefined : assertName('federation', federation) };
  },
  async run(input, ctx): Promise<Run__Output[]> {
    return (await ctx.admin()).listRuns(input.federation);
  },
  render(runs) {
    return runs.length === 0 ? 'No runs.' : runsTable(runs);
  },
  quiet: (runs) => runs.map((r) => r.id).join('\n'),
});
