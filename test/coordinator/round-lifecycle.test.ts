import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Reason,
  TributaryError,
  decodeSafetensors,
  encodeSafetensors,
  initialModelOf,
  generateSigningKey,
  newUpdateId,
  sha256Hex,
  tensor,
  tensorSpecsOf,
  type FederationSettings,
  type Refusal,
  type RunEvent__Output,
  type UpdateManifest__Output,
} from '@tributary/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../coordinator/src/federations/catalog.js';
import { silentLogger } from '../../coordinator/src/observability/logger.js';
import { CoordinatorMetrics } from '../../coordinator/src/observability/metrics.js';
import type { Scheduler } from '../../coordinator/src/rounds/active-run.js';
import { RoundEngine } from '../../coordinator/src/rounds/engine.js';
import { RunEventBus, TaskBus } from '../../coordinator/src/rounds/events.js';
import { BlobStore, MemoryStateStore, type RoundRecord, type RunRecord, type StateWrite } from '../../coordinator/src/state/index.js';
import {
  FedAvgAggregator,
  FedAvgStrategy,
  builtinStrategies,
  type Aggregator,
  type RoundContext,
  type SiteConfigContext,
  type Strategy,
  type StrategyRegistry,
} from '../../coordinator/src/strategies/index.js';
import { inspectStagedPayload, type FoldPolicy } from '../../coordinator/src/updates/foldable-update.js';
import { VerifiedUpdate } from '../../coordinator/src/updates/verified-update.js';
import { storedBlobs, unnamedBlobs } from '../helpers/blob-liveness.js';
import { siteWrite } from '../helpers/data-plane.js';
import { prng } from '../helpers/random.js';

const DEADLINE_S = 60;

/**
 * The engine's clock: time moves only when a test moves it, and deadlines armed on it fire only
 * when a test runs them, as a late timer would.
 */
class TestClock {
  private at = 1_700_000_000_000;
  private timers: Array<{ atMs: number; fire: () => void }> = [];

  readonly now = (): number => this.at;

  readonly schedule: Scheduler = (atMs, fire) => {
    const timer = { atMs, fire };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  };

  /** Deadlines armed and not yet run or cancelled. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time on without running the deadlines now due. */
  tick(ms: number): void {
    this.at += ms;
  }

  /** Runs the deadlines that are due. */
  runDue(): void {
    const due = this.timers.filter((t) => t.atMs <= this.at);
    this.timers = this.timers.filter((t) => t.atMs > this.at);
    for (const t of due) t.fire();
  }

  /** Moves time on and runs the deadlines then due. */
  advance(ms: number): void {
    this.tick(ms);
    this.runDue();
  }
}

/** FedAvg whose folds wait until the test opens the gate: a slow fold, on demand. */
class GatedFedAvg implements Strategy {
  readonly name: string = 'gated-fedavg';
  private readonly inner = new FedAvgStrategy();
  private entered!: () => void;
  private opened!: () => void;
  /** Resolves once a fold is waiting at the gate. */
  readonly folding = new Promise<void>((resolve) => (this.entered = resolve));
  private readonly gate = new Promise<void>((resolve) => (this.opened = resolve));

  open(): void {
    this.opened();
  }

  validateOptions(options: Record<string, string>): Record<string, string> {
    return this.inner.validateOptions(options);
  }

  selectSites(eligible: string[], settings: Parameters<Strategy['selectSites']>[1], random: () => number): string[] {
    return this.inner.selectSites(eligible, settings, random);
  }

  siteConfig(ctx: SiteConfigContext): Record<string, string> {
    return this.inner.siteConfig(ctx);
  }

  createAggregator(ctx: RoundContext): Aggregator {
    const inner = this.inner.createAggregator(ctx);
    return {
      get count() {
        return inner.count;
      },
      fold: async (update) => {
        await this.atGate();
        inner.fold(update);
      },
      finish: () => inner.finish(),
    };
  }

  /** Waits at the gate until `open()`. */
  protected async atGate(): Promise<void> {
    this.entered();
    await this.gate;
  }
}

/** GatedFedAvg reading updates from their files: one at a time at the gate, and several together (recorded). */
class GatedSlicingFedAvg extends GatedFedAvg {
  override readonly name: string = 'gated-slicing-fedavg';
  /** The sites of each call folding several updates together. */
  readonly together: string[][] = [];

  override createAggregator(ctx: RoundContext): Aggregator {
    const inner = new FedAvgStrategy().createAggregator(ctx);
    return {
      get count() {
        return inner.count;
      },
      fold: async (update) => {
        await this.atGate();
        inner.fold(update);
      },
      foldSlices: async (update) => {
        await this.atGate();
        await inner.foldSlices(update);
      },
      foldSlicesTogether: async (updates) => {
        this.together.push(updates.map((u) => u.site));
        return inner.foldSlicesTogether(updates);
      },
      finish: () => inner.finish(),
    };
  }
}

/**
 * The memory store as a disk that keeps a log of the writes it took and, once told, fails every
 * write from a given one on, as a full disk fences the level store, until it is healed (as a
 * restart does).
 */
class WriteLog extends MemoryStateStore {
  readonly writes: StateWrite[][] = [];
  private failFrom: number | undefined;

  /** Takes `n` more writes, then fails every later one. */
  failAfter(n: number): void {
    this.failFrom = this.writes.length + n;
  }

  heal(): void {
    this.failFrom = undefined;
  }

  override async write(ops: StateWrite[]): Promise<void> {
    if (this.failFrom !== undefined && this.writes.length >= this.failFrom) {
      throw TributaryError.of(Reason.STATE_WRITE_FAILED, 'a state write failed (no space left on device)');
    }
    await super.write(ops);
    this.writes.push(ops);
  }

  /** The sites of the accepted updates each write recorded, for the writes that recorded any. */
  updatesPerWrite(): string[][] {
    return this.writes.map((ops) => ops.flatMap((op) => (op.kind === 'update' ? [op.value.site] : []))).filter((sites) => sites.length > 0);
  }
}

const INITIAL = [0, 0, 0, 0];

interface Harness {
  engine: RoundEngine;
  state: MemoryStateStore;
  blobs: BlobStore;
  strategies: StrategyRegistry;
  clock: TestClock;
  events: RunEventBus;
  dir: string;
}

