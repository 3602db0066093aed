import type { UpdateSummary__Output } from '@tributary/proto';
import type { RoundRecord } from '../state/index.js';
import type { Aggregator } from '../strategies/index.js';
import type { FoldPolicy } from '../updates/foldable-update.js';

/**
 * What the rounds ask of aggregation workers, when the coordinator has them: an update a worker
 * verified and folded reaches the round as a `VerifiedUpdate` with `foldedBy` set and no payload,
 * and is recorded as accepted without a fold here. Implemented outside the rounds (the
 * aggregation plane), so the rounds never reach NATS themselves.
 */
export interface DelegatedFolds {
  /**
   * Folds into `aggregator`, before it finishes, what the workers hold of the round's accepted
   * updates: each worker's verified partial, or, for a worker that is gone or whose partial is
   * refused, the updates themselves, read again from the data plane. Throws when an accepted
   * update cannot be folded at all (the round then fails rather than lose it silently).
   */
  collect(round: RoundRecord, aggregator: Aggregator, policy: FoldPolicy): Promise<void>;
  /**
   * The payload of an accepted update that a worker folded (no blob holds it), read again from
   * the data plane and checked against its digest: recovery re-folds an open round with it.
   */
  payloadOf(federation: string, update: UpdateSummary__Output): Promise<Uint8Array>;
  /** The round is over (committed or failed): workers drop its partials, its payload chunks go. */
  ended(round: RoundRecord): void;
}
