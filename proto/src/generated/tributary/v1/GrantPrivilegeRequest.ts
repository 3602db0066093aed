// Original file: tributary.proto


export interface GrantPrivilegeRequest {
  'privilege'?: (string);
  'resource'?: (string);
  'grantee'?: (string);
}

export interface GrantPrivilegeRequest__Output {
  'privilege': (string);
  'resource': (string);
  'grantee': (string);
}
