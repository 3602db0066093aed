import { Reason, TributaryError } from '../errors.js';
import type { Round__Output } from '../generated/tributary/v1/Round.js';
import type { RunEventDetail } from '../generated/tributary/v1/RunEventDetail.js';
import type { RunEvent__Output } from '../generated/tributary/v1/RunEvent.js';
import type { Run__Output } from '../generated/tributary/v1/Run.js';
import type { WatchRunRequest } from '../generated/tributary/v1/WatchRunRequest.js';
import { totalRefusals } from '../refusal-counts.js';
import { abortError } from './abort.js';
import { Backoff, DEFAULT_BACKOFF_POLICY, sleep, type BackoffPolicy } from './backoff.js';
import type { RpcClient } from './rpc-client.js';

export interface RunWaitOptions {
  readonly signal?: AbortSignal;
  /** Each event as it arrives: a SNAPSHOT first on every (re)connection, RUN_ENDED last. */
  readonly onEvent?: (event: RunEvent__Output) => void;
  /** Watches again after a dropped stream; attempts count only watches without events. @default DEFAULT_BACKOFF_POLICY */
  readonly retry?: BackoffPolicy;
  /**
   * How much of the round update-level events carry (WatchRunRequest.detail). Compact events
   * carry the round's counts (`roundCounts`) without its per-site lists; SNAPSHOT and round
   * transitions always carry the full round. @default 'RUN_EVENT_DETAIL_COMPACT'
   */
  readonly detail?: RunEventDetail;
}

/** The lengths of a round's lists, from the lists or, in a compact event, from its counts. */
export interface RoundCounts {
  readonly selected: number;
  readonly accepted: number;
  /** Refusals, each entry's repeats included. */
  readonly refused: number;
  readonly failedSites: number;
}

/** A round's counts, whether it carries its lists or (compact) only their counts. */
export function roundCounts(round: Round__Output): RoundCounts {
  if (round.listsOmitted) return { selected: round.selectedCount, accepted: round.acceptedCount, refused: round.refusedCount, failedSites: round.failedSiteCount };
  return {
    selected: round.selectedSites.length,
    accepted: round.accepted.length,
    refused: totalRefusals(round.refused),
    failedSites: round.siteFailures.length,
  };
}

/**
 * Follows a run with AdminService `WatchRun` until it ends and returns its final state. A
 * dropped stream is watched again (its new SNAPSHOT tells whether the run ended meanwhile).
 */
export async function waitForRun(rpc: RpcClient, runId: string, opts: RunWaitOptions = {}): Promise<Run__Output> {
  const { signal } = opts;
  const request: WatchRunRequest = { runId, detail: opts.detail ?? 'RUN_EVENT_DETAIL_COMPACT' };
  const backoff = new Backoff({ policy: opts.retry ?? DEFAULT_BACKOFF_POLICY });
  for (;;) {
    let progressed = false;
    let failure: TributaryError;
    try {
      for await (const event of rpc.serverStream<WatchRunRequest, RunEvent__Output>('WatchRun', request, signal === undefined ? {} : { signal })) {
        progressed = true;
        opts.onEvent?.(event);
        if (event.run !== null && (event.type === 'RUN_ENDED' || event.run.status !== 'RUN_STATUS_RUNNING')) return event.run;
      }
      // The stream ended without RUN_ENDED (the server is shutting down): ask again.
      failure = TributaryError.of(Reason.UNAVAILABLE, `the watch of run ${runId} ended before the run did`);
    } catch (err) {
      if (signal?.aborted === true) throw abortError(signal);
      failure = TributaryError.from(err);
    }
    if (progressed) backoff.reset();
    const delayMs = backoff.retryDelay(failure);
    if (delayMs === undefined) throw failure;
    await sleep(delayMs, signal);
  }
}
