import type { ReasonCode, UpdateManifest__Output, UpdateSummary__Output } from '@tributary/proto';
import type { StateWrite, UpdateRecord } from '../state/index.js';

/** What the round, the model version's lineage and the tracking store keep of an accepted manifest. */
export function summaryOf(manifest: UpdateManifest__Output, at: number): UpdateSummary__Output {
  const evaluation = manifest.taskKind === 'evaluate';
  return {
    site: manifest.site,
    updateId: manifest.updateId,
    numExamples: manifest.numExamples,
    payloadSha256: evaluation ? '' : manifest.payloadSha256,
    payloadSize: evaluation ? 0 : manifest.payloadSize,
    metrics: Object.fromEntries(Object.entries(manifest.metrics).filter(([, v]) => Number.isFinite(v))),
    acceptedAtMs: at,
    flavor: evaluation ? '' : manifest.flavor || 'tensors',
    datasets: manifest.datasets,
    context: { ...manifest.context },
  };
}

/** The update id's record once accepted: its presence makes a replay detectable. */
export function acceptedRecord(manifest: UpdateManifest__Output, summary: UpdateSummary__Output, manifestSeq: number | undefined): StateWrite {
  return {
    kind: 'update',
    value: {
      updateId: manifest.updateId,
      federation: manifest.federation,
      runId: manifest.runId,
      round: manifest.round,
      site: manifest.site,
      state: 'ACCEPTED',
      reason: '',
      message: '',
      atMs: summary.acceptedAtMs,
      summary,
      ...(manifestSeq === undefined ? {} : { manifestSeq }),
    },
  };
}

/** The update id's record once refused. */
export function refusedRecord(manifest: UpdateManifest__Output, reason: ReasonCode, message: string, at: number, manifestSeq: number | undefined): UpdateRecord {
  return {
    updateId: manifest.updateId,
    federation: manifest.federation,
    runId: manifest.runId,
    round: manifest.round,
    site: manifest.site,
    state: 'REFUSED',
    reason,
    message,
    atMs: at,
    ...(manifestSeq === undefined ? {} : { manifestSeq }),
  };
}
