import { TributaryError, keyIdOf, type AuditEntry__Output, type AuditVerification__Output, type ListAuditEntriesRequest__Output } from '@tributary/proto';
import type { AuditLog, AuditVerification, StoredAuditEntry } from '../audit/index.js';
import type { CallContext, ServiceHandlers } from './call.js';

export interface AuditServiceDeps {
  audit: Pick<AuditLog, 'entries' | 'verify'>;
  /** The coordinator's raw public key, whose signatures VerifyAuditLog checks. */
  coordinatorKey: Uint8Array;
}

/** The newest entries a ListAuditEntries call may ask for; with no limit the stream is unbounded but streamed. */
export const MAX_AUDIT_LIMIT = 100_000;
/** Longest principal or federation filter: key ids are 32 characters, names 63. */
const MAX_FILTER_CHARS = 200;

/** AdminService's audit methods: ListAuditEntries (filtered, streamed) and VerifyAuditLog. */
export function auditService(deps: AuditServiceDeps): Pick<ServiceHandlers<'AdminService'>, 'ListAuditEntries' | 'VerifyAuditLog'> {
  return {
    async *ListAuditEntries(req: ListAuditEntriesRequest__Output, ctx: CallContext): AsyncIterable<AuditEntry__Output> {
      // The privilege (admin on federation:*) is checked before the handler, by its rule in admin-access.ts.
      if (!Number.isSafeInteger(req.sinceMs) || req.sinceMs < 0) throw TributaryError.invalidArgument(`since_ms must be a time in Unix ms (got ${req.sinceMs})`);
      if (req.limit > MAX_AUDIT_LIMIT) throw TributaryError.invalidArgument(`limit is at most ${MAX_AUDIT_LIMIT} (got ${req.limit}); leave it 0 to stream every entry`);
      for (const [name, v] of [['principal', req.principal], ['federation', req.federation]] as const) {
        if (v.length > MAX_FILTER_CHARS) throw TributaryError.invalidArgument(`${name} filter is at most ${MAX_FILTER_CHARS} characters`);
      }
      const entries = deps.audit.entries({
        ...(req.sinceMs > 0 ? { sinceMs: req.sinceMs } : {}),
        ...(req.principal === '' ? {} : { principal: req.principal }),
        ...(req.federation === '' ? {} : { federation: req.federation }),
      });
      if (req.limit === 0) {
        for await (const e of entries) {
          if (ctx.signal.aborted) return;
          yield auditEntryMessage(e);
        }
        return;
      }
      // The newest `limit`: a ring of that many, whatever the log's size.
      const ring: StoredAuditEntry[] = [];
      let next = 0;
      for await (const e of entries) {
        if (ctx.signal.aborted) return;
        if (ring.length < req.limit) ring.push(e);
        else ring[next] = e;
        next = (next + 1) % req.limit;
      }
      const ordered = ring.length < req.limit ? ring : [...ring.slice(next), ...ring.slice(0, next)];
      for (const e of ordered) yield auditEntryMessage(e);
    },
    async VerifyAuditLog(_req: object, _ctx: CallContext): Promise<AuditVerification__Output> {
      // The privilege (admin on federation:*) is checked before the handler, by its rule in admin-access.ts.
      return auditVerificationMessage(await deps.audit.verify(), keyIdOf(deps.coordinatorKey));
    },
  };
}

export function auditEntryMessage(e: StoredAuditEntry): AuditEntry__Output {
  return {
    segment: e.segment,
    index: e.index,
    atMs: e.atMs,
    keyId: e.keyId,
    principalName: e.name,
    peer: e.peer,
    method: e.method,
    federation: e.federation,
    site: e.site,
    runId: e.runId,
    outcome: e.outcome,
    reason: e.reason,
    hash: e.hash,
    detail: e.detail ?? '',
  };
}

export function auditVerificationMessage(v: AuditVerification, coordinatorKeyId: string): AuditVerification__Output {
  return {
    ok: v.ok,
    segments: v.segments,
    firstSegment: v.firstSegment,
    entries: v.entries,
    signatures: v.signatures,
    unsignedEntries: v.unsignedEntries,
    headHash: v.headHash,
    broken: v.broken === undefined ? null : { segment: v.broken.segment, index: v.broken.index, kind: v.broken.kind, message: v.broken.message },
    coordinatorKeyId,
  };
}
