// Original file: tributary.proto


export interface RemoveSiteRequest {
  'name'?: (string);
}

export interface RemoveSiteRequest__Output {
  'name': (string);
}
