import { totalRefusals, type Refusal__Output, type Round__Output, type RunEventDetail__Output, type RunEvent__Output, type Run__Output, type Task__Output, type UpdateSummary__Output } from '@tributary/proto';
import type { RoundRecord, RunRecord } from '../state/records.js';

type Listener<T> = (value: T) => void;

/** Fan-out of values to listeners keyed by a string (a run id, a federation name). */
class Topic<T> {
  private readonly listeners = new Map<string, Set<Listener<T>>>();
  private readonly everything = new Set<(key: string, value: T) => void>();

  /** Every value of every key. */
  subscribeAll(listener: (key: string, value: T) => void): () => void {
    this.everything.add(listener);
    return () => this.everything.delete(listener);
  }

  subscribe(key: string, listener: Listener<T>): () => void {
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(key);
    };
  }

  publish(key: string, value: T): void {
    for (const listener of [...(this.listeners.get(key) ?? [])]) listener(value);
    for (const listener of [...this.everything]) listener(key, value);
  }
}

/** Run events by run id. */
export class RunEventBus extends Topic<PublishedRunEvent> {}

/** Update-level events: with RUN_EVENT_DETAIL_COMPACT they carry the round without its lists. */
const UPDATE_LEVEL_EVENTS: ReadonlySet<string> = new Set(['UPDATE_ACCEPTED', 'UPDATE_REFUSED', 'SITE_FAILED', 'EVALUATION_RECEIVED']);

/**
 * The Round message of a record: every list and their counts, or (compact) the counts alone.
 * Shares the record's values; copy it (or the record) to keep it past a change.
 */
export function roundMessage(round: RoundRecord, detail: RunEventDetail__Output = 'RUN_EVENT_DETAIL_FULL'): Round__Output {
  const counts = {
    selectedCount: round.selectedSites.length,
    acceptedCount: round.accepted.length,
    refusedCount: totalRefusals(round.refused),
    failedSiteCount: round.siteFailures.length,
  };
  if (detail === 'RUN_EVENT_DETAIL_COMPACT') return { ...round, selectedSites: [], accepted: [], refused: [], siteFailures: [], ...counts, listsOmitted: true };
  return { ...round, ...counts, listsOmitted: false };
}

/**
 * The run and round of one or more events published together, copied on first use in the form
 * asked for and then shared: a group of accepted updates costs one copy of the round (whose list
 * of accepted updates grows with every update), and none in the full form when no listener wants
 * the lists. Copies are taken while the events are published, before the records change again.
 */
export class RunEventCopies {
  #run: Run__Output | undefined;
  readonly #rounds = new Map<RunEventDetail__Output, Round__Output | null>();

  constructor(
    private readonly runRecord: RunRecord,
    private readonly roundRecord: RoundRecord | null,
  ) {}

  run(): Run__Output {
    this.#run ??= structuredClone(this.runRecord);
    return this.#run;
  }

  round(detail: RunEventDetail__Output): Round__Output | null {
    let round = this.#rounds.get(detail);
    if (round === undefined) {
      // The compact form leaves the lists out before copying: it costs the same at any round size.
      round = this.roundRecord === null ? null : detail === 'RUN_EVENT_DETAIL_COMPACT' ? structuredClone(roundMessage(this.roundRecord, detail)) : roundMessage(structuredClone(this.roundRecord), detail);
      this.#rounds.set(detail, round);
    }
    return round;
  }
}

/** What an event carries besides its run and round. */
export interface RunEventInit {
  readonly type: string;
  readonly atMs: number;
  readonly update?: UpdateSummary__Output | null;
  readonly refusal?: Refusal__Output | null;
}

/**
 * A run event as published on the bus. Listeners take its message, in the detail they need,
 * while it is published (synchronously, in the listener): the records it copies from change
 * afterwards. Messages are shared between listeners, which must not change them.
 */
export class PublishedRunEvent {
  readonly type: string;
  readonly atMs: number;
  readonly #init: RunEventInit;
  readonly #copies: RunEventCopies;
  readonly #messages = new Map<RunEventDetail__Output, RunEvent__Output>();

  constructor(init: RunEventInit, copies: RunEventCopies) {
    this.type = init.type;
    this.atMs = init.atMs;
    this.#init = init;
    this.#copies = copies;
  }

  /** The run as it was when the event happened. */
  get run(): Run__Output {
    return this.#copies.run();
  }

  /** The number of the round concerned, if any, without copying the round. */
  get roundNumber(): number | null {
    return this.#copies.round('RUN_EVENT_DETAIL_COMPACT')?.number ?? null;
  }

  /**
   * The wire message. Update-level events in the compact detail carry the round's counts
   * without its lists; every other event carries the full round whatever the detail.
   */
  message(detail: RunEventDetail__Output = 'RUN_EVENT_DETAIL_FULL'): RunEvent__Output {
    const form = UPDATE_LEVEL_EVENTS.has(this.type) && detail === 'RUN_EVENT_DETAIL_COMPACT' ? 'RUN_EVENT_DETAIL_COMPACT' : 'RUN_EVENT_DETAIL_FULL';
    let message = this.#messages.get(form);
    if (message === undefined) {
      message = { type: this.type, atMs: this.atMs, run: this.run, round: this.#copies.round(form), update: this.#init.update ?? null, refusal: this.#init.refusal ?? null };
      this.#messages.set(form, message);
    }
    return message;
  }
}

/** A task offered to the selected sites of a federation's open round. */
export interface TaskOffer {
  task: Task__Output;
  selectedSites: readonly string[];
}

/** Task offers by federation name. */
export class TaskBus extends Topic<TaskOffer> {}