describe('RoundEngine', () => {
  let dir: string;
  let h: Harness;

  /** An engine over `state` and the test's blob store, with its own clock and seeded sampling. */
  function engineOver(state: MemoryStateStore, strategies: StrategyRegistry, clock: TestClock): Harness {
    const events = new RunEventBus();
    // Small payloads inline, as the coordinator keeps them.
    const blobs = new BlobStore(join(dir, 'blobs'), { inline: state.inlineBlobTable() });
    const engine = new RoundEngine({
      state,
      blobs,
      strategies,
      logger: silentLogger(),
      metrics: new CoordinatorMetrics(),
      events,
      tasks: new TaskBus(),
      maxUpdateBytes: 2 ** 20,
      aggregatorMemoryBytes: 2 ** 20,
      scratchDir: join(dir, 'scratch'),
      now: clock.now,
      schedule: clock.schedule,
      random: prng(7),
    });
    return { engine, state, blobs, strategies, clock, events, dir };
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-rounds-'));
    await mkdir(join(dir, 'staging'), { recursive: true });
    const state = new MemoryStateStore();
    await state.open();
    h = engineOver(state, builtinStrategies(), new TestClock());
    await h.engine.start();
  });

  afterEach(async () => {
    await h.engine.stop();
    await h.state.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A federation of `sites` (all approved members) with a 4-float model of zeros. */
  async function federation(name: string, sites: string[], settings: FederationSettings): Promise<void> {
    const catalog = new Catalog({ state: h.state, blobs: h.blobs, strategies: h.strategies, logger: silentLogger(), now: h.clock.now, stagingDir: dir, maxModelBytes: 2 ** 20 });
    await catalog.createFederation({
      name,
      description: '',
      settings: { roundDeadlineSeconds: DEADLINE_S, ...settings },
      model: initialModelOf(encodeSafetensors({ w: tensor('F32', [4], new Float32Array(INITIAL)) })),
    });
    for (const site of sites) {
      const existing = await h.state.getSite(site);
      await h.state.write([siteWrite(site, generateSigningKey(site), 'APPROVED', [...(existing?.federations ?? []), name])]);
    }
  }

  /** The manifest a site signs for its update (or, with `evaluate`, its evaluation result). */
  function manifestOf(run: RunRecord, site: string, fields: { round?: number; numExamples?: number; payload?: Buffer; evaluate?: boolean; metrics?: Record<string, number> }): UpdateManifest__Output {
    const payload = fields.payload;
    return {
      federation: run.federation,
      runId: run.id,
      round: fields.round ?? 1,
      site,
      updateId: newUpdateId(),
      createdAtMs: h.clock.now(),
      numExamples: fields.numExamples ?? 1,
      metrics: fields.metrics ?? {},
      payloadSize: payload?.length ?? 0,
      payloadSha256: payload ? sha256Hex(payload) : '',
      chunkCount: payload ? 1 : 0,
      chunkSize: payload?.length ?? 0,
      tensors: payload ? tensorSpecsOf(decodeSafetensors(payload).tensors) : [],
      flavor: payload ? 'tensors' : '',
      baseVersion: 0,
      taskKind: fields.evaluate ? 'evaluate' : 'train',
      datasets: [],
      context: {},
    };
  }

  /** What the ingest does once a manifest is authenticated: admit it, stage its verified payload, deliver it. */
  async function submit(manifest: UpdateManifest__Output, payload?: Buffer): Promise<Refusal | undefined> {
    const admitted = await h.engine.admit(manifest);
    if (!admitted.ok) return admitted.refusal;
    return deliverStaged(manifest, payload, admitted.context);
  }

  /** Delivers the payload as bytes held in memory, as the ingest does with small payloads. */
  async function submitInMemory(manifest: UpdateManifest__Output, payload: Buffer): Promise<Refusal | undefined> {
    const admitted = await h.engine.admit(manifest);
    if (!admitted.ok) return admitted.refusal;
    return h.engine.deliver(new VerifiedUpdate({ manifest, bytes: payload.length, staged: new Uint8Array(payload), blobs: h.blobs }));
  }

  /** Stages the payload as a file and, as the ingest does, inspects it (its layout lets the round fold it in slices). */
  async function deliverStaged(manifest: UpdateManifest__Output, payload?: Buffer, policy?: FoldPolicy): Promise<Refusal | undefined> {
    let path: string | undefined;
    let inspected;
    if (payload) {
      path = join(dir, 'staging', manifest.updateId);
      await writeFile(path, payload);
      if (policy) {
        inspected = await inspectStagedPayload(path, payload.length, manifest.flavor, policy);
        if (!inspected.ok) return inspected.refusal;
      }
    }
    return h.engine.deliver(new VerifiedUpdate({ manifest, bytes: payload?.length ?? 0, staged: path, blobs: h.blobs, layout: inspected?.layout, norm: inspected?.norm }));
  }

  async function train(run: RunRecord, site: string, weights: number[], numExamples: number, round = 1): Promise<Refusal | undefined> {
    const payload = weightsPayload(weights);
    return submit(manifestOf(run, site, { round, numExamples, payload }), payload);
  }

  async function evaluate(run: RunRecord, site: string, metrics: Record<string, number>, numExamples: number, round = 1): Promise<Refusal | undefined> {
    return submit(manifestOf(run, site, { round, numExamples, evaluate: true, metrics }));
  }

  /** The committed model of a federation's version `version`. */
  async function modelValues(federationName: string, version: number, harness = h): Promise<number[]> {
    const record = await harness.state.getModelVersion(federationName, version);
    if (!record) throw new Error(`model version ${version} of ${federationName} is missing`);
    const w = decodeSafetensors(await harness.blobs.read(record.sha256)).tensors['w'];
    return Array.from(w?.data as Float32Array);
  }

  /** Resolves with the run's next event of `type`; subscribe before acting. */
  function nextEvent(runId: string, type: string, harness = h): Promise<RunEvent__Output> {
    return new Promise((resolve) => {
      const off = harness.events.subscribe(runId, (event) => {
        if (event.type !== type) return;
        off();
        resolve(event.message());
      });
    });
  }

  it('commits the example-weighted mean once every selected site has delivered', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    expect(await train(run, 'alpha', [1, 2, 3, 4], 1)).toBeUndefined();
    expect(await train(run, 'beta', [3, 6, 9, 12], 3)).toBeUndefined();

    const round = await h.state.getRound(run.id, 1);
    expect(round).toMatchObject({ state: 'ROUND_STATE_COMMITTED', committedVersion: 2 });
    expect(round?.accepted.map((u) => u.site)).toEqual(['alpha', 'beta']);
    expect(await modelValues('churn', 2)).toEqual([2.5, 5, 7.5, 10]);
    expect(await h.state.getRun(run.id)).toMatchObject({ status: 'RUN_STATUS_FINISHED', latestVersion: 2 });
    expect((await h.state.getFederation('churn'))?.latestVersion).toBe(2);
  });

  it('removes the payload of an update refused at fold time, so no blob is left that no record names', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    const payload = weightsPayload([5, 5, 5, 5]);
    // Zero examples pass admission and verification; fedavg refuses the update when it folds it.
    expect(await submit(manifestOf(run, 'alpha', { numExamples: 0, payload }), payload)).toMatchObject({ reason: 'ZERO_EXAMPLES' });

    expect(await unnamedBlobs(h.state, h.blobs)).toEqual([]);
    expect(await h.blobs.has(sha256Hex(payload))).toBe(false);
  });

  it('keeps an accepted small payload inline in the state store, with no blob file', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    const payload = weightsPayload([1, 2, 3, 4]);
    expect(await submitInMemory(manifestOf(run, 'alpha', { numExamples: 1, payload }), payload)).toBeUndefined();

    expect(await h.blobs.inlineDigests()).toEqual([sha256Hex(payload)]);
    expect(await h.blobs.filePath(sha256Hex(payload))).toBeUndefined();
    expect(await h.blobs.read(sha256Hex(payload))).toEqual(payload);
  });

  it('writes nothing inline for a small payload refused at fold time', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    const payload = weightsPayload([5, 5, 5, 5]);
    expect(await submitInMemory(manifestOf(run, 'alpha', { numExamples: 0, payload }), payload)).toMatchObject({ reason: 'ZERO_EXAMPLES' });

    expect(await h.blobs.has(sha256Hex(payload))).toBe(false);
    expect(await unnamedBlobs(h.state, h.blobs)).toEqual([]);
  });

  it('commits the same model from small payloads kept inline as from files', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    const alpha = weightsPayload([1, 2, 3, 4]);
    expect(await submitInMemory(manifestOf(run, 'alpha', { numExamples: 1, payload: alpha }), alpha)).toBeUndefined();
    const beta = weightsPayload([3, 6, 9, 12]);
    expect(await submitInMemory(manifestOf(run, 'beta', { numExamples: 3, payload: beta }), beta)).toBeUndefined();

    expect(await modelValues('churn', 2)).toEqual([2.5, 5, 7.5, 10]);
    expect(await unnamedBlobs(h.state, h.blobs)).toEqual([]);
  });

  it('keeps the payload of an update refused at fold time when an accepted update holds the same bytes', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    const payload = weightsPayload([5, 5, 5, 5]);
    expect(await submit(manifestOf(run, 'alpha', { numExamples: 2, payload }), payload)).toBeUndefined();
    expect(await submit(manifestOf(run, 'beta', { numExamples: 0, payload }), payload)).toMatchObject({ reason: 'ZERO_EXAMPLES' });

    expect(await h.blobs.has(sha256Hex(payload))).toBe(true);
    expect(await unnamedBlobs(h.state, h.blobs)).toEqual([]);
  });

  it('commits at the deadline with the updates it has when they meet the quorum', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 1, 1, 1], 1);
    await train(run, 'beta', [4, 4, 4, 4], 2);
    const ended = nextEvent(run.id, 'RUN_ENDED');
    h.clock.advance(DEADLINE_S * 1000 + 1);
    await ended;
    expect((await h.state.getRound(run.id, 1))?.state).toBe('ROUND_STATE_COMMITTED');
    expect(await modelValues('churn', 2)).toEqual([3, 3, 3, 3]);
  });

  it('commits wait_after_quorum after the quorum was reached, without waiting for the deadline', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 2, rounds: 1, waitAfterQuorumSeconds: 10 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 1, 1, 1], 1);
    h.clock.advance(20_000);
    expect((await h.state.getRound(run.id, 1))?.state).toBe('ROUND_STATE_OPEN');
    await train(run, 'beta', [4, 4, 4, 4], 2);
    const ended = nextEvent(run.id, 'RUN_ENDED');
    h.clock.advance(10_000);
    await ended;
    const round = await h.state.getRound(run.id, 1);
    expect(round?.state).toBe('ROUND_STATE_COMMITTED');
    expect(round!.closedAtMs - round!.openedAtMs).toBe(30_000);
    expect(await modelValues('churn', 2)).toEqual([3, 3, 3, 3]);
  });

  it('keeps the grace period after quorum across a restart', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 2, rounds: 1, waitAfterQuorumSeconds: 10 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 1, 1, 1], 1);
    await train(run, 'beta', [4, 4, 4, 4], 2);
    await h.engine.stop();
    h.clock.tick(4_000);
    h = engineOver(h.state, h.strategies, h.clock);
    await h.engine.start();
    expect((await h.state.getRound(run.id, 1))?.state).toBe('ROUND_STATE_OPEN');
    const ended = nextEvent(run.id, 'RUN_ENDED');
    h.clock.advance(6_000);
    await ended;
    expect((await h.state.getRound(run.id, 1))?.closedAtMs).toBe((await h.state.getRound(run.id, 1))!.openedAtMs + 10_000);
  });

  it('fails the run and its open round with RUN_TIMEOUT once run_timeout_seconds have passed', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 3, runTimeoutSeconds: 30 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 1, 1, 1], 1);
    const ended = nextEvent(run.id, 'RUN_ENDED');
    h.clock.advance(30_000);
    await ended;
    const stored = await h.state.getRun(run.id);
    expect(stored?.status).toBe('RUN_STATUS_FAILED');
    expect(stored?.failureReason).toMatch(/^RUN_TIMEOUT: /);
    expect((await h.state.getRound(run.id, 1))?.failureReason).toMatch(/^RUN_TIMEOUT: /);
  });

  it('counts the run timeout from the run\'s start across a restart', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 3, runTimeoutSeconds: 30 });
    const run = await h.engine.startRun('churn');
    await h.engine.stop();
    h.clock.tick(20_000);
    h = engineOver(h.state, h.strategies, h.clock);
    await h.engine.start();
    h.clock.advance(9_000);
    expect((await h.state.getRun(run.id))?.status).toBe('RUN_STATUS_RUNNING');
    const ended = nextEvent(run.id, 'RUN_ENDED');
    h.clock.advance(1_000);
    await ended;
    expect((await h.state.getRun(run.id))?.failureReason).toMatch(/^RUN_TIMEOUT: /);
  });

  it('cancels the run timeout and the idle-site sweep as soon as the run ends', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 3, runTimeoutSeconds: 3_600, heartbeatIntervalSeconds: 5, siteIdleTimeoutSeconds: 600 });
    const run = await h.engine.startRun('churn');
    expect(h.clock.pending).toBeGreaterThan(0);
    await h.engine.stopRun(run.id, 'enough');
    expect(h.clock.pending).toBe(0);
  });

  it('fails a selected site silent past site_idle_timeout_seconds with SITE_UNRESPONSIVE, and the round once quorum is out of reach', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 1, heartbeatIntervalSeconds: 5, siteIdleTimeoutSeconds: 10 });
    const run = await h.engine.startRun('churn');
    h.clock.advance(6_000);
    await h.engine.sites.heartbeat('alpha', { federation: 'churn', runId: run.id, round: 1 }, { phase: 'train', uploadBytes: 0 });
    const ended = nextEvent(run.id, 'RUN_ENDED');
    h.clock.advance(4_000);
    await ended;
    const round = await h.state.getRound(run.id, 1);
    expect(round?.siteFailures.map((f) => [f.site, f.reason])).toEqual([['beta', 'SITE_UNRESPONSIVE']]);
    expect(round?.failureReason).toMatch(/^QUORUM_NOT_MET: quorum unreachable/);
  });

  it('fails the round with QUORUM_NOT_MET at the deadline, and the run with it', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 2, rounds: 2 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 2, 3, 4], 1);
    const ended = nextEvent(run.id, 'RUN_ENDED');
    h.clock.advance(DEADLINE_S * 1000 + 1);
    await ended;

    const round = await h.state.getRound(run.id, 1);
    expect(round?.state).toBe('ROUND_STATE_FAILED');
    expect(round?.failureReason).toMatch(/^QUORUM_NOT_MET: 1 of 3 selected site\(s\) delivered, min_sites is 2$/);
    const stored = await h.state.getRun(run.id);
    expect(stored?.status).toBe('RUN_STATUS_FAILED');
    expect(stored?.failureReason).toMatch(/^round 1 failed: QUORUM_NOT_MET/);
    expect((await h.state.getFederation('churn'))?.latestVersion).toBe(1);
  });

  it('goes on with the next round after a failed one when the settings say continue', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 2, rounds: 2, onRoundFailure: 'ROUND_FAILURE_POLICY_CONTINUE' });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 2, 3, 4], 1);
    const opened = nextEvent(run.id, 'ROUND_OPENED');
    h.clock.advance(DEADLINE_S * 1000 + 1);
    expect((await opened).round?.number).toBe(2);

    expect((await h.state.getRound(run.id, 1))?.failureReason).toMatch(/^QUORUM_NOT_MET/);
    expect((await h.state.getRun(run.id))?.status).toBe('RUN_STATUS_RUNNING');
    expect((await h.state.getRound(run.id, 2))?.baseVersion).toBe(1);
  });

  it('refuses a straggler with DEADLINE_PASSED, at admission and when its upload ends late', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 1, rounds: 1 });
    const run = await h.engine.startRun('churn');
    const payload = weightsPayload([1, 2, 3, 4]);
    const uploading = manifestOf(run, 'alpha', { payload });
    expect((await h.engine.admit(uploading)).ok).toBe(true);

    // The deadline passes; its timer has not run yet.
    h.clock.tick(DEADLINE_S * 1000 + 1);
    expect(await deliverStaged(uploading, payload)).toMatchObject({ reason: 'DEADLINE_PASSED' });
    expect(await train(run, 'beta', [1, 2, 3, 4], 1)).toMatchObject({ reason: 'DEADLINE_PASSED' });
    expect((await h.state.getRound(run.id, 1))?.accepted).toEqual([]);
  });

  it('refuses a site that was not selected with SITE_NOT_SELECTED', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 2, sampleCount: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    const selected = h.engine.currentRound(run.id)?.selectedSites ?? [];
    expect(selected).toHaveLength(2);
    const left = ['alpha', 'beta', 'gamma'].find((s) => !selected.includes(s)) ?? '';
    expect(await train(run, left, [1, 2, 3, 4], 1)).toMatchObject({ reason: 'SITE_NOT_SELECTED' });
    expect((await h.state.getRound(run.id, 1))?.accepted).toEqual([]);
  });

  it('selects the same sites for the same seed', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma', 'delta', 'epsilon'], { minSites: 2, sampleCount: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    const expected = new FedAvgStrategy().selectSites(['alpha', 'beta', 'gamma', 'delta', 'epsilon'], (await h.state.getRun(run.id))!.settings!, prng(7));
    expect(h.engine.currentRound(run.id)?.selectedSites).toEqual(expected);
  });

  it('refuses a second update from the same site with ALREADY_DELIVERED', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    expect(await train(run, 'alpha', [1, 2, 3, 4], 1)).toBeUndefined();
    expect(await train(run, 'alpha', [9, 9, 9, 9], 5)).toMatchObject({ reason: 'ALREADY_DELIVERED' });
    expect((await h.state.getRound(run.id, 1))?.accepted.map((u) => u.site)).toEqual(['alpha']);
  });

  it('refuses an update for a round that is not the current one with WRONG_ROUND', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 2 });
    const run = await h.engine.startRun('churn');
    expect(await train(run, 'alpha', [1, 2, 3, 4], 1, 2)).toMatchObject({ reason: 'WRONG_ROUND' });
  });

  it('refuses updates of a run that ended with RUN_NOT_RUNNING', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    await h.engine.stopRun(run.id, 'enough');
    expect(await train(run, 'alpha', [1, 2, 3, 4], 1)).toMatchObject({ reason: 'RUN_NOT_RUNNING' });
  });

  it('evaluates the committed model: PENDING, then DONE with the example-weighted metrics', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 2, evaluateEvery: 1 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 2, 3, 4], 1);
    await train(run, 'beta', [3, 6, 9, 12], 3);
    expect((await h.state.getRound(run.id, 1))?.evaluation).toBe('EVALUATION_STATE_PENDING');
    expect(h.engine.openTaskFor('churn', 'alpha')?.kind).toBe('evaluate');

    expect(await evaluate(run, 'alpha', { accuracy: 0.5 }, 1)).toBeUndefined();
    expect(await evaluate(run, 'alpha', { accuracy: 0.1 }, 1)).toMatchObject({ reason: 'ALREADY_DELIVERED' });
    expect(await evaluate(run, 'beta', { accuracy: 0.75 }, 3)).toBeUndefined();

    const round = await h.state.getRound(run.id, 1);
    expect(round?.evaluation).toBe('EVALUATION_STATE_DONE');
    expect(round?.metrics).toMatchObject({ eval_accuracy: (0.5 * 1 + 0.75 * 3) / 4, eval_num_sites: 2, eval_num_examples: 4 });
    expect(h.engine.currentRound(run.id)?.number).toBe(2);
  });

  it('closes an evaluation without waiting for a site whose evaluation failed', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 2, evaluateEvery: 1 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 2, 3, 4], 1);
    await train(run, 'beta', [3, 6, 9, 12], 3);
    expect(await evaluate(run, 'alpha', { accuracy: 0.5 }, 1)).toBeUndefined();
    await h.engine.sites.reportFailure('beta', { federation: 'churn', runId: run.id, round: 1 }, 'evaluation data missing', 'evaluate');
    const round = await h.state.getRound(run.id, 1);
    expect(round?.evaluation).toBe('EVALUATION_STATE_DONE');
    expect(round?.metrics).toMatchObject({ eval_accuracy: 0.5, eval_num_sites: 1 });
    expect(h.engine.currentRound(run.id)?.number).toBe(2);
  });

  it('refuses a failure report for a round that is not open and changes nothing', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 2 });
    const run = await h.engine.startRun('churn');
    const err = await h.engine.sites.reportFailure('alpha', { federation: 'churn', runId: run.id, round: 2 }, 'too late', 'train').catch((e: unknown) => TributaryError.from(e));
    expect(err).toMatchObject({ reason: 'WRONG_ROUND' });
    expect((await h.state.getRound(run.id, 1))?.siteFailures).toEqual([]);
  });

  it('keeps a site\'s failure across a restart: the round closes once the other sites delivered', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 1, rounds: 1 });
    const run = await h.engine.startRun('churn');
    await h.engine.sites.reportFailure('alpha', { federation: 'churn', runId: run.id, round: 1 }, 'disk full', 'train');
    await h.engine.stop();
    h = engineOver(h.state, h.strategies, h.clock);
    await h.engine.start();
    await train(run, 'beta', [1, 1, 1, 1], 1);
    await train(run, 'gamma', [3, 3, 3, 3], 1);
    const round = await h.state.getRound(run.id, 1);
    expect(round?.state).toBe('ROUND_STATE_COMMITTED');
    expect(round?.siteFailures.map((f) => f.site)).toEqual(['alpha']);
  });

  it('refuses an update from a site that failed in the round, with its failure\'s reason', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 1, rounds: 1 });
    const run = await h.engine.startRun('churn');
    await h.engine.sites.reportFailure('alpha', { federation: 'churn', runId: run.id, round: 1 }, 'crashed', 'train');
    expect(await train(run, 'alpha', [1, 1, 1, 1], 1)).toMatchObject({ reason: 'SITE_ERROR' });
    expect((await h.state.getRound(run.id, 1))?.accepted).toEqual([]);
  });

  /** Heartbeats of a site whose upload has `bytes` acked. */
  function uploading(run: RunRecord, site: string, bytes: number): Promise<boolean> {
    return h.engine.sites.heartbeat(site, { federation: 'churn', runId: run.id, round: 1 }, { phase: 'upload', uploadBytes: bytes });
  }

  /** Resolves once the stored round satisfies `holds`. */
  async function roundWhen(run: RunRecord, holds: (round: RoundRecord) => boolean): Promise<RoundRecord> {
    for (let i = 0; i < 500; i++) {
      const round = await h.state.getRound(run.id, 1);
      if (round && holds(round)) return round;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error('the round never got there');
  }

  it('takes the update of a site whose upload was moving at the deadline, within upload_grace_seconds', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 1, rounds: 1, heartbeatIntervalSeconds: 5, uploadGraceSeconds: 20 });
    const run = await h.engine.startRun('churn');
    h.clock.advance((DEADLINE_S - 4) * 1000);
    await uploading(run, 'alpha', 1_000);
    h.clock.advance(3_000);
    await uploading(run, 'alpha', 2_000);
    h.clock.advance(1_000);
    const extended = await roundWhen(run, (r) => r.extendedUntilMs > 0);
    expect(extended.extendedUntilMs).toBeGreaterThan(extended.deadlineAtMs);
    h.clock.advance(2_000);
    expect(await train(run, 'beta', [2, 2, 2, 2], 1)).toMatchObject({ reason: 'DEADLINE_PASSED' });
    expect(await train(run, 'alpha', [1, 1, 1, 1], 1)).toBeUndefined();
    const ended = nextEvent(run.id, 'RUN_ENDED');
    h.clock.advance(5_000);
    await ended;
    const round = await h.state.getRound(run.id, 1);
    expect(round?.state).toBe('ROUND_STATE_COMMITTED');
    expect(round?.accepted[0]?.acceptedAtMs).toBeGreaterThan(round!.deadlineAtMs);
  });

  it('closes a round kept open for an upload at its deadline plus upload_grace_seconds at the latest', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 1, rounds: 1, heartbeatIntervalSeconds: 5, uploadGraceSeconds: 20 });
    const run = await h.engine.startRun('churn');
    h.clock.advance((DEADLINE_S - 2) * 1000);
    await uploading(run, 'alpha', 1_000);
    const ended = nextEvent(run.id, 'RUN_ENDED');
    let bytes = 1_000;
    let done = false;
    void ended.then(() => (done = true));
    // The upload keeps moving, and never finishes.
    for (let i = 0; i < 20 && !done; i++) {
      h.clock.advance(2_000);
      await uploading(run, 'alpha', (bytes += 1_000));
      await new Promise((r) => setTimeout(r, 5));
    }
    await ended;
    const round = await h.state.getRound(run.id, 1);
    expect(round?.state).toBe('ROUND_STATE_FAILED');
    expect(round!.closedAtMs).toBeGreaterThan(round!.deadlineAtMs);
    expect(round!.closedAtMs).toBeLessThanOrEqual(round!.deadlineAtMs + 20_000);
  });

  it('answers a repeated failure report with the first record', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 1, rounds: 1 });
    const run = await h.engine.startRun('churn');
    const ref = { federation: 'churn', runId: run.id, round: 1 };
    const first = await h.engine.sites.reportFailure('alpha', ref, 'first', 'train');
    h.clock.tick(1_000);
    expect(await h.engine.sites.reportFailure('alpha', ref, 'second', 'train')).toEqual(first);
    expect((await h.state.getRound(run.id, 1))?.siteFailures).toEqual([first]);
  });

  it('skips an evaluation nobody answered by its deadline and goes on with the next round', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 2, evaluateEvery: 1 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 2, 3, 4], 1);
    await train(run, 'beta', [3, 6, 9, 12], 3);
    const opened = nextEvent(run.id, 'ROUND_OPENED');
    h.clock.advance(DEADLINE_S * 1000 + 1);
    expect((await opened).round?.number).toBe(2);

    const round = await h.state.getRound(run.id, 1);
    expect(round?.evaluation).toBe('EVALUATION_STATE_SKIPPED');
    expect(Object.keys(round?.metrics ?? {}).filter((k) => k.startsWith('eval_'))).toEqual([]);
  });

  it('skips the pending evaluation when the run is stopped', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 2, evaluateEvery: 1 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 2, 3, 4], 1);
    await train(run, 'beta', [3, 6, 9, 12], 3);
    await h.engine.stopRun(run.id, 'enough');
    expect((await h.state.getRound(run.id, 1))?.evaluation).toBe('EVALUATION_STATE_SKIPPED');
  });

  it('ends a stopped run KILLED and fails its open round with RUN_STOPPED', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 3 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 2, 3, 4], 1);
    const stopped = await h.engine.stopRun(run.id, 'enough');

    expect(stopped).toMatchObject({ status: 'RUN_STATUS_KILLED', failureReason: 'enough' });
    expect(await h.state.getRun(run.id)).toMatchObject({ status: 'RUN_STATUS_KILLED' });
    expect(await h.state.getRound(run.id, 1)).toMatchObject({ state: 'ROUND_STATE_FAILED', failureReason: 'RUN_STOPPED: enough' });
    expect(h.engine.openTaskFor('churn', 'beta')).toBeUndefined();
    expect((await h.state.getFederation('churn'))?.latestVersion).toBe(1);
  });

  it('lets a federation start a new run once the last one was stopped, and refuses a second one while it runs', async () => {
    await federation('churn', ['alpha', 'beta'], { minSites: 2, rounds: 3 });
    const run = await h.engine.startRun('churn');
    await expect(h.engine.startRun('churn')).rejects.toMatchObject({ reason: 'RUN_ALREADY_RUNNING' });
    await h.engine.stopRun(run.id, 'enough');
    const next = await h.engine.startRun('churn');
    expect(next.status).toBe('RUN_STATUS_RUNNING');
  });

  it('re-folds an open round after a restart into exactly the model of an uninterrupted run', async () => {
    const sites = ['alpha', 'beta', 'gamma'];
    const updates: Array<[string, number[], number]> = [
      ['alpha', [0.1, 0.2, 0.3, 0.4], 7],
      ['beta', [1.5, -2.25, 3.125, 0.0625], 11],
      ['gamma', [-0.7, 0.35, 9.5, -1.2], 5],
    ];
    await federation('steady', sites, { minSites: 3, rounds: 1 });
    await federation('restarted', sites, { minSites: 3, rounds: 1 });
    const steady = await h.engine.startRun('steady');
    for (const [site, weights, n] of updates) await train(steady, site, weights, n);

    const restarted = await h.engine.startRun('restarted');
    for (const [site, weights, n] of updates.slice(0, 2)) await train(restarted, site, weights, n);
    await h.engine.stop();
    // A new engine over the same state store and blobs, as after a coordinator restart.
    h = engineOver(h.state, h.strategies, h.clock);
    await h.engine.start();
    expect(h.engine.currentRound(restarted.id)?.accepted.map((u) => u.site)).toEqual(['alpha', 'beta']);
    const [site, weights, n] = updates[2]!;
    expect(await train(restarted, site, weights, n)).toBeUndefined();

    expect((await h.state.getRound(restarted.id, 1))?.state).toBe('ROUND_STATE_COMMITTED');
    const expected = [0, 1, 2, 3].map((i) => Math.fround(updates.reduce((sum, [, w, k]) => sum + Math.fround(w[i]!) * k, 0) / 23));
    expect(await modelValues('steady', 2)).toEqual(expected);
    expect(await modelValues('restarted', 2)).toEqual(await modelValues('steady', 2));
  });

  it('closes a round that passed its deadline while the coordinator was down at once on restart', async () => {
    await federation('churn', ['alpha', 'beta', 'gamma'], { minSites: 2, rounds: 1 });
    const run = await h.engine.startRun('churn');
    await train(run, 'alpha', [1, 1, 1, 1], 1);
    await train(run, 'beta', [4, 4, 4, 4], 2);
    await h.engine.stop();
    h.clock.tick(DEADLINE_S * 1000 + 1);
    h = engineOver(h.state, h.strategies, h.clock);
    await h.engine.start();

    expect((await h.state.getRound(run.id, 1))?.state).toBe('ROUND_STATE_COMMITTED');
    expect(await modelValues('churn', 2)).toEqual([3, 3, 3, 3]);
    expect((await h.state.getRun(run.id))?.status).toBe('RUN_STATUS_FINISHED');
  });

  it('does not hold one federation up while another one folds slowly', async () => {
    const gated = new GatedFedAvg();
    h.strategies.register(gated);
    await federation('slow', ['alpha', 'beta'], { strategy: 'gated-fedavg', minSites: 2, rounds: 1 });
    await federation('fast', ['alpha', 'beta'], { minSites: 2, rounds: 1 });
    const slowRun = await h.engine.startRun('slow');
    const fastRun = await h.engine.startRun('fast');

    let slowDone = false;
    const slow = train(slowRun, 'alpha', [1, 2, 3, 4], 1).finally(() => (slowDone = true));
    await gated.folding;
    await train(fastRun, 'alpha', [1, 2, 3, 4], 1);
    await train(fastRun, 'beta', [3, 6, 9, 12], 3);
    expect((await h.state.getRound(fastRun.id, 1))?.state).toBe('ROUND_STATE_COMMITTED');
    expect(slowDone).toBe(false);

    gated.open();
    expect(await slow).toBeUndefined();
    expect((await h.state.getRound(slowRun.id, 1))?.accepted.map((u) => u.site)).toEqual(['alpha']);
  });
});

