// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface ModelChunk {
  'version'?: (number | string | Long);
  'offset'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
  'totalSize'?: (number | string | Long);
  'sha256'?: (string);
}

export interface ModelChunk__Output {
  'version': (number);
  'offset': (number);
  'data': (Buffer);
  'totalSize': (number);
  'sha256': (string);
}
