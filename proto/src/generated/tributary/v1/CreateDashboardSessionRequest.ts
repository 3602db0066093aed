// Original file: tributary.proto


export interface CreateDashboardSessionRequest {
}

export interface CreateDashboardSessionRequest__Output {
}
