// Original file: tributary.proto


export interface RevokePrivilegeRequest {
  'privilege'?: (string);
  'resource'?: (string);
  'grantee'?: (string);
}

export interface RevokePrivilegeRequest__Output {
  'privilege': (string);
  'resource': (string);
  'grantee': (string);
}
