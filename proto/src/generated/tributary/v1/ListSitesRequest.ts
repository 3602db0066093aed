// Original file: tributary.proto


export interface ListSitesRequest {
  'federation'?: (string);
}

export interface ListSitesRequest__Output {
  'federation': (string);
}
