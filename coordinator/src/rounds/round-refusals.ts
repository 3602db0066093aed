import { refusalCount, type Refusal__Output } from '@tributary/proto';

/**
 * Adds a refusal to a round's record, which holds at most one entry per (site, reason): a repeat
 * raises the entry's count and makes it describe the latest refusal, so the record stays bounded
 * by the number of sites and reason codes whatever a site sends. Returns the entry.
 */
export function recordRefusal(refused: Refusal__Output[], refusal: Refusal__Output): Refusal__Output {
  const entry = refused.find((r) => r.site === refusal.site && r.reason === refusal.reason);
  if (entry === undefined) {
    const added = { ...refusal, count: 1 };
    refused.push(added);
    return added;
  }
  const count = refusalCount(entry) + 1;
  Object.assign(entry, { updateId: refusal.updateId, message: refusal.message, atMs: refusal.atMs, count });
  return entry;
}
