import { sha256Hex } from '../encoding.js';
import type { CreateFederationPart } from '../generated/tributary/v1/CreateFederationPart.js';
import type { Federation__Output } from '../generated/tributary/v1/Federation.js';
import type { FederationSettings } from '../generated/tributary/v1/FederationSettings.js';
import type { CallOptions, RpcClient } from './rpc-client.js';

/** Largest model chunk a CreateFederation stream carries (well under the server's 4 MiB message limit). */
export const MODEL_CHUNK_BYTES = 1024 * 1024;

/** Initial weights to stream: their size and SHA-256, known up front (the call signs them), then their bytes. */
export interface InitialModelSource {
  size: number;
  /** Lowercase hex SHA-256 of all the bytes. */
  sha256: string;
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** In-memory initial weights as a source. */
export function initialModelOf(bytes: Uint8Array): InitialModelSource {
  return { size: bytes.byteLength, sha256: sha256Hex(bytes), chunks: [bytes] };
}

/**
 * AdminService.CreateFederation: the request (with the weights' size and digest, which the call's
 * signature covers), then the weights in chunks of at most MODEL_CHUNK_BYTES.
 */
export function createFederation(
  rpc: RpcClient,
  req: { name: string; description?: string; settings?: FederationSettings },
  model: Uint8Array | InitialModelSource,
  opts: CallOptions = {},
): Promise<Federation__Output> {
  const source = model instanceof Uint8Array ? initialModelOf(model) : model;
  const first: CreateFederationPart = {
    request: {
      name: req.name,
      description: req.description ?? '',
      settings: req.settings ?? {},
      initialModelSize: source.size,
      initialModelSha256: source.sha256,
    },
  };
  return rpc.clientStream<CreateFederationPart, Federation__Output>('CreateFederation', first, modelChunks(source.chunks), opts);
}

async function* modelChunks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncIterable<CreateFederationPart> {
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.byteLength; at += MODEL_CHUNK_BYTES) {
      yield { modelChunk: chunk.subarray(at, Math.min(chunk.byteLength, at + MODEL_CHUNK_BYTES)) };
    }
  }
}