describe('RoundEngine group commit', () => {
  let dir: string;
  let h: Harness & { state: WriteLog };
  let gated: GatedFedAvg;

  function engineOver(state: WriteLog, strategies: StrategyRegistry, clock: TestClock): Harness & { state: WriteLog } {
    const events = new RunEventBus();
    // Small payloads inline, as the coordinator keeps them.
    const blobs = new BlobStore(join(dir, 'blobs'), { inline: state.inlineBlobTable() });
    const engine = new RoundEngine({
      state,
      blobs,
      strategies,
      logger: silentLogger(),
      metrics: new CoordinatorMetrics(),
      events,
      tasks: new TaskBus(),
      maxUpdateBytes: 2 ** 20,
      aggregatorMemoryBytes: 2 ** 20,
      scratchDir: join(dir, 'scratch'),
      now: clock.now,
      schedule: clock.schedule,
      random: prng(7),
    });
    return { engine, state, blobs, strategies, clock, events, dir };
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-group-'));
    const state = new WriteLog();
    await state.open();
    gated = new GatedFedAvg();
    const strategies = builtinStrategies();
    strategies.register(gated);
    h = engineOver(state, strategies, new TestClock());
    await h.engine.start();
    const catalog = new Catalog({ state, blobs: h.blobs, strategies, logger: silentLogger(), now: h.clock.now, stagingDir: dir, maxModelBytes: 2 ** 20 });
    await catalog.createFederation({
      name: 'group',
      description: '',
      settings: { roundDeadlineSeconds: DEADLINE_S, strategy: 'gated-fedavg', minSites: 4, rounds: 1 },
      model: initialModelOf(encodeSafetensors({ w: tensor('F32', [4], new Float32Array(INITIAL)) })),
    });
    for (const site of SITES) await state.write([siteWrite(site, generateSigningKey(site), 'APPROVED', ['group'])]);
  });

  afterEach(async () => {
    await h.engine.stop();
    await h.state.close();
    await rm(dir, { recursive: true, force: true });
  });

  const SITES = ['alpha', 'beta', 'gamma', 'delta'];

  /** A site's update of four equal weights, admitted and handed to the engine with its payload in memory. */
  function update(run: RunRecord, site: string, value: number): { manifest: UpdateManifest__Output; payload: Buffer } {
    const payload = weightsPayload([value, value, value, value]);
    const manifest: UpdateManifest__Output = {
      federation: run.federation,
      runId: run.id,
      round: 1,
      site,
      updateId: newUpdateId(),
      createdAtMs: h.clock.now(),
      numExamples: 1,
      metrics: {},
      payloadSize: payload.length,
      payloadSha256: sha256Hex(payload),
      chunkCount: 1,
      chunkSize: payload.length,
      tensors: tensorSpecsOf(decodeSafetensors(payload).tensors),
      flavor: 'tensors',
      baseVersion: 0,
      taskKind: 'train',
      datasets: [],
      context: {},
    };
    return { manifest, payload };
  }

  /** Admits the update and hands it to the engine; resolves once it waits for its verdict, with that verdict to come. */
  async function deliver(u: { manifest: UpdateManifest__Output; payload: Buffer }): Promise<{ verdict: Promise<Refusal | undefined> }> {
    expect((await h.engine.admit(u.manifest)).ok).toBe(true);
    const verdict = h.engine.deliver(new VerifiedUpdate({ manifest: u.manifest, bytes: u.payload.length, staged: new Uint8Array(u.payload), blobs: h.blobs }));
    // Observed by the test later; settled either way, it must not count as unhandled meanwhile.
    verdict.catch(() => undefined);
    return { verdict };
  }

  it('judges the updates that arrive while a write is under way together, each with its own verdict, in one write', async () => {
    const run = await h.engine.startRun('group');
    const alpha = await deliver(update(run, 'alpha', 1));
    await gated.folding;
    const beta = await deliver(update(run, 'beta', 2));
    const gamma = await deliver(update(run, 'gamma', 3));
    const betaAgain = await deliver(update(run, 'beta', 5));
    gated.open();

    expect(await alpha.verdict).toBeUndefined();
    expect(await beta.verdict).toBeUndefined();
    expect(await gamma.verdict).toBeUndefined();
    expect(await betaAgain.verdict).toMatchObject({ reason: 'ALREADY_DELIVERED' });
    expect(h.state.updatesPerWrite()).toEqual([['alpha'], ['beta', 'gamma']]);
    const round = await h.state.getRound(run.id, 1);
    expect(round?.accepted.map((u) => u.site)).toEqual(['alpha', 'beta', 'gamma']);
    expect(round?.bytesReceived).toBe(3 * weightsPayload(INITIAL).length);
  });

  it('announces each update of a group accepted, each event with its own update and the round after the group', async () => {
    const run = await h.engine.startRun('group');
    const accepted: RunEvent__Output[] = [];
    const off = h.events.subscribe(run.id, (event) => {
      if (event.type === 'UPDATE_ACCEPTED') accepted.push(event.message());
    });
    const alpha = await deliver(update(run, 'alpha', 1));
    await gated.folding;
    const beta = await deliver(update(run, 'beta', 2));
    const gamma = await deliver(update(run, 'gamma', 3));
    gated.open();
    await Promise.all([alpha.verdict, beta.verdict, gamma.verdict]);
    off();

    expect(accepted.map((e) => e.update?.site)).toEqual(['alpha', 'beta', 'gamma']);
    expect(accepted.map((e) => e.round?.accepted.map((u) => u.site))).toEqual([['alpha'], ['alpha', 'beta', 'gamma'], ['alpha', 'beta', 'gamma']]);
  });

  it('folds the updates of a group read from their files together, to the bits of folding them one by one', async () => {
    const slicing = new GatedSlicingFedAvg();
    h.strategies.register(slicing);
    const catalog = new Catalog({ state: h.state, blobs: h.blobs, strategies: h.strategies, logger: silentLogger(), now: h.clock.now, stagingDir: dir, maxModelBytes: 2 ** 20 });
    await catalog.createFederation({
      name: 'files',
      description: '',
      settings: { roundDeadlineSeconds: DEADLINE_S, strategy: slicing.name, minSites: 4, rounds: 1 },
      model: initialModelOf(encodeSafetensors({ w: tensor('F32', [4], new Float32Array(INITIAL)) })),
    });
    for (const site of SITES) await h.state.write([siteWrite(site, generateSigningKey(site), 'APPROVED', ['group', 'files'])]);
    const run = await h.engine.startRun('files');
    const updates = SITES.map((site, i) => {
      const u = update(run, site, [0.1, 0.7, 1 / 3, 2.9][i]!);
      return { ...u, manifest: { ...u.manifest, numExamples: [3, 7, 11, 13][i]! } };
    });
    /** Admits the update and hands it to the engine staged as a file, inspected as the ingest does. */
    const deliverFile = async (u: { manifest: UpdateManifest__Output; payload: Buffer }): Promise<{ verdict: Promise<Refusal | undefined> }> => {
      const admitted = await h.engine.admit(u.manifest);
      if (!admitted.ok) throw new Error(admitted.refusal.message);
      const path = join(dir, `${u.manifest.updateId}.safetensors`);
      await writeFile(path, u.payload);
      const inspected = await inspectStagedPayload(path, u.payload.length, 'tensors', admitted.context);
      if (!inspected.ok) throw new Error(inspected.refusal.message);
      const verdict = h.engine.deliver(new VerifiedUpdate({ manifest: u.manifest, bytes: u.payload.length, staged: path, blobs: h.blobs, layout: inspected.layout, norm: inspected.norm }));
      verdict.catch(() => undefined);
      return { verdict };
    };
    const verdicts = [await deliverFile(updates[0]!)];
    await slicing.folding;
    for (const u of updates.slice(1)) verdicts.push(await deliverFile(u));
    slicing.open();

    for (const { verdict } of verdicts) expect(await verdict).toBeUndefined();
    expect(slicing.together).toEqual([['beta', 'gamma', 'delta']]);
    const reference = new FedAvgAggregator([{ name: 'w', dtype: 'F32', shape: [4] }]);
    for (const u of updates) reference.fold({ site: u.manifest.site, updateId: u.manifest.updateId, numExamples: u.manifest.numExamples, metrics: {}, flavor: 'tensors', tensors: decodeSafetensors(u.payload).tensors });
    const record = await h.state.getModelVersion('files', 2);
    const w = decodeSafetensors(await h.blobs.read(record!.sha256)).tensors['w'];
    expect(Array.from(w!.data as Float32Array)).toEqual(Array.from(reference.finish().model['w']!.data as Float32Array));
  });

  /**
   * Starts a run and delivers alpha's update, then beta's and gamma's while alpha's fold waits,
   * so those two are judged in one group, whose write fails.
   */
  async function groupWhoseWriteFails(): Promise<{ run: RunRecord; updates: Array<{ manifest: UpdateManifest__Output; payload: Buffer }>; verdicts: Array<Promise<Refusal | undefined>> }> {
    const run = await h.engine.startRun('group');
    const updates = SITES.map((site, i) => update(run, site, [1, 2, 3, 6][i]!));
    const alpha = await deliver(updates[0]!);
    await gated.folding;
    const beta = await deliver(updates[1]!);
    const gamma = await deliver(updates[2]!);
    h.state.failAfter(1);
    gated.open();
    return { run, updates, verdicts: [alpha.verdict, beta.verdict, gamma.verdict] };
  }

  it('removes the payloads of a group whose write failed, so no blob is left that no record names', async () => {
    const { updates, verdicts } = await groupWhoseWriteFails();
    await Promise.allSettled(verdicts);

    const stored = await storedBlobs(h.blobs);
    expect(stored).toContain(updates[0]!.manifest.payloadSha256);
    expect(stored).not.toContain(updates[1]!.manifest.payloadSha256);
    expect(stored).not.toContain(updates[2]!.manifest.payloadSha256);
    expect(await unnamedBlobs(h.state, h.blobs)).toEqual([]);
  });

  it('acknowledges none of a group whose write fails, and judges each of them once after a restart', async () => {
    const { run, updates, verdicts } = await groupWhoseWriteFails();
    const [alpha, beta, gamma] = verdicts;

    expect(await alpha).toBeUndefined();
    await expect(beta).rejects.toMatchObject({ reason: 'STATE_WRITE_FAILED' });
    await expect(gamma).rejects.toMatchObject({ reason: 'STATE_WRITE_FAILED' });
    expect(await h.state.getUpdate(updates[1]!.manifest.updateId)).toBeUndefined();
    expect(await h.state.getUpdate(updates[2]!.manifest.updateId)).toBeUndefined();
    expect((await h.state.getRound(run.id, 1))?.accepted.map((u) => u.site)).toEqual(['alpha']);

    // A restart: the store takes writes again, and the unacknowledged updates come back.
    await h.engine.stop();
    h.state.heal();
    h = engineOver(h.state, h.strategies, h.clock);
    await h.engine.start();
    for (const u of updates.slice(1)) expect(await (await deliver(u)).verdict).toBeUndefined();

    const round = await h.state.getRound(run.id, 1);
    expect(round?.state).toBe('ROUND_STATE_COMMITTED');
    expect(round?.accepted.map((u) => u.site)).toEqual(SITES);
    const record = await h.state.getModelVersion('group', 2);
    const w = decodeSafetensors(await h.blobs.read(record!.sha256)).tensors['w'];
    expect(Array.from(w?.data as Float32Array)).toEqual([3, 3, 3, 3]);
  });
});

function weightsPayload(weights: number[]): Buffer {
  return encodeSafetensors({ w: tensor('F32', [4], new Float32Array(weights)) });
}
