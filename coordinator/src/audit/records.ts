import { createHash } from 'node:crypto';
import { signBytesNative, verifyBytes, type SigningKey, isSha256Hex } from '@tributary/proto';

/**
 * The stored form of the audit log: one JSON record a line, in segment files. A record's hash is
 * the SHA-256 of its line's bytes as stored (never of a re-encoding), and every record holds the
 * hash of the one before it (`prev`), so changing, removing or moving a line breaks the chain at
 * the next one. Heads and seals are records too: they carry the coordinator's Ed25519 signature
 * over their own bytes without the signature, which covers `prev` and with it everything before.
 */

/** Prefix of the bytes a head or seal signature covers, so no other signed message can pass for one. */
export const AUDIT_SIGNING_CONTEXT = 'tributary/v1/audit-head\0';
/** `prev` of the very first record of a log. */
export const GENESIS_HASH = '0'.repeat(64);
/** Version of the record format. */
export const AUDIT_RECORD_VERSION = 1;
/** Longest line a reader accepts; a record is a few hundred bytes. */
export const MAX_RECORD_BYTES = 16 * 1024;
/** Longest text field kept in an entry: names are 63 characters, methods and peers short; anything longer is cut. */
export const MAX_FIELD_CHARS = 200;
/** Longest detail kept in an entry (an update's old and new values). */
export const MAX_DETAIL_CHARS = 4000;

/** How a call or update ended, as the audit log records it. */
export type AuditOutcome = 'ok' | 'denied' | 'refused';
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['ok', 'denied', 'refused'];

/** What an entry says happened; empty strings where a field does not apply. */
export interface AuditEvent {
  /** Milliseconds since the epoch. */
  readonly atMs: number;
  /** Key id of the principal that acted. */
  readonly keyId: string;
  /** The principal's name when known (a site's name; a named admin principal's). */
  readonly name: string;
  /** Peer address of a gRPC call; `nats` for an update. */
  readonly peer: string;
  /** gRPC method path, or `nats:update` for an update. */
  readonly method: string;
  readonly federation: string;
  readonly site: string;
  readonly runId: string;
  readonly outcome: AuditOutcome;
  /** Reason code of a denial or refusal; empty when the outcome is ok. */
  readonly reason: string;
  /** What a call changed, when its handler says (an update's old and new values); absent otherwise. */
  readonly detail?: string;
}

interface Position {
  /** Segment number, from 1. */
  readonly seg: number;
  /** Index of the record in its segment, from 0. */
  readonly i: number;
  /** Hash of the record before it (the previous segment's seal for a segment's first record). */
  readonly prev: string;
}

export type AuditRecord =
  | (Position & { readonly kind: 'entry'; readonly event: AuditEvent })
  | (Position & { readonly kind: 'head' | 'seal'; readonly atMs: number; readonly keyId: string; readonly sig: string });

/** A line and its hash. */
export interface EncodedRecord {
  readonly line: string;
  readonly hash: string;
}

