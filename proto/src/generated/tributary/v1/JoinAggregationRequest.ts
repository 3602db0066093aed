// Original file: tributary.proto


export interface JoinAggregationRequest {
  'userPublicKey'?: (string);
  'ttlSeconds'?: (number);
}

export interface JoinAggregationRequest__Output {
  'userPublicKey': (string);
  'ttlSeconds': (number);
}
