import { TributaryError } from './errors.js';
import { assertName, isValidName } from './names.js';

/** JetStream stream of signed update manifests. */
export const STREAM_UPDATES = 'TRIB_UPDATES';
/** JetStream stream of update payload chunks. */
export const STREAM_PAYLOADS = 'TRIB_PAYLOADS';
/** JetStream stream of signed metric batches. */
export const STREAM_METRICS = 'TRIB_METRICS';

/** Header carrying a payload chunk's 0-based index, in decimal. */
export const CHUNK_INDEX_HEADER = 'Trib-Chunk';
/** 960 KiB: a chunk plus its headers stays under NATS's default 1 MiB max_payload. */
export const DEFAULT_CHUNK_SIZE = 983_040;
/**
 * How far out of order an update's chunks may be stored: a sender publishes chunk `i` only once
 * every chunk up to `i - CHUNK_WINDOW` is acknowledged, so a chunk retried after a NATS failure
 * lands fewer than CHUNK_WINDOW places late, and the reader reassembles within that window.
 */
export const CHUNK_WINDOW = 16;

// Run and update ids become single subject tokens: no dots, wildcards or spaces.
export const ID_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
export const ROUND_TOKEN = /^(0|[1-9][0-9]{0,9})$/;
const MAX_ROUND = 0xffff_ffff;

export interface UpdateSubject {
  federation: string;
  runId: string;
  round: number;
  site: string;
}

export interface PayloadSubject {
  federation: string;
  site: string;
  updateId: string;
}

export const subjects = {
  /** trib.<fed>.update.<run>.<round>.<site> */
  update(federation: string, runId: string, round: number, site: string): string {
    return `trib.${assertName('federation', federation)}.update.${idToken('run id', runId)}.${roundToken(round)}.${assertName('site', site)}`;
  },
  /** trib.<fed>.payload.<site>.<updateId>: an update's payload chunks, named by their sender. */
  sitePayload(federation: string, site: string, updateId: string): string {
    return `trib.${assertName('federation', federation)}.payload.${assertName('site', site)}.${idToken('update id', updateId)}`;
  },
  /** trib.<fed>.metrics.<run>.<site> */
  metrics(federation: string, runId: string, site: string): string {
    return `trib.${assertName('federation', federation)}.metrics.${idToken('run id', runId)}.${assertName('site', site)}`;
  },
  /** trib.<fed>.verdict.<site>: verdicts (SignedEnvelope of kind "verdict", signed by the coordinator) on core NATS. */
  verdict(federation: string, site: string): string {
    return `trib.${assertName('federation', federation)}.verdict.${assertName('site', site)}`;
  },
  /**
   * The subjects a site may publish on in `federation`, and nothing else: its update manifests,
   * payload chunks and metric batches (each names the site, so a NATS permission binds it).
   */
  sitePublishing(federation: string, site: string): string[] {
    const f = assertName('federation', federation);
    const s = assertName('site', site);
    return [`trib.${f}.update.*.*.${s}`, `trib.${f}.payload.${s}.*`, `trib.${f}.metrics.*.${s}`];
  },
  /**
   * The inbox prefix of `site`'s NATS connection (nats.js `inboxPrefix`): replies to it, JetStream
   * publish acks included, arrive under `<prefix>.>`, which only that site may subscribe to.
   */
  inboxPrefix(site: string): string {
    return `_INBOX_${assertName('site', site)}`;
  },
  updateWildcard: 'trib.*.update.*.*.*',
  /** Payload chunk subjects (`sitePayload`). */
  payloadWildcard: 'trib.*.payload.*.*',
  metricsWildcard: 'trib.*.metrics.*.*',
  verdictWildcard: 'trib.*.verdict.*',
  /** The tokens of an update subject, or undefined when it is not one. */
  parseUpdate(subject: string): UpdateSubject | undefined {
    if (typeof subject !== 'string') return undefined;
    const t = subject.split('.');
    if (t.length !== 6) return undefined;
    const [trib, federation, kind, runId, round, site] = t as [string, string, string, string, string, string];
    if (trib !== 'trib' || kind !== 'update') return undefined;
    if (!isValidName(federation) || !isValidName(site) || !ID_TOKEN.test(runId) || !ROUND_TOKEN.test(round)) return undefined;
    const n = Number(round);
    if (n > MAX_ROUND) return undefined;
    return { federation, runId, round: n, site };
  },
  /** The tokens of a site-bound payload subject (`sitePayload`), or undefined when it is not one. */
  parsePayload(subject: string): PayloadSubject | undefined {
    if (typeof subject !== 'string') return undefined;
    const t = subject.split('.');
    if (t.length !== 5) return undefined;
    const [trib, federation, kind, site, updateId] = t as [string, string, string, string, string];
    if (trib !== 'trib' || kind !== 'payload') return undefined;
    if (!isValidName(federation) || !isValidName(site) || !ID_TOKEN.test(updateId)) return undefined;
    return { federation, site, updateId };
  },
} as const;

function idToken(what: string, id: string): string {
  if (typeof id === 'string' && ID_TOKEN.test(id)) return id;
  throw TributaryError.invalidArgument(`invalid ${what} ${JSON.stringify(id)}: must match ${ID_TOKEN.source}`);
}

function roundToken(round: number): string {
  if (Number.isInteger(round) && round >= 0 && round <= MAX_ROUND) return String(round);
  throw TributaryError.invalidArgument(`invalid round ${String(round)}: must be an integer in [0, ${MAX_ROUND}]`);
}
