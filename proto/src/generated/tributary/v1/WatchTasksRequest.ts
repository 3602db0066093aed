// Original file: tributary.proto


export interface WatchTasksRequest {
  'federation'?: (string);
  'joinedRuns'?: (string)[];
}

export interface WatchTasksRequest__Output {
  'federation': (string);
  'joinedRuns': (string)[];
}
