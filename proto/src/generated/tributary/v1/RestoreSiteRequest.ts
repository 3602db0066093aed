// Original file: tributary.proto


export interface RestoreSiteRequest {
  'name'?: (string);
}

export interface RestoreSiteRequest__Output {
  'name': (string);
}
