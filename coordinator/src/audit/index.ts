export { AuditLog, readAuditEntries, type AuditFilter, type AuditLogOptions, type StoredAuditEntry } from './audit-log.js';
export { CallAudit, type EndedCall } from './call-audit.js';
export { METHOD_EFFECTS, methodEffect, targetOf, type CallTarget, type MethodEffect } from './methods.js';
export { AUDIT_OUTCOMES, type AuditEvent, type AuditOutcome } from './records.js';
export { verifyAuditLog, type AuditBreak, type AuditBreakKind, type AuditVerification } from './verify.js';
