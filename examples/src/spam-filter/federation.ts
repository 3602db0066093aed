// Runs the spam filter three ways on one local stack (nats-server in operator mode and a
// coordinator, both on this machine): each mail provider alone, fedavg over all of them, and an
// ensemble of different models, one per provider. Every run is scored on the same test set.
import { EnsembleModel, SiteClient, type SiteTask, type TrainResult } from '@tributary/client-sdk';
import { decodeSafetensors, encodeSafetensors, generateSigningKey, type EnsembleMember, type SigningKey } from '@tributary/proto';
import { followRun, runCleanup, startLocalStack, type CleanupSteps, type LocalStack } from '../shared/local-stack.js';
import { groupCounts, loadCorpus, splitSpamAssassin, type Email, type MailSite, type SplitOptions } from './data.js';
import { featurize, type HashingSpec, type SparseDataset } from './features.js';
import {
  NAIVE_BAYES_FLAVOR,
  decodeNaiveBayes,
  encodeNaiveBayes,
  initLogistic,
  logisticFromTensors,
  logisticProbabilities,
  logisticToTensors,
  naiveBayesProbabilities,
  score,
  trainLogistic,
  trainNaiveBayes,
  type Scores,
} from './model.js';

/** The hashing the federated (averaged) model uses: 2^18 float32 weights, a 1 MB update. */
export const FEDAVG_HASHING: HashingSpec = { bits: 18, seed: 1 };

/** What each provider trains for the ensemble: three different models. */
const ENSEMBLE_MEMBERS: Readonly<Record<string, { kind: 'logistic' | 'naive-bayes'; hashing: HashingSpec }>> = {
  'mail-classic': { kind: 'logistic', hashing: { bits: 18, seed: 11 } },
  'mail-hardham': { kind: 'logistic', hashing: { bits: 16, seed: 23 } },
  'mail-fresh': { kind: 'naive-bayes', hashing: { bits: 16, seed: 37 } },
};

export interface SpamFilterOptions {
  split?: SplitOptions;
  /** Rounds of the fedavg run. @default 5 */
  rounds?: number;
  /** SGD epochs a site runs per round (the local-only models run rounds × this). @default 2 */
  epochsPerRound?: number;
  /** @default 0.5 */
  learningRate?: number;
  /** Seconds a round may last. @default 120 */
  roundDeadlineSeconds?: number;
  /** The whole thing is aborted after this long. @default 10 minutes */
  timeoutMs?: number;
  signal?: AbortSignal;
  progress?: SpamFilterProgress;
}

/** Hooks for a progress display; all optional. */
export interface SpamFilterProgress {
  phase?(name: string, rounds: number, uploads: number): void;
  roundCommitted?(round: number): void;
  updateAccepted?(site: string, bytes: number): void;
}

export interface ComparisonRow {
  name: string;
  scores: Scores;
  /** Federation rounds (0 for a site alone). */
  rounds: number;
  seconds: number;
  /** Model bytes over the network: task downloads plus update uploads (0 for a site alone). */
  bytesMoved: number;
}

export interface SpamFilterReport {
  sites: readonly { name: string; emails: number; groups: number[] }[];
  testEmails: number;
  testGroups: number[];
  rows: ComparisonRow[];
  fedavgStatus: string;
  ensembleStatus: string;
  ensembleMembers: readonly { site: string; flavor: string; weight: number }[];
}

