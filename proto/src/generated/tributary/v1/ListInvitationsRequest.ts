// Original file: tributary.proto


export interface ListInvitationsRequest {
  'federation'?: (string);
}

export interface ListInvitationsRequest__Output {
  'federation': (string);
}
