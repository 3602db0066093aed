import type { AuditEntry__Output } from '@tributary/proto';
import type { Command } from 'commander';
import { invalidValue, parseDuration } from '../../../config/values.js';
import type { RawInput } from '../../command.js';
import { optName, optString } from '../../input.js';

/** Which audit entries a command reads. */
export interface AuditFilterInput {
  readonly sinceMs: number | undefined;
  readonly principal: string | undefined;
  readonly federation: string | undefined;
}

/** `--since`, `--principal`, `--federation`: the filters `audit` and `audit export` share. */
export function auditFilterOptions(cmd: Command): void {
  cmd
    .option('--since <when>', 'only entries this recent (1h, 30m, 7d) or since this time (2026-01-31T12:00:00Z)')
    .option('--principal <key-id-or-name>', 'only entries of this principal: a key id, or a name such as a site name')
    .option('--federation <name>', 'only entries naming this federation');
}

export function parseAuditFilter(raw: RawInput, nowMs = Date.now()): AuditFilterInput {
  const since = optString(raw, 'since');
  return { sinceMs: since === undefined ? undefined : sinceMs(since, nowMs), principal: optString(raw, 'principal'), federation: optName(raw, 'federation', 'federation') };
}

/** A duration back from now, or an absolute ISO time. */
function sinceMs(text: string, nowMs: number): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const at = Date.parse(text);
    if (!Number.isFinite(at)) throw invalidValue('--since', text, 'expected a duration such as 1h, or an ISO time such as 2026-01-31T12:00:00Z');
    return at;
  }
  return Math.max(0, nowMs - parseDuration(text, '--since'));
}

/** An entry as JSON for people and SIEMs: ISO time first, then the fields of AuditEntry. */
export type AuditRecordJson = { readonly time: string } & Readonly<AuditEntry__Output>;

export function auditRecordJson(e: AuditEntry__Output): AuditRecordJson {
  return {
    time: new Date(e.atMs).toISOString(),
    atMs: e.atMs,
    keyId: e.keyId,
    principalName: e.principalName,
    peer: e.peer,
    method: e.method,
    federation: e.federation,
    site: e.site,
    runId: e.runId,
    outcome: e.outcome,
    reason: e.reason,
    detail: e.detail,
    segment: e.segment,
    index: e.index,
    hash: e.hash,
  };
}
