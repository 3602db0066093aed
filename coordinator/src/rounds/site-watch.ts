import { MAX_SITE_FAILURE_MESSAGE_CHARS, Reason, refusalOf, type Refusal, type SiteFailure__Output } from '@tributary/proto';
import type { RoundRecord } from '../state/index.js';
import { emit, settingsOf, type ActiveRun, type RoundServices } from './active-run.js';
import type { RoundLifecycle } from './round-lifecycle.js';
import { SETTINGS_DEFAULTS } from './settings.js';

/**
 * Whether waiting longer can change an open round's outcome: false once every selected site has
 * delivered or failed, or once the sites that have not failed can no longer reach `minSites`.
 */
export function waitingCanHelp(round: RoundRecord, minSites: number): boolean {
  const failed = round.siteFailures?.length ?? 0;
  const stillIn = round.selectedSites.length - failed;
  return stillIn >= minSites && round.accepted.length < stillIn;
}

/** The reasons a selected site fails its round for. */
export type SiteFailureReason = typeof Reason.SITE_ERROR | typeof Reason.SITE_UNRESPONSIVE;

/** What a site's heartbeat says it is doing. */
export interface SiteHeartbeat {
  phase: 'train' | 'upload';
  /** Payload bytes published so far, in the upload phase. */
  uploadBytes: number;
}

/** The latest signs of life of one selected site in the open round. */
interface Progress {
  atMs: number;
  phase: SiteHeartbeat['phase'];
  uploadBytes: number;
  /** When its upload bytes last grew. */
  uploadMovedAtMs: number;
}

/** What the watch holds about a run's open round; memory only (a restart starts it afresh). */
interface Watched {
  round: RoundRecord;
  progress: Map<string, Progress>;
  /** Sites whose upload was still moving at the deadline: admitted until `round.extendedUntilMs`. */
  graced: Set<string>;
  cancelSweep?: () => void;
}

/**
 * Sites' failures in the open round and their signs of life: failure reports (SITE_ERROR),
 * heartbeats, silence past `site_idle_timeout_seconds` (SITE_UNRESPONSIVE), what
 * `on_site_error` makes of a failure, and the upload grace past the deadline. Every method runs
 * inside the federation's queue.
 */
export class SiteWatch {
  private readonly watched = new Map<ActiveRun, Watched>();

  constructor(
    private readonly s: RoundServices,
    private readonly rounds: RoundLifecycle,
  ) {}

  /** The round's deadline was (re)armed: watch its sites from now (a new round starts afresh). */
  armed(active: ActiveRun): void {
    const round = active.round;
    if (active.ended || !round || round.state !== 'ROUND_STATE_OPEN') return;
    let w = this.watched.get(active);
    if (w?.round !== round) {
      w?.cancelSweep?.();
      w = { round, progress: new Map(), graced: new Set() };
      this.watched.set(active, w);
    }
    // Everyone starts with a clean slate when the watch (re)starts: the round's opening, or a restart.
    const now = this.s.now();
    for (const site of round.selectedSites) {
      if (!w.progress.has(site)) w.progress.set(site, { atMs: now, phase: 'train', uploadBytes: 0, uploadMovedAtMs: 0 });
    }
    this.armSweep(active, w);
  }

  /** The run ended: its watch and sweep go, so ended runs leave nothing behind. */
  ended(active: ActiveRun): void {
    this.watched.get(active)?.cancelSweep?.();
    this.watched.delete(active);
  }

  /** Forgets every watched round and cancels their timers (the engine is stopping). */
  stop(): void {
    for (const w of this.watched.values()) w.cancelSweep?.();
    this.watched.clear();
  }

  /** Why `site` cannot report on or heartbeat for round `number` of this run now, or undefined. */
  problem(active: ActiveRun, site: string, number: number): Refusal | undefined {
    const round = active.round;
    if (active.evaluation || !round || number !== round.number) {
      return refusalOf(Reason.WRONG_ROUND, `round ${number} is not the current round${round ? ` (${round.number})` : ''} of run ${active.run.id}`);
    }
    if (round.state !== 'ROUND_STATE_OPEN') return refusalOf(Reason.ROUND_NOT_OPEN, `round ${round.number} is ${round.state.replace('ROUND_STATE_', '')}`);
    if (!round.selectedSites.includes(site)) return refusalOf(Reason.SITE_NOT_SELECTED, `site "${site}" was not selected for round ${round.number}`);
    if (round.accepted.some((u) => u.site === site)) return refusalOf(Reason.ALREADY_DELIVERED, `site "${site}" already delivered an update for round ${round.number}`);
    return undefined;
  }

