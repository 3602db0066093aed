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

// Run and update ids become single subject tokens: no dots, wildcards or spaces.
const ID_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
const ROUND_TOKEN = /^(0|[1-9][0-9]{0,9})$/;
const MAX_ROUND = 0xffff_ffff;

export interface UpdateSubject {
  federation: string;
  runId: string;
  round: number;
  site: string;
}

export const subjects = {
  /** trib.<fed>.update.<run>.<round>.<site> */
  update(federation: string, runId: string, round: number, site: string): string {
    return `trib.${assertName('federation', federation)}.update.${idToken('run id', runId)}.${roundToken(round)}.${assertName('site', site)}`;
  },
  /** trib.<fed>.payload.<updateId> */
  payload(federation: string, updateId: string): string {
    return `trib.${assertName('federation', federation)}.payload.${idToken('update id', updateId)}`;
  },
  /** trib.<fed>.metrics.<run>.<site> */
  metrics(federation: string, runId: string, site: string): string {
    return `trib.${assertName('federation', federation)}.metrics.${idToken('run id', runId)}.${assertName('site', site)}`;
  },
  /** trib.<fed>.verdict.<site>: UpdateStatus messages on core NATS. */
  verdict(federation: string, site: string): string {
    return `trib.${assertName('federation', federation)}.verdict.${assertName('site', site)}`;
  },
  updateWildcard: 'trib.*.update.*.*.*',
  payloadWildcard: 'trib.*.payload.*',
  metricsWildcard: 'trib.*.metrics.*.*',
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
} as const;

function idToken(what: string, id: string): string {
  if (typeof id === 'string' && ID_TOKEN.test(id)) return id;
  throw TributaryError.invalidArgument(`invalid ${what} ${JSON.stringify(id)}: must match ${ID_TOKEN.source}`);
}

function roundToken(round: number): string {
  if (Number.isInteger(round) && round >= 0 && round <= MAX_ROUND) return String(round);
  throw TributaryError.invalidArgument(`invalid round ${String(round)}: must be an integer in [0, ${MAX_ROUND}]`);
}