export async function runSpamFilter(opts: SpamFilterOptions = {}): Promise<SpamFilterReport> {
  const rounds = opts.rounds ?? 5;
  const epochs = opts.epochsPerRound ?? 2;
  const learningRate = opts.learningRate ?? 0.5;
  const split = splitSpamAssassin(loadCorpus(), opts.split);
  const testByHashing = new Map<string, SparseDataset>();
  const testSet = (spec: HashingSpec): SparseDataset => {
    const key = `${spec.bits}/${spec.seed}`;
    let data = testByHashing.get(key);
    if (data === undefined) testByHashing.set(key, (data = featurize(split.test, spec)));
    return data;
  };
  const test = testSet(FEDAVG_HASHING);
  const sites = split.sites.map((site) => ({ site, train: featurize(site.emails, FEDAVG_HASHING) }));
  const rows: ComparisonRow[] = [];

  // 1. Each provider alone, as many epochs as the federation runs in total.
  for (const { site, train } of sites) {
    const started = Date.now();
    const model = initLogistic(FEDAVG_HASHING);
    trainLogistic(model, train, { epochs: rounds * epochs, learningRate, seed: 1 });
    rows.push({ name: `${site.name} alone`, scores: score(logisticProbabilities(model, test), test.labels), rounds: 0, seconds: (Date.now() - started) / 1000, bytesMoved: 0 });
  }

  const stack = await SpamFederations.start(split.sites.map((s) => s.name), opts);
  try {
    const initial = encodeSafetensors(logisticToTensors(initLogistic(FEDAVG_HASHING)));

    // 2. FedAvg: every provider trains the same logistic regression from the global model.
    const trainFedavg = (train: SparseDataset) => async (task: SiteTask): Promise<TrainResult> => {
      const model = logisticFromTensors(task.model);
      const loss = trainLogistic(model, train, { epochs, learningRate, seed: task.round });
      task.log({ loss });
      return { weights: logisticToTensors(model), numExamples: train.size, metrics: { loss } };
    };
    opts.progress?.phase?.('fedavg', rounds, rounds * sites.length);
    const fedavg = await stack.run(
      { name: 'spam-fedavg', strategy: 'fedavg', rounds, initial },
      new Map(sites.map(({ site, train }) => [site.name, trainFedavg(train)])),
    );
    const federated = logisticFromTensors(decodeSafetensors(await stack.download('spam-fedavg')).tensors);
    rows.push({ name: `fedavg (${split.sites.length} sites)`, scores: score(logisticProbabilities(federated, test), test.labels), rounds: fedavg.rounds, seconds: fedavg.seconds, bytesMoved: fedavg.bytesMoved });

    // 3. Ensemble: one round, each provider sends a different model; the SDK combines them.
    opts.progress?.phase?.('ensemble', 1, sites.length);
    const ensemble = await stack.run(
      { name: 'spam-ensemble', strategy: 'ensemble', rounds: 1, initial, strategyOptions: { weight_by: 'metric:validation_f1', combine: 'mean' } },
      new Map(split.sites.map((site) => [site.name, trainEnsembleMember(site, rounds * epochs, learningRate)])),
    );
    const members = EnsembleModel.decode(await stack.download('spam-ensemble'));
    const { scores: combined } = members.predict(split.test, (member, emails) => memberProbabilities(member, emails, testSet));
    const spamProbabilities = Float64Array.from(combined, (row) => row[1]!);
    rows.push({ name: `ensemble (${members.members.length} models)`, scores: score(spamProbabilities, test.labels), rounds: ensemble.rounds, seconds: ensemble.seconds, bytesMoved: ensemble.bytesMoved });

    return {
      sites: split.sites.map((s) => ({ name: s.name, emails: s.emails.length, groups: groupCounts(s.emails) })),
      testEmails: split.test.length,
      testGroups: groupCounts(split.test),
      rows,
      fedavgStatus: fedavg.status,
      ensembleStatus: ensemble.status,
      ensembleMembers: members.members.map((m) => ({ site: m.site, flavor: m.flavor, weight: m.weight })),
    };
  } finally {
    await stack.close();
  }
}

/**
 * A provider's ensemble member: its own model kind and hashing, trained on 80% of its emails;
 * the other 20% give the F1 the ensemble weighs it by.
 */
function trainEnsembleMember(site: MailSite, epochs: number, learningRate: number) {
  const member = ENSEMBLE_MEMBERS[site.name];
  if (member === undefined) throw new Error(`no ensemble member configured for site "${site.name}"`);
  const cut = Math.floor(site.emails.length * 0.8);
  const train = featurize(site.emails.slice(0, cut), member.hashing);
  const validation = featurize(site.emails.slice(cut), member.hashing);
  return async (): Promise<TrainResult> => {
    if (member.kind === 'naive-bayes') {
      const model = trainNaiveBayes(member.hashing, train);
      const metrics = { validation_f1: score(naiveBayesProbabilities(model, validation), validation.labels).f1 };
      return { payload: { flavor: NAIVE_BAYES_FLAVOR, bytes: encodeNaiveBayes(model) }, numExamples: train.size, metrics };
    }
    const model = initLogistic(member.hashing);
    trainLogistic(model, train, { epochs, learningRate, seed: 1 });
    const metrics = { validation_f1: score(logisticProbabilities(model, validation), validation.labels).f1 };
    return { weights: logisticToTensors(model), numExamples: train.size, metrics };
  };
}

/** [P(ham), P(spam)] per email from one ensemble member, featurised its own way. */
function memberProbabilities(member: EnsembleMember, emails: readonly Email[], testSet: (spec: HashingSpec) => SparseDataset): number[][] {
  let p: Float64Array;
  if (member.flavor === NAIVE_BAYES_FLAVOR && member.bytes !== undefined) {
    const model = decodeNaiveBayes(member.bytes);
    p = naiveBayesProbabilities(model, testSet(model.spec));
  } else if (member.tensors !== undefined) {
    const model = logisticFromTensors(member.tensors);
    p = logisticProbabilities(model, testSet(model.spec));
  } else {
    throw new Error(`member ${member.index} has flavor "${member.flavor}", which this example cannot run`);
  }
  if (p.length !== emails.length) throw new Error(`member ${member.index} scored ${p.length} emails, expected ${emails.length}`);
  return Array.from(p, (spam) => [1 - spam, spam]);
}