  /** The site's failure already on record in the open round, if any. */
  failureOf(active: ActiveRun, site: string): SiteFailure__Output | undefined {
    return active.round?.siteFailures.find((f) => f.site === site);
  }

  /** Records a heartbeat; answers whether the site should keep working on the round. */
  heartbeat(active: ActiveRun, site: string, beat: SiteHeartbeat): boolean {
    const round = active.round;
    const w = this.watched.get(active);
    if (!round || !w || w.round !== round || this.failureOf(active, site)) return false;
    const now = this.s.now();
    const before = w.progress.get(site);
    const moved = beat.phase === 'upload' && beat.uploadBytes > (before?.phase === 'upload' ? before.uploadBytes : 0);
    w.progress.set(site, { atMs: now, phase: beat.phase, uploadBytes: beat.uploadBytes, uploadMovedAtMs: moved ? now : (before?.uploadMovedAtMs ?? 0) });
    return true;
  }

  /** Any other sign of life (a manifest, payload chunks being read). */
  touched(active: ActiveRun, site: string): void {
    const w = this.watched.get(active);
    const p = w?.round === active.round ? w?.progress.get(site) : undefined;
    if (p) p.atMs = Math.max(p.atMs, this.s.now());
  }

  /**
   * Records `site`'s failure on the open round (one entry per site: a second report answers the
   * first), then applies `on_site_error`. The caller checked `problem` first.
   */
  async fail(active: ActiveRun, site: string, reason: SiteFailureReason, message: string): Promise<SiteFailure__Output> {
    const round = active.round;
    const earlier = this.failureOf(active, site);
    if (earlier || !round) return earlier ?? { site, reason, message, atMs: this.s.now() };
    const failure: SiteFailure__Output = { site, reason, message: message.slice(0, MAX_SITE_FAILURE_MESSAGE_CHARS), atMs: this.s.now() };
    const recorded: RoundRecord = { ...round, siteFailures: [...round.siteFailures, failure] };
    // Memory follows the synced write.
    await this.s.state.write([{ kind: 'round', value: recorded }]);
    Object.assign(round, recorded);
    this.s.metrics.siteFailures.inc({ reason });
    this.s.logger.warn({ runId: active.run.id, round: round.number, site, reason, message: failure.message }, 'site failed in its round');
    emit(this.s, active, 'SITE_FAILED', { refusal: { site, updateId: '', reason, message: failure.message, atMs: failure.atMs, count: 1 } });
    await this.settle(active, round, failure);
    return failure;
  }

  /** What the failure makes of the round: fail it, close it, or let it go on. */
  private async settle(active: ActiveRun, round: RoundRecord, failure: SiteFailure__Output): Promise<void> {
    const settings = settingsOf(active);
    if ((settings.onSiteError || SETTINGS_DEFAULTS.onSiteError) === 'fail') {
      await this.rounds.fail(active, `${Reason.SITE_ERROR}: site "${failure.site}" failed (${failure.reason}): ${failure.message}`);
      return;
    }
    const failed = round.siteFailures.length;
    if (round.selectedSites.length - failed < settings.minSites) {
      await this.rounds.fail(
        active,
        `${Reason.QUORUM_NOT_MET}: quorum unreachable: ${failed} of ${round.selectedSites.length} selected site(s) failed, ${round.accepted.length} delivered, min_sites is ${settings.minSites}`,
      );
      return;
    }
    // Every site still in the round has delivered: nothing more to wait for.
    if (!waitingCanHelp(round, settings.minSites)) await this.rounds.close(active);
  }

