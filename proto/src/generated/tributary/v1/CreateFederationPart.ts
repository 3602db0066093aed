// Original file: tributary.proto

import type { CreateFederationRequest as _tributary_v1_CreateFederationRequest, CreateFederationRequest__Output as _tributary_v1_CreateFederationRequest__Output } from '../../tributary/v1/CreateFederationRequest.js';

export interface CreateFederationPart {
  'request'?: (_tributary_v1_CreateFederationRequest | null);
  'modelChunk'?: (Buffer | Uint8Array | string);
  'part'?: "request"|"modelChunk";
}

export interface CreateFederationPart__Output {
  'request'?: (_tributary_v1_CreateFederationRequest__Output | null);
  'modelChunk'?: (Buffer);
  'part'?: "request"|"modelChunk";
}
