import type { Invitation__Output, Round__Output, Run__Output, Site__Output } from '@tributary/proto';
import { enumLabel, formatAgo, formatElapsed, formatTime, list, plural, table } from './render.js';

/** `RUNNING`, `FINISHED`... */
export function runStatus(run: Run__Output): string {
  return enumLabel(run.status, 'RUN_STATUS_');
}

/** `OPEN`, `COMMITTED`... */
export function roundState(round: Round__Output): string {
  return enumLabel(round.state, 'ROUND_STATE_');
}

/** `APPROVED`, `REVOKED`, or `REMOVED` for a revoked site taken out of its federations. */
export function siteStatus(site: Site__Output): string {
  return site.removedAtMs > 0 ? 'REMOVED' : enumLabel(site.status, 'SITE_STATUS_');
}

/** Pending invitations, without tokens: what `site uninvite` takes is the ID. */
export function invitationsTable(invitations: readonly Invitation__Output[]): string {
  return table(
    ['ID', 'SITE', 'FEDERATIONS', 'EXPIRES', 'BY'],
    invitations.map((i) => [i.id, i.siteName === '' ? '(any)' : i.siteName, list(i.federations), formatTime(i.expiresAtMs), i.mintedBy === '' ? '-' : i.mintedBy]),
  );
}

/** How long a run has taken so far (or took). */
export function runElapsedMs(run: Run__Output, nowMs = Date.now()): number {
  if (run.startedAtMs <= 0) return 0;
  return (run.endedAtMs > 0 ? run.endedAtMs : nowMs) - run.startedAtMs;
}

export function sitesTable(sites: readonly Site__Output[]): string {
  return table(
    ['NAME', 'STATUS', 'KEY ID', 'FEDERATIONS', 'ADDED', 'LAST SEEN', 'CONNECTED'],
    sites.map((s) => [s.name, siteStatus(s), s.keyId, list(s.federations), formatTime(s.createdAtMs), formatAgo(s.lastSeenAtMs), s.connected ? 'yes' : 'no']),
  );
}

export function runsTable(runs: readonly Run__Output[]): string {
  return table(
    ['RUN', 'FEDERATION', 'STATUS', 'ROUND', 'STARTED', 'ELAPSED', 'VERSION'],
    runs.map((r) => [
      r.id,
      r.federation,
      runStatus(r),
      `${r.currentRound}/${r.rounds}`,
      formatTime(r.startedAtMs),
      formatElapsed(runElapsedMs(r)),
      String(r.latestVersion),
    ]),
  );
}

/** One line about how a run ended (or stands). */
export function runSummary(run: Run__Output): string {
  const status = runStatus(run);
  const rounds = `round ${run.currentRound}/${run.rounds}`;
  const elapsed = formatElapsed(runElapsedMs(run));
  switch (run.status) {
    case 'RUN_STATUS_FINISHED':
      return `Run ${run.id} FINISHED: ${plural(run.rounds, 'round')} in ${elapsed}; model version ${run.latestVersion}.`;
    case 'RUN_STATUS_RUNNING':
      return `Run ${run.id} is RUNNING: ${rounds}, ${elapsed} so far; model version ${run.latestVersion}.`;
    default:
      return `Run ${run.id} ${status} at ${rounds} after ${elapsed}${run.failureReason === '' ? '' : `: ${run.failureReason}`}; model version ${run.latestVersion}.`;
  }
}
