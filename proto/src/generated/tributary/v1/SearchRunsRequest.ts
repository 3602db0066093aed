// Original file: tributary.proto


export interface SearchRunsRequest {
  'federation'?: (string);
  'filter'?: (string);
  'orderBy'?: (string)[];
  'maxResults'?: (number);
  'pageToken'?: (string);
}

export interface SearchRunsRequest__Output {
  'federation': (string);
  'filter': (string);
  'orderBy': (string)[];
  'maxResults': (number);
  'pageToken': (string);
}
