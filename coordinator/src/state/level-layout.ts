import type { BatchOperation, Level } from 'level';

/** A LevelDB database keyed by strings; each sublevel sets its own value encoding. */
export type LevelDb = Level<string, unknown>;

// Composite keys join their parts with NUL: it sorts before every character a part may hold,
// so `part + NUL` .. `part + SOH` ranges over exactly the entries under one part.
export const SEP = '\x00';
export const AFTER_SEP = '\x01';

export function openSublevel<V>(db: LevelDb, name: string, valueEncoding: 'json' | 'utf8' | 'view' = 'json') {
  return db.sublevel<string, V>(name, { valueEncoding });
}
export type Sublevel<V> = ReturnType<typeof openSublevel<V>>;
export type LevelBatchOp = BatchOperation<LevelDb, string, unknown>;

/** The keys that start with `part` followed by SEP. */
export function prefixRange(part: string): { gt: string; lt: string } {
  return { gt: part + SEP, lt: part + AFTER_SEP };
}
