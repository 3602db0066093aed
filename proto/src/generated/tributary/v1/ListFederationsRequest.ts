// Original file: tributary.proto


export interface ListFederationsRequest {
}

export interface ListFederationsRequest__Output {
}
