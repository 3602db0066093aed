// Original file: tributary.proto

import type { Invitation as _tributary_v1_Invitation, Invitation__Output as _tributary_v1_Invitation__Output } from '../../tributary/v1/Invitation.js';

export interface ListInvitationsResponse {
  'invitations'?: (_tributary_v1_Invitation)[];
}

export interface ListInvitationsResponse__Output {
  'invitations': (_tributary_v1_Invitation__Output)[];
}
