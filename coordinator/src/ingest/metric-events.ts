import type { MetricEvent__Output } from '@tributary/proto';

type MetricListener = (event: MetricEvent__Output) => void;

/**
 * Metric points of sites, as they are committed to the tracking store, by federation name.
 * Publishing happens on the ingest's hot path, so a listener that throws is dropped from the
 * call, never allowed to stop the others or the ingest.
 */
export class MetricEventBus {
  private readonly listeners = new Map<string, Set<MetricListener>>();

  subscribe(federation: string, listener: MetricListener): () => void {
    let set = this.listeners.get(federation);
    if (!set) {
      set = new Set();
      this.listeners.set(federation, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(federation);
    };
  }

  /** Whether anyone follows the federation (the ingest skips building events otherwise). */
  watched(federation: string): boolean {
    return this.listeners.has(federation);
  }

  publish(event: MetricEvent__Output): void {
    const set = this.listeners.get(event.federation);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch {
        // A failing watcher loses its event; the ingest and the other watchers go on.
      }
    }
  }
}
