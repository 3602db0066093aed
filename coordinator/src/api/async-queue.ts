/** An unbounded hand-off from callbacks to an async consumer, closed by an AbortSignal. */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.waiter?.();
  }

  /** The next item, or undefined once the signal has aborted. */
  async next(signal: AbortSignal): Promise<T | undefined> {
    while (this.items.length === 0) {
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiter = undefined;
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.waiter = wake;
        signal.addEventListener('abort', wake);
      });
    }
    return this.items.shift();
  }
}
