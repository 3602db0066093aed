// Original file: tributary.proto


export interface HeartbeatResponse {
  'continue'?: (boolean);
}

export interface HeartbeatResponse__Output {
  'continue': (boolean);
}
