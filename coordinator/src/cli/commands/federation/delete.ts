import type { DeleteFederationResponse__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { UsageError } from '../../errors.js';
import { nameArg, optFlag } from '../../input.js';
import { list } from '../../render.js';

export default defineCommand({
  path: ['federation', 'delete'],
  summary: 'Delete a federation: gone from listings, its runs, model versions and audit entries kept for the record',
  args: [['<name>', 'federation name']],
  connects: true,
  options(cmd) {
    cmd
      .option('--force', 'stop its running run first (as `tributary run stop` does) instead of refusing')
      .option('--yes', 'do not ask for confirmation (needed when not at a terminal)');
  },
  parse(raw) {
    return { name: nameArg(raw, 0, 'federation'), force: optFlag(raw, 'force'), yes: optFlag(raw, 'yes') };
  },
  async run(input, ctx): Promise<DeleteFederationResponse__Output> {
    if (!input.yes) {
      const retry = `tributary federation delete ${input.name}${input.force ? ' --force' : ''} --yes`;
      if (!ctx.interactive) throw new UsageError(`deleting federation "${input.name}" needs a confirmation, and nobody can be asked here`, `Run \`${retry}\` to confirm.`);
      const question = `Delete federation "${input.name}"${input.force ? ', stopping its running run,' : ''}? Its name cannot be used again.`;
      if (!(await ctx.confirm(question))) throw new UsageError(`federation "${input.name}" was not deleted`, `Run \`${retry}\` to delete it without asking.`);
    }
    return (await ctx.admin()).deleteFederation({ name: input.name, force: input.force });
  },
  render(r) {
    return [
      `Deleted federation "${r.name}".`,
      ...(r.stoppedRunId === '' ? [] : [`Stopped run ${r.stoppedRunId} first.`]),
      ...(r.formerSites.length === 0 ? [] : [`Sites no longer members: ${list(r.formerSites)}.`]),
      'Its runs, model versions and audit entries stay for the record; its tracking experiment is marked deleted.',
    ].join('\n');
  },
});
