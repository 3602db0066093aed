import { keyIdOf } from '@tributary/proto';
import { GENESIS_HASH, MAX_RECORD_BYTES, hashLine, parseLine, signatureVerifies } from './records.js';
import { listSegments, readLines, segmentPath } from './segments.js';

/** Why the chain breaks where it does. */
export type AuditBreakKind = 'UNREADABLE' | 'OUT_OF_PLACE' | 'CHANGED' | 'SIGNATURE_INVALID' | 'SEGMENT_MISSING' | 'SEGMENT_UNSEALED';

/** The first record the chain does not vouch for: segment, index in it, and why. */
export interface AuditBreak {
  readonly segment: number;
  readonly index: number;
  readonly kind: AuditBreakKind;
  readonly message: string;
}

export interface AuditVerification {
  readonly ok: boolean;
  /** Segment files checked. */
  readonly segments: number;
  /** The oldest segment kept (older ones are removed by retention); 0 when there is none. */
  readonly firstSegment: number;
  readonly entries: number;
  /** Signed heads and seals that verified. */
  readonly signatures: number;
  /** Entries after the last signed head: chained, but no signature vouches for them yet. */
  readonly unsignedEntries: number;
  /** Hash of the last record checked: publish it elsewhere to pin the log up to here. */
  readonly headHash: string;
  readonly broken?: AuditBreak;
}

/**
 * Checks an audit directory: every line is a record in its place (segment and index), holds the
 * hash of the line before it, every head and seal verifies with the coordinator's public key,
 * every segment but the last ends with a seal, and no segment is missing between the first and
 * the last. Stops at the first break and names it. Reads the segments as streams.
 *
 * A log's oldest segments may have been removed by retention: the first segment kept is trusted
 * to start where its predecessor's seal ended. A write still in progress (a last line without
 * its newline) is not a break: the coordinator has not answered anyone for it.
 */
export async function verifyAuditLog(dir: string, coordinatorPublicKey: Uint8Array): Promise<AuditVerification> {
  const coordinatorKeyId = keyIdOf(coordinatorPublicKey);
  const segments = await listSegments(dir);
  let entries = 0;
  let signatures = 0;
  let unsignedEntries = 0;
  let prevHash: string | undefined = undefined;
  let prevAt: { segment: number; index: number } | undefined;
  const result = (broken?: AuditBreak): AuditVerification => ({
    ok: broken === undefined,
    segments: segments.length,
    firstSegment: segments[0] ?? 0,
    entries,
    signatures,
    unsignedEntries,
    headHash: prevHash ?? GENESIS_HASH,
    ...(broken === undefined ? {} : { broken }),
  });
  for (const [n, seg] of segments.entries()) {
    const first = segments[0] ?? seg;
    if (seg !== first + n) return result({ segment: first + n, index: 0, kind: 'SEGMENT_MISSING', message: `segment ${first + n} is missing` });
    // The first segment of a log starts from the genesis hash; a later one kept after retention, from a seal no longer here.
    if (n === 0) prevHash = seg === 1 ? GENESIS_HASH : undefined;
    let index = 0;
    let sealed = false;
    for await (const line of readLines(segmentPath(dir, seg))) {
      if (line.torn && n === segments.length - 1) break;
      const at = { segment: seg, index };
      if (sealed) return result({ ...at, kind: 'OUT_OF_PLACE', message: 'a record after the seal of its segment' });
      if (line.tooLong) return result({ ...at, kind: 'UNREADABLE', message: `a line longer than ${MAX_RECORD_BYTES} bytes` });
      const parsed = parseLine(line.text);
      if (!parsed.ok) return result({ ...at, kind: 'UNREADABLE', message: parsed.why });
      const r = parsed.record;
      if (r.seg !== seg || r.i !== index) {
        return result({ ...at, kind: 'OUT_OF_PLACE', message: `the record here says segment ${r.seg} index ${r.i}: a record was removed, added or moved` });
      }
      if (prevHash !== undefined && r.prev !== prevHash && prevAt !== undefined) {
        return result({ ...prevAt, kind: 'CHANGED', message: `its bytes do not hash to what the next record (segment ${seg} index ${index}) holds: it was changed` });
      }
      if (prevHash !== undefined && r.prev !== prevHash) {
        return result({ ...at, kind: 'CHANGED', message: 'its prev is not the genesis hash of a log' });
      }
      if (r.kind === 'entry') {
        entries += 1;
        unsignedEntries += 1;
      } else {
        if (r.keyId !== coordinatorKeyId) {
          return result({ ...at, kind: 'SIGNATURE_INVALID', message: `the ${r.kind} is signed by key ${r.keyId}, not the coordinator's key ${coordinatorKeyId}` });
        }
        if (!signatureVerifies(line.text, coordinatorPublicKey)) {
          return result({ ...at, kind: 'SIGNATURE_INVALID', message: `the ${r.kind} signature does not verify with the coordinator's key ${coordinatorKeyId}` });
        }
        signatures += 1;
        unsignedEntries = 0;
        sealed = r.kind === 'seal';
      }
      prevHash = hashLine(line.text);
      prevAt = at;
      index += 1;
    }
    if (!sealed && n < segments.length - 1) {
      return result({ segment: seg, index, kind: 'SEGMENT_UNSEALED', message: `segment ${seg} ends without a seal, yet segment ${seg + 1} follows: its last records were removed` });
    }
  }
  return result();
}
