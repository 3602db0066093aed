import { Reason } from '@tributary/proto';
import { settingsOf, type ActiveRun, type RoundServices } from './active-run.js';
import type { RoundLifecycle } from './round-lifecycle.js';
import type { RunLifecycle } from './run-lifecycle.js';

/**
 * `run_timeout_seconds`: a run still running that long after it started fails with RUN_TIMEOUT,
 * its open round with it. Counted from the run's stored start, so a restarted coordinator keeps
 * the same bound.
 */
export class RunTimeout {
  private readonly armedFor = new Map<ActiveRun, () => void>();

  constructor(
    private readonly s: RoundServices,
    private readonly runs: RunLifecycle,
    private readonly rounds: RoundLifecycle,
  ) {}

  /** Arms the run's timeout once (later calls do nothing). */
  arm(active: ActiveRun): void {
    const seconds = settingsOf(active).runTimeoutSeconds ?? 0;
    if (!seconds || this.armedFor.has(active) || active.ended) return;
    const atMs = active.run.startedAtMs + seconds * 1000;
    this.armedFor.set(
      active,
      this.s.schedule(atMs, () => {
        this.armedFor.delete(active);
        void this.s
          .serialise(active.run.federation, () => this.expire(active, seconds))
          .catch((err: unknown) => this.s.logger.error({ err, runId: active.run.id }, 'run timeout failed'));
      }),
    );
  }

  /** The run ended: its timeout is cancelled and forgotten. */
  ended(active: ActiveRun): void {
    this.armedFor.get(active)?.();
    this.armedFor.delete(active);
  }

  stop(): void {
    for (const cancel of this.armedFor.values()) cancel();
    this.armedFor.clear();
  }

  private async expire(active: ActiveRun, seconds: number): Promise<void> {
    if (active.ended || active.run.status !== 'RUN_STATUS_RUNNING') return;
    const why = `${Reason.RUN_TIMEOUT}: the run exceeded run_timeout_seconds (${seconds})`;
    this.s.logger.warn({ runId: active.run.id, seconds }, 'run timed out');
    if (active.round?.state === 'ROUND_STATE_OPEN') await this.rounds.fail(active, why, false);
    await this.runs.end(active.run, 'RUN_STATUS_FAILED', why);
  }
}