  /**
   * At the round's deadline: the time to look again when a site that has not delivered was
   * still uploading (its upload bytes grew recently) and the upload grace allows it, else
   * undefined (close now). The extension is stored with the round.
   */
  async extendPastDeadline(active: ActiveRun, round: RoundRecord): Promise<number | undefined> {
    const settings = settingsOf(active);
    const graceS = settings.uploadGraceSeconds ?? 0;
    const w = this.watched.get(active);
    const now = this.s.now();
    if (!graceS || !w || w.round !== round || now < round.deadlineAtMs) return undefined;
    const limit = round.deadlineAtMs + graceS * 1000;
    if (now >= limit) return undefined;
    const window = this.liveWindowMs(active);
    const pending = round.selectedSites.filter((site) => !this.settled(round, site));
    if (w.graced.size === 0) {
      // Entering the grace: only uploads moving at the deadline, not sites still training.
      for (const site of pending) {
        const p = w.progress.get(site);
        if (p?.phase === 'upload' && now - p.uploadMovedAtMs <= window) w.graced.add(site);
      }
    }
    // Within it, a graced site stays while it shows signs of life.
    const alive = pending.filter((site) => w.graced.has(site) && now - (w.progress.get(site)?.atMs ?? 0) <= window);
    if (alive.length === 0) return undefined;
    const next = Math.min(limit, now + Math.max(1000, Math.floor(window / 2)));
    if (round.extendedUntilMs !== next) {
      const extended: RoundRecord = { ...round, extendedUntilMs: next };
      await this.s.state.write([{ kind: 'round', value: extended }]);
      Object.assign(round, extended);
      this.s.logger.info({ runId: active.run.id, round: round.number, sites: alive, untilMs: next }, 'round kept open past its deadline for uploads still moving');
    }
    return next;
  }

  /**
   * Whether the round takes `site`'s update after its deadline (the upload grace): the site's
   * upload was moving at the deadline and the grace has not run out. While the round is open
   * that holds even between two looks at the uploads: a close timer that fires late must not
   * refuse an update that arrived before it.
   */
  graced(active: ActiveRun, round: RoundRecord, site: string): boolean {
    const w = this.watched.get(active);
    if (w === undefined || w.round !== round || !w.graced.has(site)) return false;
    const limit = round.deadlineAtMs + (settingsOf(active).uploadGraceSeconds ?? 0) * 1000;
    return this.s.now() <= limit;
  }

  /** How recent a heartbeat must be for a site to count as alive: two intervals and a second. */
  private liveWindowMs(active: ActiveRun): number {
    const interval = settingsOf(active).heartbeatIntervalSeconds || SETTINGS_DEFAULTS.heartbeatIntervalSeconds;
    return (2 * interval + 1) * 1000;
  }

  /** Arms the sweep that fails sites silent for longer than the idle timeout. */
  private armSweep(active: ActiveRun, w: Watched): void {
    w.cancelSweep?.();
    w.cancelSweep = undefined;
    const idleMs = (settingsOf(active).siteIdleTimeoutSeconds ?? 0) * 1000;
    if (idleMs <= 0) return;
    const waiting = [...w.progress.entries()].filter(([site]) => !this.settled(w.round, site));
    if (waiting.length === 0) return;
    const due = Math.min(...waiting.map(([, p]) => p.atMs)) + idleMs;
    w.cancelSweep = this.s.schedule(due, () => {
      void this.s
        .serialise(active.run.federation, () => this.sweep(active, w, idleMs))
        .catch((err: unknown) => this.s.logger.error({ err, runId: active.run.id }, 'idle site sweep failed'));
    });
  }

  private async sweep(active: ActiveRun, w: Watched, idleMs: number): Promise<void> {
    if (active.ended || active.round !== w.round || w.round.state !== 'ROUND_STATE_OPEN' || this.watched.get(active) !== w) return;
    const now = this.s.now();
    for (const [site, p] of w.progress) {
      if (this.settled(w.round, site) || now - p.atMs < idleMs) continue;
      await this.fail(active, site, Reason.SITE_UNRESPONSIVE, `no heartbeat or update for ${Math.round((now - p.atMs) / 1000)} s (site_idle_timeout_seconds is ${idleMs / 1000})`);
      if (active.round !== w.round || w.round.state !== 'ROUND_STATE_OPEN') return;
    }
    this.armSweep(active, w);
  }

  /** A site that delivered or failed has nothing more to show. */
  private settled(round: RoundRecord, site: string): boolean {
    return round.accepted.some((u) => u.site === site) || round.siteFailures.some((f) => f.site === site);
  }
}
