/**
 * Tributary's site SDK: a partner site watches its tasks, trains on its own data, and publishes
 * signed model updates. The data never leaves the site.
 *
 * ```ts
 * import { SiteClient, fromFloat64, toFloat64 } from '@tributary/client-sdk';
 *
 * const client = await SiteClient.connect({
 *   coordinator: 'coordinator.example.org:7400',
 *   nats: 'nats://coordinator.example.org:4222',
 *   key: './site.key', // written by `tributary-site keygen` or writeKeyFile, mode 0600
 * });
 * const stop = new AbortController();
 * process.once('SIGINT', () => stop.abort());
 *
 * const summary = await client.participate('churn', async (task) => {
 *   // task.model is the global model (digest-checked); task.signal aborts at the round's deadline.
 *   const weights = { ...task.model };
 *   for (const [name, t] of Object.entries(task.model)) {
 *     const values = toFloat64(t);
 *     for (let epoch = 0; epoch < 3 && !task.signal.aborted; epoch++) {
 *       for (let i = 0; i < values.length; i++) values[i] = (values[i] ?? 0) * 0.99; // your training step
 *       task.log({ loss: 1 / (epoch + 1) }, epoch);    // streamed to the coordinator, signed
 *     }
 *     weights[name] = fromFloat64(t.dtype, t.shape, values);
 *   }
 *   return { weights, numExamples: 1_000 };            // checked locally, then signed and sent
 * }, {
 *   signal: stop.signal,
 *   // An acceptance names the payload digest and size the coordinator verified: keep them as a record.
 *   onVerdict: (v) => console.log(v.accepted ? `round ${v.round} accepted, sha256 ${v.payloadSha256}` : `refused: ${v.reason} ${v.message}`),
 * });
 *
 * // Resolves when the run ends: summary.end is { how: 'run-ended', run: { status: 'FINISHED', ... } }.
 * console.log(summary); // { tasks, accepted, refused, failed, end }
 * await client.close();
 * ```
 *
 * For finer control, iterate `client.tasks(federation)` and call `client.submit(task, result)`.
 * To test a `train` callback against a real local coordinator, see `@tributary/client-sdk/testing`.
 *
 * @module
 */
export { SiteClient } from './site-client.js';
export { compileSiteClientOptions, DEFAULT_VERDICT_TIMEOUT_MS } from './options.js';
export type { CompiledSiteClientOptions, SiteClientOptions, SiteRetryOptions } from './options.js';
export type { SiteLogger } from './logging.js';
export type { ParticipateOptions, TrainOutcome } from './participate.js';
export type { EvaluateFn, EvaluationResult } from './evaluation.js';
export type { DatasetDescriptor, ParticipationEnd, ParticipationSummary, RunEnd, SiteTask, TrainFn, TrainResult, UpdateVerdict } from './types.js';
export type { PayloadTrainResult, TensorTrainResult } from './types.js';
export { EnsembleModel } from './ensemble-model.js';
export { PYTHON_HELPER_DIR } from './python-helper.js';
export type { EnsemblePredictOptions, EnsemblePrediction, MemberPredict } from './ensemble-model.js';
// The tensor helpers a training callback needs, so a site imports one package.
export { decodeSafetensors, encodeSafetensors, fromBigInt64, fromFloat32, fromFloat64, tensor, toBigInt64, toFloat32, toFloat64 } from '@tributary/proto';
export type { DType, Tensor, TensorMap } from '@tributary/proto';
// A site's key: make it, write it (mode 0600), read it, without the coordinator's package.
export { formatPublicKey, generateSigningKey, readKeyFile, writeKeyFile } from '@tributary/proto';
export type { SigningKey } from '@tributary/proto';
// Errors: every failure is a TributaryError with a gRPC `code` and a `reason` to act on.
export { Reason, TributaryError, hasReason, isTributaryError } from '@tributary/proto';
export type { ReasonCode } from '@tributary/proto';
