import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** Absolute path of tributary.proto (next to the package's src/ and dist/ folders). */
export const PROTO_PATH: string = fileURLToPath(new URL('../tributary.proto', import.meta.url));

/** Conversion options shared by the gRPC loader and the NATS codecs (and the generated types). */
export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

let root: protobuf.Root | undefined;

/** The protobufjs root of tributary.proto, loaded once. */
export function protoRoot(): protobuf.Root {
  if (root === undefined) {
    const loaded = new protobuf.Root().loadSync(PROTO_PATH, { keepCase: PROTO_LOADER_OPTIONS.keepCase });
    loaded.resolveAll();
    root = loaded;
  }
  return root;
}
