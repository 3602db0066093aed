// Original file: tributary.proto


export interface RevokeInvitationRequest {
  'id'?: (string);
}

export interface RevokeInvitationRequest__Output {
  'id': (string);
}
