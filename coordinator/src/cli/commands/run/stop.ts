import type { Run__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { arg, optString } from '../../input.js';
import { runSummary } from '../../views.js';

export default defineCommand({
  path: ['run', 'stop'],
  summary: 'Stop a running run (it ends KILLED)',
  args: [['<run-id>', 'run id']],
  connects: true,
  options(cmd) {
    cmd.option('--reason <text>', 'why, recorded with the run');
  },
  parse(raw) {
    return { runId: arg(raw, 0) ?? '', reason: optString(raw, 'reason') };
  },
  async run(input, ctx): Promise<Run__Output> {
    return (await ctx.admin()).stopRun(input.runId, input.reason);
  },
  render: runSummary,
});
