import type { Run__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { nameArg, optFlag, optInteger, UINT32_MAX } from '../../input.js';
import { plural } from '../../render.js';
import { runSummary } from '../../views.js';
import { exitCodeOfRun, failureOfRun, followRun } from './watch.js';

export default defineCommand({
  path: ['run', 'start'],
  summary: "Start a run of a federation's training",
  args: [['<federation>', 'federation name']],
  connects: true,
  // Ctrl-C while watching stops the watch with the run's id; the run goes on.
  handlesInterrupt: true,
  options(cmd) {
    cmd.option('--rounds <n>', "rounds to run (default: the federation's setting)");
    cmd.option('--watch', 'follow the run until it ends (exit 0 if it FINISHED, 1 otherwise)');
  },
  parse(raw) {
    return {
      federation: nameArg(raw, 0, 'federation'),
      rounds: optInteger(raw, 'rounds', '--rounds', 1, UINT32_MAX),
      watch: optFlag(raw, 'watch'),
    };
  },
  async run(input, ctx): Promise<Run__Output> {
    const admin = await ctx.admin();
    const run = await admin.startRun(input.federation, input.rounds === undefined ? {} : { rounds: input.rounds });
    if (!input.watch) return run;
    ctx.progress.line(`Started run ${run.id} of ${run.federation} (${plural(run.rounds, 'round')}).`);
    return followRun(admin, run.id, ctx);
  },
  render(run) {
    if (run.status !== 'RUN_STATUS_RUNNING') return runSummary(run);
    return `Started run ${run.id} of ${run.federation} (${plural(run.rounds, 'round')}, from model version ${run.startVersion}).\nFollow it with: tributary run watch ${run.id}`;
  },
  exitCode: exitCodeOfRun,
  failure: failureOfRun,
});
