// Original file: tributary.proto


export interface FoldVerdict {
  'epoch'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'updateId'?: (string);
  'manifestSha256'?: (string);
  'accepted'?: (boolean);
  'reason'?: (string);
  'message'?: (string);
  'worker'?: (string);
  'clipped'?: (boolean);
}

export interface FoldVerdict__Output {
  'epoch': (string);
  'runId': (string);
  'round': (number);
  'updateId': (string);
  'manifestSha256': (string);
  'accepted': (boolean);
  'reason': (string);
  'message': (string);
  'worker': (string);
  'clipped': (boolean);
}
