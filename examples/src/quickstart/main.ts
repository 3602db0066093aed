// Tributary quickstart: a coordinator, three sites and five rounds of federated averaging on the
// iris flowers, all on this machine. Run it with `npm run demo`.
//
// The parts, in the order they appear below:
//   1. nats-server (data plane, in operator mode: every site gets its own NATS user from the
//      coordinator) and a Coordinator (control plane) with a fresh admin key;
//   2. the admin creates federation "iris" from the initial weights and adds three sites by key;
//   3. the admin starts a run; each site trains on its own rows and publishes signed updates;
//   4. after each committed round we download the global model and score it on held-out rows;
//   5. finally, each site trained alone against the federated model.
import { SiteClient, type SiteTask, type TrainResult } from '@tributary/client-sdk';
import { NATS_SERVER_INSTALL_HINT, NatsServer, type AdminClient } from '@tributary/coordinator';
import { decodeSafetensors, encodeSafetensors, generateSigningKey } from '@tributary/proto';
import { describeError, followRun, runCleanup, startLocalStack, type CleanupSteps } from '../shared/local-stack.js';
import { classCounts, concatDatasets, splitIris, type SiteData } from './data.js';
import { accuracy, fromTensors, initModel, toTensors, train, type SoftmaxModel } from './model.js';

const FEDERATION = 'iris';
const ROUNDS = 5;
const EPOCHS_PER_ROUND = 20;
const LEARNING_RATE = 1;
const RUN_TIMEOUT_MS = 5 * 60_000;

async function main(): Promise<number> {
  if (!NatsServer.available()) {
    console.error(NATS_SERVER_INSTALL_HINT);
    return 1;
  }
  const { sites, test } = splitIris();
  const initial = initModel();

  // Undo steps, run last-in first-out whatever happens.
  const cleanup: CleanupSteps = [];
  // Aborted when a site fails, on Ctrl-C, or when the run takes too long.
  const watch = new AbortController();
  const onInterrupt = (): void => watch.abort(new Error('interrupted'));
  process.once('SIGINT', onInterrupt);
  const timeout = setTimeout(() => watch.abort(new Error(`the run did not end within ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS);
  cleanup.push(() => clearTimeout(timeout), () => process.off('SIGINT', onInterrupt));
  try {
    // 1. Infrastructure.
    // Operator mode: a new NATS authority in a temp dir; the coordinator issues each site a NATS
    // user that may publish only its own updates and metrics (the SDK asks for it by itself).
    const { nats, coordinator, admin } = await startLocalStack(cleanup, { name: 'quickstart' });

    // 2. The federation and its members.
    await admin.createFederation({
      name: FEDERATION,
      description: 'Iris species from four flower measurements (softmax regression)',
      settings: { strategy: 'fedavg', rounds: ROUNDS, minSites: 3, roundDeadlineSeconds: 60 },
      initialModel: encodeSafetensors(toTensors(initial)),
    });
    const members = sites.map((data) => ({ data, key: generateSigningKey(data.name) }));
    for (const { data, key } of members) {
      await admin.addSite({ name: data.name, publicKey: key.publicKey, federations: [FEDERATION] });
    }

    // 3. The run, and the sites taking part in it until we tell them to stop.
    const run = await admin.startRun(FEDERATION);
    console.log(`run ${run.id}: ${ROUNDS} rounds of fedavg over ${members.length} sites\n`);
    const participants = await Promise.all(
      members.map(async ({ data, key }) => {
        const client = await SiteClient.connect({ coordinator: coordinator.address, nats: nats.url, key });
        const stop = new AbortController();
        cleanup.push(() => client.close(), () => stop.abort());
        return { data, client, stop };
      }),
    );
    const participating = participants.map(({ data, client, stop }) =>
      client
        .participate(FEDERATION, trainOn(data), {
          signal: stop.signal,
          onVerdict: (v) => {
            if (!v.accepted) console.log(`${data.name}: round ${v.round} update refused (${v.reason}): ${v.message}`);
          },
        })
        // A site that fails for good ends the demo (a failing train() is only retried next task).
        .catch((err: unknown) => watch.abort(err)),
    );

    // 4. Follow the run; score every committed model version on the held-out rows.
    console.log('round | sites | seconds | global accuracy (held-out) | mean site loss');
    printRow(0, undefined, undefined, accuracy(initial, test), undefined);
    await followRun(admin, run.id, watch.signal, async (event) => {
      const round = event.round;
      if (event.type === 'ROUND_COMMITTED' && round) {
        const model = await downloadModel(admin, round.committedVersion);
        printRow(round.number, round.accepted.length, (round.closedAtMs - round.openedAtMs) / 1000, accuracy(model, test), round.metrics['loss']);
      } else if (event.type === 'ROUND_FAILED' && round) {
        console.log(`round ${round.number} failed: ${round.failureReason}`);
      }
    });
    for (const { stop } of participants) stop.abort();
    await Promise.all(participating);

    // 5. Each site alone (same number of epochs) against the federation's latest model.
    const federated = await downloadModel(admin);
    console.log('\nmodel                    | training rows (setosa/versicolor/virginica) | held-out accuracy');
    for (const site of sites) {
      const alone = train(initial, site, { epochs: ROUNDS * EPOCHS_PER_ROUND, learningRate: LEARNING_RATE });
      printComparison(`${site.name} alone`, classCounts(site).join('/'), accuracy(alone.model, test));
    }
    const allRows = classCounts(concatDatasets(sites)).join('/');
    printComparison(`federated (${ROUNDS} rounds)`, `${allRows}, never pooled`, accuracy(federated, test));
    console.log(`\nfinal accuracy: ${accuracy(federated, test).toFixed(2)}`);
    return 0;
  } finally {
    await runCleanup(cleanup);
  }
}

/** The site's training callback: a few epochs of gradient descent from the global model. */
function trainOn(site: SiteData) {
  return async (task: SiteTask): Promise<TrainResult> => {
    const { model, loss } = train(fromTensors(task.model), site, {
      epochs: EPOCHS_PER_ROUND,
      learningRate: LEARNING_RATE,
      // Streamed to the coordinator as signed metric batches while the site trains.
      onEpoch: (epoch, epochLoss) => task.log({ loss: epochLoss }, (task.round - 1) * EPOCHS_PER_ROUND + epoch),
    });
    return { weights: toTensors(model), numExamples: site.size, metrics: { loss, accuracy: accuracy(model, site) } };
  };
}

/** A committed model version (the latest when omitted), digest-checked by the client. */
async function downloadModel(admin: AdminClient, version?: number): Promise<SoftmaxModel> {
  const { bytes } = await admin.downloadModel(FEDERATION, version);
  return fromTensors(decodeSafetensors(bytes).tensors);
}

function printRow(round: number, sites: number | undefined, seconds: number | undefined, accuracy: number, loss: number | undefined): void {
  const cells = [
    String(round).padStart(5),
    (sites === undefined ? '-' : String(sites)).padStart(5),
    (seconds === undefined ? '-' : seconds.toFixed(2)).padStart(7),
    accuracy.toFixed(2).padStart(26),
    (loss === undefined ? '-' : loss.toFixed(4)).padStart(14),
  ];
  console.log(cells.join(' | '));
}

function printComparison(name: string, rows: string, accuracy: number): void {
  console.log(`${name.padEnd(24)} | ${rows.padEnd(43)} | ${accuracy.toFixed(2)}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`quickstart failed: ${describeError(err)}`);
    process.exit(1);
  },
);
