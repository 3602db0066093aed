import { Reason, TributaryError } from '@tributary/proto';

// Model downloads queue their chunks in the server's send buffers until the peer reads them. Left
// alone, every concurrent download queues its whole model there (grpc-js buffers up to 16 messages
// a stream before it pushes back), so a round of N sites holds N models' bytes at once. These
// budgets bound the unsent chunk bytes, per stream and for all streams together.

/** A response's callback for when its bytes have been handed to the transport. */
export const WHEN_SENT: unique symbol = Symbol('tributary.whenSent');

/** The callback attached to `response` by the stream that yielded it, if any. */
export function whenSentOf(response: unknown): (() => void) | undefined {
  if (typeof response !== 'object' || response === null) return undefined;
  const hook = (response as { [WHEN_SENT]?: unknown })[WHEN_SENT];
  return typeof hook === 'function' ? (hook as () => void) : undefined;
}

interface Waiter {
  readonly ticket: number;
  readonly bytes: number;
  readonly grant: () => void;
}

/**
 * A count of bytes held, up to a limit. Waiters are served in ticket order, not arrival order: a
 * download that started earlier is served first, so the earliest sites get their whole model
 * soon and start training, instead of every site finishing its download at the same late time.
 */
export class ByteBudget {
  private held = 0;
  private tickets = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly limitBytes: number) {
    if (!Number.isSafeInteger(limitBytes) || limitBytes <= 0) throw TributaryError.of(Reason.INVALID_ARGUMENT, `a byte budget needs a positive limit, not ${limitBytes}`);
  }

  /** Bytes held now (queued and not yet sent). */
  get heldBytes(): number {
    return this.held;
  }

  /** A place in line: lower tickets are served first. */
  ticket(): number {
    return this.tickets++;
  }

  /**
   * Resolves `true` once `bytes` are held for the caller, `false` if `signal` fired first (then
   * nothing is held). A request larger than the limit is granted when nothing else is held.
   */
  acquire(ticket: number, bytes: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted === true) return Promise.resolve(false);
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.held += bytes;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        resolve(false);
        // A large waiter leaving may let smaller ones behind it in.
        this.grantWaiting();
      };
      const waiter: Waiter = {
        ticket,
        bytes,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(true);
        },
      };
      let at = this.waiters.findIndex((w) => w.ticket > ticket);
      if (at < 0) at = this.waiters.length;
      this.waiters.splice(at, 0, waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
    this.grantWaiting();
  }

  private fits(bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.limitBytes;
  }

  private grantWaiting(): void {
    while (this.waiters.length > 0) {
      const first = this.waiters[0] as Waiter;
      if (!this.fits(first.bytes)) return;
      this.waiters.shift();
      this.held += first.bytes;
      first.grant();
    }
  }
}

/** Unsent model chunk bytes allowed for all downloads together. */
export const DOWNLOAD_QUEUE_BYTES = 32 * 1024 * 1024;
/** Unsent chunks allowed a single download: one being sent and one ready behind it. */
export const DOWNLOAD_QUEUE_CHUNKS = 2;
/** Chunks no download holds, kept for downloads of the same version that have yet to reach them. */
export const SHARED_CHUNKS_KEEP_BYTES = 16 * 1024 * 1024;
