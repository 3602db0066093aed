// Original file: tributary.proto


export interface ListPrincipalsRequest {
}

export interface ListPrincipalsRequest__Output {
}
