import { Reason, TributaryError } from '@tributary/proto';

/**
 * One queue of async work per key (a federation): work for a key runs one at a time in arrival
 * order, while work for other keys goes on concurrently.
 */
export class SerialQueues {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    // Forget a key once its queue drains, so the map holds only busy federations.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Resolves once everything queued so far has run. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit over a key's queue: items submitted while the key's queue is busy (a durable
 * write in flight) wait and are handed to `commit` together, at most `maxGroup` at a time, so
 * one synced write covers all of them. An item submitted to an idle key goes alone, at once.
 * `commit` settles each item on its own (one may be refused, one fail, the rest pass); if it
 * throws, every item of its group fails with that error.
 */
export class GroupCommit<T, R> {
  private readonly waiting = new Map<string, Array<Waiting<T, R>>>();

  constructor(
    private readonly queues: SerialQueues,
    private readonly commit: (key: string, items: T[]) => Promise<Array<PromiseSettledResult<R>>>,
    private readonly maxGroup: number,
  ) {
    if (!Number.isSafeInteger(maxGroup) || maxGroup < 1) throw TributaryError.invalidArgument(`a group holds at least one item, not ${maxGroup}`);
  }

  /** Resolves with the item's own result once the group it went in has committed. */
  submit(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let queued = this.waiting.get(key);
      if (queued === undefined) {
        queued = [];
        this.waiting.set(key, queued);
      }
      queued.push({ item, resolve, reject });
      // The first item waiting schedules the group; later ones join it until it starts.
      if (queued.length === 1) this.schedule(key);
    });
  }

  private schedule(key: string): void {
    // Errors reach the items through their own promises.
    void this.queues.run(key, () => this.commitGroup(key)).catch(() => undefined);
  }

  private async commitGroup(key: string): Promise<void> {
    const queued = this.waiting.get(key) ?? [];
    const group = queued.splice(0, this.maxGroup);
    if (queued.length === 0) this.waiting.delete(key);
    else this.schedule(key);
    if (group.length === 0) return;
    let settled: Array<PromiseSettledResult<R>>;
    try {
      settled = await this.commit(key, group.map((w) => w.item));
    } catch (err) {
      for (const w of group) w.reject(err);
      return;
    }
    group.forEach((w, i) => {
      const outcome = settled[i];
      if (outcome === undefined) w.reject(TributaryError.of(Reason.INTERNAL, 'the group commit gave no result for an item'));
      else if (outcome.status === 'fulfilled') w.resolve(outcome.value);
      else w.reject(outcome.reason);
    });
  }
}
