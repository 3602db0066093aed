// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface DownloadModelRequest {
  'federation'?: (string);
  'version'?: (number | string | Long);
  'offset'?: (number | string | Long);
  'chunkSize'?: (number);
}

export interface DownloadModelRequest__Output {
  'federation': (string);
  'version': (number);
  'offset': (number);
  'chunkSize': (number);
}
