// Original file: tributary.proto


export interface VerifyAuditLogRequest {
}

export interface VerifyAuditLogRequest__Output {
}
