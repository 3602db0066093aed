// What every example starts on this machine: nats-server in operator mode (the coordinator
// issues each site a NATS user that may publish only its own updates and metrics; the SDK asks
// for it by itself) and a coordinator with a fresh admin key, on the embedded defaults.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, Coordinator, NatsServer } from '@tributary/coordinator';
import { generateSigningKey, isTributaryError, type RunEvent__Output, type Run__Output } from '@tributary/proto';

export interface LocalStack {
  readonly nats: NatsServer;
  readonly coordinator: Coordinator;
  readonly admin: AdminClient;
}

/** Undo steps, run last-in first-out by `runCleanup`. */
export type CleanupSteps = (() => unknown)[];

/** Starts the stack; pushes the steps that stop it onto `cleanup`, even when it fails half-way. */
export async function startLocalStack(cleanup: CleanupSteps, opts: { name: string }): Promise<LocalStack> {
  const nats = await NatsServer.start({ operator: {} });
  cleanup.push(() => nats.stop());
  const dataDir = await mkdtemp(join(tmpdir(), `tributary-${opts.name}-`));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const adminKey = generateSigningKey('admin');
  const coordinator = await Coordinator.start({
    dataDir,
    grpcListen: '127.0.0.1:0',
    nats: nats.url,
    adminKeys: [adminKey.publicKey],
    ...(nats.operator === undefined ? {} : { natsAuthority: nats.operator.authorityDir }),
  });
  cleanup.push(() => coordinator.close());
  const admin = new AdminClient({ address: coordinator.address, key: adminKey });
  cleanup.push(() => admin.close());
  return { nats, coordinator, admin };
}

/**
 * Follows a run to its end, handing every event to `onEvent`; resolves with the finished run.
 * Rejects with the abort reason when `signal` fires (a failing site, a timeout, Ctrl-C), and
 * when the run ends in any other state than finished.
 */
export async function followRun(
  admin: AdminClient,
  runId: string,
  signal: AbortSignal,
  onEvent: (event: RunEvent__Output) => unknown,
): Promise<Run__Output> {
  let ended: Run__Output | undefined;
  try {
    for await (const event of admin.watchRun(runId, { signal })) {
      await onEvent(event);
      if (event.type === 'RUN_ENDED') ended = event.run ?? undefined;
    }
  } catch (err) {
    throw signal.aborted ? signal.reason : err;
  }
  if (signal.aborted) throw signal.reason;
  if (ended?.status !== 'RUN_STATUS_FINISHED') {
    const why = ended === undefined ? 'the watch stream ended early' : `${ended.status}: ${ended.failureReason}`;
    throw new Error(`run ${runId} did not finish (${why})`);
  }
  return ended;
}

/** Runs undo steps last-in first-out, each one whatever the others do; empties the list. */
export async function runCleanup(steps: CleanupSteps): Promise<void> {
  for (const step of steps.splice(0).reverse()) {
    try {
      await step();
    } catch (err) {
      console.error(`cleanup: ${describeError(err)}`);
    }
  }
}

/** An error on one line, with its reason code when it is a TributaryError. */
export function describeError(err: unknown): string {
  const text = isTributaryError(err) ? `${err.reason}: ${err.message}` : err instanceof Error ? err.message : String(err);
  return text.replace(/\s+/g, ' ');
}
