import { TributaryError } from '@tributary/proto';

export interface VerificationSlotsOptions {
  /** Updates of any size verified at the same time (`ingest.concurrency`). */
  large: number;
  /** A payload of at most this many bytes (as its signed manifest claims) is small. */
  smallPayloadBytes: number;
  /** Small updates verified at the same time besides the large ones; 0 sends every update through the large bound. */
  small: number;
  /** Claimed payload bytes of the small updates held at the same time. */
  smallBytes: number;
}

/** Frees a slot; calling it again does nothing. */
export type ReleaseSlot = () => void;

interface Waiter {
  bytes: number;
  grant: (release: ReleaseSlot) => void;
}

/**
 * The ingest's two in-flight budgets. A large update (or any update while the small budget is
 * off) takes one of `large` slots, as before. A small update (a claimed payload of at most
 * `smallPayloadBytes`) takes one of `small` slots and its claimed size from `smallBytes`,
 * whichever runs out first, so many small updates are read at once and their accepts commit in
 * larger groups, while their memory stays bounded by bytes. The claim is the signed manifest's
 * `payload_size`: the reader refuses any chunk that does not fit it, so a payload never grows
 * past what it was admitted with. Waiters are served in arrival order within each budget.
 */
export class VerificationSlots {
  private largeInUse = 0;
  private smallInUse = 0;
  private smallBytesInUse = 0;
  private readonly largeWaiting: Waiter[] = [];
  private readonly smallWaiting: Waiter[] = [];

  constructor(private readonly opts: VerificationSlotsOptions) {
    for (const [name, value, min] of [
      ['large', opts.large, 1],
      ['small', opts.small, 0],
      ['smallPayloadBytes', opts.smallPayloadBytes, 0],
      ['smallBytes', opts.smallBytes, 0],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < min) throw TributaryError.invalidArgument(`verification slots: ${name} must be a whole number of at least ${min}, not ${value}`);
    }
    if (opts.small > 0 && opts.smallBytes < opts.smallPayloadBytes) {
      throw TributaryError.invalidArgument(`verification slots: the small updates' byte budget (${opts.smallBytes}) must hold at least one small payload (${opts.smallPayloadBytes})`);
    }
  }

  /** Manifests that may be held at once: every slot, of both budgets. */
  get capacity(): number {
    return this.opts.large + this.opts.small;
  }

  /** Whether an update claiming `payloadBytes` goes through the small budget. */
  isSmall(payloadBytes: number): boolean {
    return this.opts.small > 0 && payloadBytes >= 0 && payloadBytes <= this.opts.smallPayloadBytes;
  }

  /** What is held now, for logs and tests. */
  get inUse(): { large: number; small: number; smallBytes: number } {
    return { large: this.largeInUse, small: this.smallInUse, smallBytes: this.smallBytesInUse };
  }

  /** Resolves with the release of a slot for an update claiming `payloadBytes`, once one is free. */
  acquire(payloadBytes: number): Promise<ReleaseSlot> {
    const small = this.isSmall(payloadBytes);
    return new Promise<ReleaseSlot>((grant) => {
      const waiter = { bytes: small ? payloadBytes : 0, grant };
      if (small) this.smallWaiting.push(waiter);
      else this.largeWaiting.push(waiter);
      this.grantWaiting();
    });
  }

  private grantWaiting(): void {
    for (let w = this.largeWaiting[0]; w !== undefined && this.largeInUse < this.opts.large; w = this.largeWaiting[0]) {
      this.largeWaiting.shift();
      this.largeInUse++;
      w.grant(this.once(() => this.largeInUse--));
    }
    for (let w = this.smallWaiting[0]; w !== undefined && this.smallInUse < this.opts.small && this.smallBytesInUse + w.bytes <= this.opts.smallBytes; w = this.smallWaiting[0]) {
      this.smallWaiting.shift();
      this.smallInUse++;
      this.smallBytesInUse += w.bytes;
      const bytes = w.bytes;
      w.grant(
        this.once(() => {
          this.smallInUse--;
          this.smallBytesInUse -= bytes;
        }),
      );
    }
  }

  private once(free: () => void): ReleaseSlot {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      free();
      this.grantWaiting();
    };
  }
}
