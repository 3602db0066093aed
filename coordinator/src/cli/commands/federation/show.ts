import type { Federation__Output, FederationSettings__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { nameArg } from '../../input.js';
import { enumLabel, fields, formatTime, list, plural, table } from '../../render.js';

export default defineCommand({
  path: ['federation', 'show'],
  summary: "Show a federation: settings, model spec, member sites",
  args: [['<name>', 'federation name']],
  connects: true,
  parse(raw) {
    return { name: nameArg(raw, 0, 'federation') };
  },
  async run(input, ctx): Promise<Federation__Output> {
    return (await ctx.admin()).getFederation(input.name);
  },
  render(f) {
    const s = f.settings;
    const tensors = f.modelSpec?.tensors ?? [];
    return [
      fields([
        ['name', f.name],
        ['description', f.description === '' ? undefined : f.description],
        ['created', formatTime(f.createdAtMs)],
        ['latest version', String(f.latestVersion)],
        ['sites', list(f.sites.map((s) => (f.revokedSites.includes(s) ? `${s} (revoked)` : s)))],
        ['strategy', s === null ? undefined : `${s.strategy || 'fedavg'}${strategyOptions(s)}`],
        ['rounds', s === null ? undefined : String(s.rounds)],
        ['min sites', s === null ? undefined : String(s.minSites)],
        ['sampling', s === null ? undefined : sampling(s)],
        ['round deadline', s === null ? undefined : `${s.roundDeadlineSeconds}s`],
        ['wait after quorum', s === null || !s.waitAfterQuorumSeconds ? undefined : `${s.waitAfterQuorumSeconds}s`],
        ['on round failure', s === null ? undefined : enumLabel(s.onRoundFailure, 'ROUND_FAILURE_POLICY_')],
        ['on site error', s === null ? undefined : s.onSiteError || 'ignore'],
        ['site idle timeout', s === null || !s.siteIdleTimeoutSeconds ? undefined : `${s.siteIdleTimeoutSeconds}s`],
        ['heartbeat interval', s === null || !s.heartbeatIntervalSeconds ? undefined : `${s.heartbeatIntervalSeconds}s`],
        ['upload grace', s === null || !s.uploadGraceSeconds ? undefined : `${s.uploadGraceSeconds}s`],
        ['run timeout', s === null || !s.runTimeoutSeconds ? undefined : `${s.runTimeoutSeconds}s`],
        ['norm bound', s === null || s.normBound === 0 ? undefined : String(s.normBound)],
        ['max examples', s === null || s.maxExamples === 0 ? undefined : String(s.maxExamples)],
        ['keep versions', s === null || s.keepVersions === 0 ? undefined : String(s.keepVersions)],
      ]),
      '',
      `Model spec (${plural(tensors.length, 'tensor')}):`,
      table(
        ['TENSOR', 'DTYPE', 'SHAPE'],
        tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`]),
      ).replace(/^/gm, '  '),
    ].join('\n');
  },
});

/** `fedavg, 3 rounds, min 1 site, deadline 300s`. */
export function settingsSummary(s: FederationSettings__Output | null): string {
  if (s === null) return 'default settings';
  return `${s.strategy || 'fedavg'}, ${plural(s.rounds, 'round')}, min ${plural(s.minSites, 'site')}, ${sampling(s)}, deadline ${s.roundDeadlineSeconds}s`;
}

function sampling(s: FederationSettings__Output): string {
  if (s.sampleCount > 0) return `${s.sampleCount} sites a round`;
  if (s.sampleFraction > 0 && s.sampleFraction < 1) return `${s.sampleFraction * 100}% of sites a round`;
  return 'all sites';
}

function strategyOptions(s: FederationSettings__Output): string {
  const entries = Object.entries(s.strategyOptions);
  return entries.length === 0 ? '' : ` (${entries.map(([k, v]) => `${k}=${v}`).join(', ')})`;
}
