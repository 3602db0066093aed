// Original file: tributary.proto


export interface AuditBreak {
  'segment'?: (number);
  'index'?: (number);
  'kind'?: (string);
  'message'?: (string);
}

export interface AuditBreak__Output {
  'segment': (number);
  'index': (number);
  'kind': (string);
  'message': (string);
}
