import { Reason, TributaryError, isTributaryError, type ServiceName } from '@tributary/proto';
import type { KnownCaller } from '../auth/authenticator.js';
import type { Principal } from '../auth/principal.js';
import type { AuditLog } from './audit-log.js';
import { methodEffect, targetOf } from './methods.js';
import type { AuditOutcome } from './records.js';

/** How a gRPC call ended, as the call wrapper knows it. */
export interface EndedCall {
  readonly service: ServiceName;
  /** Method name within the service (`StartRun`). */
  readonly method: string;
  /** Full path (`/tributary.v1.AdminService/StartRun`), as recorded. */
  readonly path: string;
  readonly peer: string;
  /** Set once the call was authenticated. */
  readonly principal?: Principal;
  /** Set when authentication failed after the key was found. */
  readonly knownCaller?: KnownCaller;
  /** The decoded first request message, when it was decoded. */
  readonly request?: object;
  /** Undefined when the call succeeded. */
  readonly error?: unknown;
  /** What the handler said the call changed. */
  readonly detail?: string;
}

export interface CallAuditOptions {
  readonly log: AuditLog;
  /** The federation of a run, for entries whose request names only the run. */
  readonly federationOfRun: (runId: string) => Promise<string | undefined>;
}

/**
 * Decides which calls the audit log records and records them: every state-changing call,
 * whatever its outcome, and every denied call, once the caller's key is known. Strangers (an
 * unknown key, a failed enrollment) and rate-limited calls are only counted where they are
 * refused, so they cannot fill the disk; successful reads are not recorded.
 */
export class CallAudit {
  constructor(private readonly opts: CallAuditOptions) {}

  /** Appends the call's entry if it is audited; resolves once it is stored (before the caller is answered). */
  async ended(call: EndedCall): Promise<void> {
    const error = call.error === undefined ? undefined : TributaryError.from(call.error);
    const outcome: AuditOutcome = error === undefined ? 'ok' : error.code === 'PERMISSION_DENIED' || error.code === 'UNAUTHENTICATED' ? 'denied' : 'refused';
    const p = call.principal;
    const who = p !== undefined ? { keyId: p.keyId, name: p.role === 'site' ? p.site.name : p.role === 'admin' ? p.name : '' } : call.knownCaller;
    if (who === undefined) return;
    if (p?.role === 'enrolling' && outcome !== 'ok') return;
    if (error?.reason === Reason.RATE_LIMITED) return;
    if (outcome !== 'denied' && methodEffect(call.service, call.method) === 'read') return;
    const target = targetOf(call.method, call.request);
    const federation = target.federation === '' && target.runId !== '' ? ((await this.opts.federationOfRun(target.runId).catch(() => undefined)) ?? '') : target.federation;
    await this.opts.log.append({
      atMs: Date.now(),
      keyId: who.keyId,
      name: who.name ?? '',
      peer: call.peer,
      method: call.path,
      federation,
      site: target.site,
      runId: target.runId,
      outcome,
      reason: error === undefined ? '' : auditedReason(error),
      ...(call.detail === undefined ? {} : { detail: call.detail }),
    });
  }
}

/** The precise reason of a failure: AUTH_FAILED hides its cause from callers, not from the audit log. */
function auditedReason(e: TributaryError): string {
  return e.reason === Reason.AUTH_FAILED && isTributaryError(e.cause) ? e.cause.reason : e.reason;
}
