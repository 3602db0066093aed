import type { Refusal__Output } from './generated/tributary/v1/Refusal.js';

/**
 * Refusals an entry of a round's `refused` stands for: its `count`, or 1 in rounds recorded
 * before entries were counted.
 */
export function refusalCount(entry: Pick<Refusal__Output, 'count'>): number {
  return Math.max(1, entry.count ?? 0);
}

/** Refusals in a round's `refused`, in all. */
export function totalRefusals(refused: readonly Pick<Refusal__Output, 'count'>[]): number {
  return refused.reduce((n, r) => n + refusalCount(r), 0);
}
