import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Reason, TributaryError } from '@tributary/proto';
import { defineCommand, Running } from '../command.js';
import { optInteger, optString } from '../input.js';
import { untilAborted } from '../signals.js';

export interface AggregatorResult {
  /** The worker's principal name. */
  readonly worker: string;
  readonly keyId: string;
  readonly nats: readonly string[];
  /** When its NATS user expires (renewed at two thirds of its lifetime); 0 when NATS authentication is managed elsewhere. */
  readonly expiresAtMs: number;
}

export interface AggregatorInput {
  readonly nats: string | undefined;
  readonly stagingDir: string | undefined;
  readonly concurrency: number | undefined;
}

export default defineCommand({
  path: ['aggregator'],
  summary: 'Run an aggregation worker: fold a share of each FedAvg round into a partial for the coordinator (--key: a principal in the group "aggregators")',
  handlesInterrupt: true,
  connects: true,
  options(cmd) {
    cmd
      .option('--nats <urls>', "NATS URL(s), comma-separated (default: the coordinator's advertised URLs)")
      .option('--staging-dir <dir>', 'where payloads larger than one chunk are staged while checked (default: a directory under the system temp dir)')
      .option('--concurrency <n>', 'fold jobs read at the same time (default 2)');
  },
  parse(raw): AggregatorInput {
    return { nats: optString(raw, 'nats'), stagingDir: optString(raw, 'stagingDir'), concurrency: optInteger(raw, 'concurrency', '--concurrency', 1, 64) };
  },
  async run(input, ctx) {
    const admin = await ctx.admin();
    const config = ctx.clientConfig();
    // Loaded on demand: the worker is server code (NATS, the fold kernels).
    const [{ AggregationWorker }, { createLogger }, { readKeyFile, decodeSafetensors }, nats, { createUser }] = await Promise.all([
      import('../../aggregation/worker.js'),
      import('../../observability/logger.js'),
      import('@tributary/proto'),
      import('nats'),
      import('@nats-io/nkeys'),
    ]);
    const key = await readKeyFile(config.keyFile);
    // The seed is made here and never leaves this process; the coordinator signs a JWT for its public key.
    const user = createUser();
    let issued = await admin.joinAggregation({ userPublicKey: user.getPublicKey() });
    const servers = input.nats === undefined ? issued.natsUrls : input.nats.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const nc = await nats.connect({
      servers: [...servers],
      name: `tributary-aggregator-${issued.worker}`,
      maxReconnectAttempts: -1,
      ...(issued.jwt === '' ? {} : { authenticator: nats.jwtAuthenticator(() => issued.jwt, user.getSeed()), inboxPrefix: issued.inboxPrefix }),
    });
    // Renewed at two thirds of its lifetime; a reconnect presents the newest.
    let renewal: NodeJS.Timeout | undefined;
    const renew = (): void => {
      if (issued.expiresAtMs === 0) return;
      renewal = setTimeout(() => {
        admin.joinAggregation({ userPublicKey: user.getPublicKey() }).then((next) => (issued = next), () => undefined).finally(renew);
      }, Math.max(1_000, ((issued.expiresAtMs - Date.now()) * 2) / 3));
      renewal.unref();
    };
    renew();
    const logger = createLogger(ctx.logLevel ?? 'info');
    const stagingDir = resolve(ctx.cwd, input.stagingDir ?? join(tmpdir(), `tributary-aggregator-${issued.worker}-${process.pid}`));
    const worker = await AggregationWorker.start({
      nc,
      key,
      worker: issued.worker,
      coordinatorPublicKey: issued.coordinatorPublicKey,
      stagingDir,
      logger,
      ...(input.concurrency === undefined ? {} : { concurrency: input.concurrency }),
      // Rounds with a norm bound measure each update from the model they hand out.
      globalModel: async (federation, version) => decodeSafetensors((await admin.downloadModel(federation, version)).bytes).tensors,
      onProgress: (p) => ctx.progress.update(`folded ${p.folded} update(s), refused ${p.refused}, partials handed back ${p.partialsHandedBack}, held ${p.partialsHeld}`),
    });
    const result: AggregatorResult = { worker: issued.worker, keyId: key.keyId, nats: servers, expiresAtMs: Number(issued.expiresAtMs) };
    return new Running(result, async () => {
      // A connection closed for good ends the worker: NATS refuses its user (revoked when its principal is disabled or re-keyed).
      const lost = await Promise.race([untilAborted(ctx.signal).then(() => undefined), nc.closed().then((err) => err ?? new Error('closed'))]);
      clearTimeout(renewal);
      // Partials still held are dropped: the coordinator re-folds their updates from the payload stream.
      await worker.stop();
      ctx.progress.done();
      if (lost === undefined) await nc.drain().catch(() => nc.close());
      // A directory of its own (no --staging-dir) goes with it.
      if (input.stagingDir === undefined) await rm(stagingDir, { recursive: true, force: true });
      if (lost !== undefined) {
        const refused = lost instanceof nats.NatsError && lost.code === nats.ErrorCode.AuthorizationViolation;
        throw TributaryError.of(
          refused ? Reason.KEY_REVOKED : Reason.NATS_UNAVAILABLE,
          refused
            ? `NATS refuses the user of worker "${issued.worker}": its principal was disabled or re-keyed`
            : `the NATS connection of worker "${issued.worker}" closed: ${lost.message}`,
          { retryable: false, cause: lost },
        );
      }
    });
  },
  render(r) {
    return `Aggregation worker "${r.worker}" (key id ${r.keyId}) taking fold jobs on NATS ${r.nats.join(',')}. Ctrl-C stops it; the coordinator re-folds what it held.`;
  },
});
