import type { Task__Output } from '@tributary/proto';
import type { RoundRecord } from '../state/index.js';
import { settingsOf, type ActiveRun } from './active-run.js';
import { SETTINGS_DEFAULTS } from './settings.js';

/** The training task of an open round, as the selected sites receive it. */
export function trainingTask(active: ActiveRun, round: RoundRecord): Task__Output {
  return {
    federation: round.federation,
    runId: round.runId,
    round: round.number,
    kind: 'train',
    modelVersion: round.baseVersion,
    modelSha256: active.model.sha256,
    modelSize: active.model.size,
    config: { ...round.config },
    deadlineAtMs: round.deadlineAtMs,
    modelSpec: { tensors: active.strategy.heterogeneous ? [] : active.federation.modelSpec },
    runStatus: 'RUN_STATUS_RUNNING',
    runMessage: '',
    // SiteService stamps the advertised NATS URLs on every task it sends.
    natsUrls: [],
    heartbeatIntervalSeconds: heartbeatIntervalOf(active),
    uploadGraceSeconds: settingsOf(active).uploadGraceSeconds,
    announced: false,
  };
}

/** The evaluation task of a committed round's model. */
export function evaluationTask(active: ActiveRun, round: RoundRecord, deadlineAtMs: number): Task__Output {
  return {
    federation: round.federation,
    runId: round.runId,
    round: round.number,
    kind: 'evaluate',
    modelVersion: round.committedVersion,
    modelSha256: active.model.sha256,
    modelSize: active.model.size,
    config: { ...round.config },
    deadlineAtMs,
    modelSpec: { tensors: active.strategy.heterogeneous ? [] : active.federation.modelSpec },
    runStatus: 'RUN_STATUS_RUNNING',
    runMessage: '',
    // SiteService stamps the advertised NATS URLs on every task it sends.
    natsUrls: [],
    heartbeatIntervalSeconds: heartbeatIntervalOf(active),
    uploadGraceSeconds: 0,
    announced: false,
  };
}

/** Seconds between the heartbeats a site sends while it works on a task. */
function heartbeatIntervalOf(active: ActiveRun): number {
  return settingsOf(active).heartbeatIntervalSeconds || SETTINGS_DEFAULTS.heartbeatIntervalSeconds;
}
