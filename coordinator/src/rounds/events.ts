import type { RunEvent__Output, Task__Output } from '@tributary/proto';

type Listener<T> = (value: T) => void;

/** Fan-out of values to listeners keyed by a string (a run id, a federation name). */
class Topic<T> {
  private readonly listeners = new Map<string, Set<Listener<T>>>();

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