interface FederationRun {
  name: string;
  strategy: string;
  rounds: number;
  initial: Uint8Array;
  strategyOptions?: Record<string, string>;
}

interface RunOutcome {
  status: string;
  rounds: number;
  seconds: number;
  bytesMoved: number;
}

/** The local stack, the providers' keys, and one federation run after another on them. */
class SpamFederations {
  private constructor(
    private readonly cleanup: CleanupSteps,
    private readonly stack: LocalStack,
    private readonly keys: ReadonlyMap<string, SigningKey>,
    private readonly opts: SpamFilterOptions,
  ) {}

  static async start(siteNames: readonly string[], opts: SpamFilterOptions): Promise<SpamFederations> {
    const cleanup: CleanupSteps = [];
    try {
      const stack = await startLocalStack(cleanup, { name: 'spam-filter' });
      const keys = new Map(siteNames.map((name) => [name, generateSigningKey(name)]));
      return new SpamFederations(cleanup, stack, keys, opts);
    } catch (err) {
      await runCleanup(cleanup);
      throw err;
    }
  }

  /** Creates the federation, adds every site, runs it to its end with each site's `train`. */
  async run(fed: FederationRun, trainers: ReadonlyMap<string, (task: SiteTask) => Promise<TrainResult>>): Promise<RunOutcome> {
    await this.stack.admin.createFederation({
      name: fed.name,
      description: 'SpamAssassin public corpus: ham or spam from hashed words and bigrams',
      settings: {
        strategy: fed.strategy,
        strategyOptions: fed.strategyOptions ?? {},
        rounds: fed.rounds,
        minSites: trainers.size,
        roundDeadlineSeconds: this.opts.roundDeadlineSeconds ?? 120,
      },
      initialModel: fed.initial,
    });
    for (const name of trainers.keys()) {
      const key = this.keys.get(name);
      if (key === undefined) throw new Error(`unknown site "${name}"`);
      await this.stack.admin.addSite({ name, publicKey: key.publicKey, federations: [fed.name] });
    }
    const watch = new AbortController();
    const timeoutMs = this.opts.timeoutMs ?? 10 * 60_000;
    const timeout = setTimeout(() => watch.abort(new Error(`the ${fed.name} run did not end within ${timeoutMs / 1000} s`)), timeoutMs);
    const onAbort = (): void => watch.abort(this.opts.signal?.reason);
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    // One stop signal per site: the SDK listens on it once per task.
    const stops: AbortController[] = [];
    const clients: SiteClient[] = [];
    const started = Date.now();
    try {
      const run = await this.stack.admin.startRun(fed.name);
      let rounds = 0;
      let bytesMoved = 0;
      // The watch is open (its SNAPSHOT received) before any site starts, so no accepted update
      // happens before it and goes uncounted.
      let watching = (): void => {};
      const opened = new Promise<void>((resolve) => (watching = resolve));
      const following = followRun(this.stack.admin, run.id, watch.signal, (event) => {
        if (event.type === 'SNAPSHOT') watching();
        else if (event.type === 'UPDATE_ACCEPTED' && event.update) {
          const bytes = Number(event.update.payloadSize);
          bytesMoved += bytes;
          this.opts.progress?.updateAccepted?.(event.update.site, bytes);
        } else if (event.type === 'ROUND_COMMITTED' && event.round) {
          rounds++;
          // Every selected site downloaded the round's base model.
          bytesMoved += event.round.selectedSites.length * fed.initial.length;
          this.opts.progress?.roundCommitted?.(event.round.number);
        }
      });
      // Settled below; until then a failed watch stops the start-up through the race.
      following.catch(() => {});
      await Promise.race([opened, following]);
      const participating: Promise<unknown>[] = [];
      for (const [name, train] of trainers) {
        const client = await SiteClient.connect({ coordinator: this.stack.coordinator.address, nats: this.stack.nats.url, key: this.keys.get(name)! });
        clients.push(client);
        const stop = new AbortController();
        stops.push(stop);
        participating.push(client.participate(fed.name, train, { signal: stop.signal }).catch((err: unknown) => watch.abort(err)));
      }
      const ended = await following;
      for (const stop of stops) stop.abort();
      await Promise.all(participating);
      return { status: ended.status, rounds, seconds: (Date.now() - started) / 1000, bytesMoved };
    } finally {
      for (const stop of stops) stop.abort();
      // A start-up that failed leaves no watch open behind it.
      watch.abort(new Error(`the ${fed.name} run is over`));
      clearTimeout(timeout);
      this.opts.signal?.removeEventListener('abort', onAbort);
      await runCleanup(clients.map((c) => () => c.close()));
    }
  }

  /** The latest committed model version's bytes, digest-checked. */
  async download(federation: string): Promise<Uint8Array> {
    return (await this.stack.admin.downloadModel(federation)).bytes;
  }

  close(): Promise<void> {
    return runCleanup(this.cleanup);
  }
}
