// Original file: tributary.proto


export interface WatchTasksRequest {
  'federation'?: (string);
}

export interface WatchTasksRequest__Output {
  'federation': (string);
}