export function hashLine(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The line of an entry record. Field order is fixed; the line is what is hashed. */
export function encodeEntry(pos: Position, e: AuditEvent): EncodedRecord {
  const line = JSON.stringify({
    v: AUDIT_RECORD_VERSION,
    seg: pos.seg,
    i: pos.i,
    prev: pos.prev,
    kind: 'entry',
    at: new Date(e.atMs).toISOString(),
    keyId: clip(e.keyId),
    name: clip(e.name),
    peer: clip(e.peer),
    method: clip(e.method),
    federation: clip(e.federation),
    site: clip(e.site),
    run: clip(e.runId),
    outcome: e.outcome,
    reason: clip(e.reason),
    // Last and only when there is one, so entries without it keep the format they always had.
    ...(e.detail ? { detail: clip(e.detail, MAX_DETAIL_CHARS) } : {}),
  });
  return { line, hash: hashLine(line) };
}

/** The line of a head or seal record, signed with the coordinator's key. */
export function encodeSigned(pos: Position, kind: 'head' | 'seal', atMs: number, key: SigningKey): EncodedRecord {
  const unsigned = JSON.stringify({ v: AUDIT_RECORD_VERSION, seg: pos.seg, i: pos.i, prev: pos.prev, kind, at: new Date(atMs).toISOString(), keyId: key.keyId });
  const sig = Buffer.from(signBytesNative(key, signingBytes(unsigned))).toString('base64');
  // The signature goes last, so the signed bytes are the line up to it: verifiable without re-encoding.
  const line = `${unsigned.slice(0, -1)},"sig":${JSON.stringify(sig)}}`;
  return { line, hash: hashLine(line) };
}

/** Whether a head or seal line's signature verifies with the coordinator's raw public key. */
export function signatureVerifies(line: string, publicKey: Uint8Array): boolean {
  const at = line.lastIndexOf(',"sig":');
  if (at < 0) return false;
  let sig: unknown;
  try {
    sig = JSON.parse(line.slice(at + ',"sig":'.length, -1));
  } catch {
    return false;
  }
  if (typeof sig !== 'string') return false;
  return verifyBytes(publicKey, signingBytes(`${line.slice(0, at)}}`), Buffer.from(sig, 'base64'));
}

function signingBytes(unsigned: string): Uint8Array {
  return Buffer.from(AUDIT_SIGNING_CONTEXT + unsigned, 'utf8');
}

/** A stored line read back: the record, or why it is not one. */
export type ParsedLine = { readonly ok: true; readonly record: AuditRecord } | { readonly ok: false; readonly why: string };


/** Parses a stored line without trusting it: every field is checked for type. */
export function parseLine(line: string): ParsedLine {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return { ok: false, why: 'not a JSON record' };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, why: 'not a JSON object' };
  const r = o as Record<string, unknown>;
  if (r['v'] !== AUDIT_RECORD_VERSION) return { ok: false, why: `unknown record version ${JSON.stringify(r['v'])}` };
  const seg = r['seg'];
  const i = r['i'];
  const prev = r['prev'];
  if (!isCount(seg) || seg < 1 || !isCount(i) || typeof prev !== 'string' || !isSha256Hex(prev)) return { ok: false, why: 'missing or invalid seg, i or prev' };
  const atMs = typeof r['at'] === 'string' ? Date.parse(r['at']) : NaN;
  if (!Number.isFinite(atMs)) return { ok: false, why: 'missing or invalid time' };
  const pos = { seg, i, prev };
  const kind = r['kind'];
  if (kind === 'head' || kind === 'seal') {
    const keyId = r['keyId'];
    const sig = r['sig'];
    if (typeof keyId !== 'string' || typeof sig !== 'string') return { ok: false, why: `a ${kind} without keyId or sig` };
    return { ok: true, record: { ...pos, kind, atMs, keyId, sig } };
  }
  if (kind !== 'entry') return { ok: false, why: `unknown record kind ${JSON.stringify(kind)}` };
  const text = (k: string): string | undefined => (typeof r[k] === 'string' ? r[k] : undefined);
  const outcome = text('outcome');
  const fields = ['keyId', 'name', 'peer', 'method', 'federation', 'site', 'run', 'reason'].map(text);
  if (outcome === undefined || !(AUDIT_OUTCOMES as readonly string[]).includes(outcome) || fields.some((f) => f === undefined)) {
    return { ok: false, why: 'an entry with missing or invalid fields' };
  }
  const [keyId, name, peer, method, federation, site, runId, reason] = fields as string[];
  const detail = r['detail'];
  if (detail !== undefined && typeof detail !== 'string') return { ok: false, why: 'an entry with an invalid detail' };
  return {
    ok: true,
    record: {
      ...pos,
      kind,
      event: { atMs, keyId: keyId!, name: name!, peer: peer!, method: method!, federation: federation!, site: site!, runId: runId!, outcome: outcome as AuditOutcome, reason: reason!, ...(detail === undefined ? {} : { detail }) },
    },
  };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function clip(s: string, max = MAX_FIELD_CHARS): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
