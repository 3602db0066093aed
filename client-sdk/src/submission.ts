import { encodeEnvelope, encodeManifest, newUpdateId, signEnvelope, subjects } from '@tributary/proto';
import type { UpdateManifest } from '@tributary/proto';
import { publishDurably } from './jetstream.js';
import type { SiteSession } from './session.js';
import type { SiteTask, TrainResult, UpdateVerdict } from './types.js';
import { encodeUpdate, publishPayload } from './update-payload.js';
import { VerdictWatch } from './verdict.js';
import { ActiveSiteTask } from './site-task.js';
import { describeDatasets } from './lineage.js';

/**
 * Sends one update and waits for its verdict: local checks and encoding, payload chunks (all
 * acked), then the signed manifest (msgID = update id), with the verdict subscription opened
 * before the manifest. A refusal is a verdict, not an error.
 */
export async function submitUpdate(
  session: SiteSession,
  task: SiteTask,
  result: TrainResult,
  signal: AbortSignal,
): Promise<UpdateVerdict> {
  const { site, logger } = session;
  const { federation, runId, round } = task;
  const update = encodeUpdate(task, result);
  const updateId = newUpdateId();
  const where = { federation, runId, round, updateId };
  const started = Date.now();
  // The verdict subscription is opened (a round trip to the server) while the chunks go out,
  // not after them: it only has to exist before the manifest does.
  const watching = VerdictWatch.open(session, federation, updateId, subjects.verdict(federation, site));
  let payload;
  try {
    payload = await publishPayload(session, federation, updateId, update.payload, signal, {
      ...uploadDeadline(task),
      onProgress: (bytes) => {
        if (task instanceof ActiveSiteTask) task.uploading(bytes);
      },
    });
  } catch (err) {
    (await watching).close();
    throw err;
  }
  logger.debug({ ...where, bytes: payload.size, chunks: payload.chunkCount, ms: Date.now() - started }, 'update payload published');

  const manifest: UpdateManifest & { updateId: string } = {
    federation,
    runId,
    round,
    site,
    updateId,
    createdAtMs: Date.now(),
    numExamples: update.numExamples,
    metrics: update.metrics,
    datasets: describeDatasets(result.datasets),
    context: { ...(result.context ?? {}) },
    payloadSize: payload.size,
    payloadSha256: payload.sha256,
    chunkCount: payload.chunkCount,
    chunkSize: payload.chunkSize,
    tensors: update.tensors,
    flavor: update.flavor,
    baseVersion: task.modelVersion,
  };
  return publishManifest(session, task, manifest, signal, { bytes: payload.size, started, watch: await watching });
}

/**
 * The task's deadline, stretched by the round's upload grace, bounds its upload's retries (a task
 * without a deadline has 0).
 */
function uploadDeadline(task: SiteTask): { deadlineAtMs?: number } {
  return task.deadlineAtMs > 0 ? { deadlineAtMs: task.deadlineAtMs + (task.uploadGraceMs ?? 0) } : {};
}

/**
 * Signs and publishes a manifest (msgID = update id) with the verdict subscription opened
 * first, then waits for the verdict. A refusal is a verdict, not an error.
 */
export async function publishManifest(
  session: SiteSession,
  task: SiteTask,
  manifest: UpdateManifest & { updateId: string },
  signal: AbortSignal,
  progress: { bytes: number; started: number; watch?: VerdictWatch },
): Promise<UpdateVerdict> {
  const { site, key, js, logger, options } = session;
  const { federation, runId, round } = task;
  const { updateId } = manifest;
  const where = { federation, runId, round, updateId, kind: manifest.taskKind || 'train' };
  const upload = uploadDeadline(task);
  // Taken over when the caller opened it already (closed here either way).
  const watch = progress.watch ?? (await VerdictWatch.open(session, federation, updateId, subjects.verdict(federation, site)));
  try {
    const envelope = encodeEnvelope(signEnvelope('update', encodeManifest(manifest), key, options.signer));
    await publishDurably(
      js,
      { subject: subjects.update(federation, runId, round, site), data: envelope, msgID: updateId },
      { policy: options.retry, maxAttempts: options.retry.maxAttempts, signal, logger, ...upload },
    );
    logger.info({ ...where, bytes: progress.bytes, ms: Date.now() - progress.started }, 'update published; awaiting verdict');
    const status = await watch.wait({ signal, deadlineAtMs: upload.deadlineAtMs ?? task.deadlineAtMs });
    const verdict: UpdateVerdict = {
      updateId,
      accepted: status.state === 'UPDATE_STATE_ACCEPTED',
      reason: status.reason,
      message: status.message,
      round: status.round === 0 ? round : status.round,
      runId: status.runId === '' ? runId : status.runId,
      payloadSha256: status.payloadSha256,
      payloadSize: status.payloadSize,
    };
    if (verdict.accepted) logger.info({ ...where, ms: Date.now() - progress.started }, 'update accepted');
    else logger.warn({ ...where, reason: verdict.reason, message: verdict.message }, 'update refused');
    return verdict;
  } finally {
    watch.close();
  }
}
