// Original file: tributary.proto


export interface RevokeSiteRequest {
  'name'?: (string);
}

export interface RevokeSiteRequest__Output {
  'name': (string);
}
