import type { RunEvent__Output, Task__Output } from '@tributary/proto';

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
export class RunEventBus extends Topic<RunEvent__Output> {}

/** A task offered to the selected sites of a federation's open round. */
export interface TaskOffer {
  task: Task__Output;
  selectedSites: readonly string[];
}

/** Task offers by federation name. */
export class TaskBus extends Topic<TaskOffer> {}
