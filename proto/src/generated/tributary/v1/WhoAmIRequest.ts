// Original file: tributary.proto


export interface WhoAmIRequest {
}

export interface WhoAmIRequest__Output {
}
