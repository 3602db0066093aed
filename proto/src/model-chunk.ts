// A `ModelChunk` written straight into its wire form, so a model download reads each chunk of
// the blob into the very buffer that goes out, instead of reading it into one buffer and having
// the protobuf encoder copy it into another.
import type { ModelChunk__Output } from './generated/tributary/v1/ModelChunk.js';

/** Marks a response object that carries its own encoding; the server sends those bytes as they are. */
export const PRE_ENCODED: unique symbol = Symbol('tributary.preEncoded');

/** A response with its encoding attached (the object stays a valid message for anyone reading it). */
export type PreEncoded<T> = T & { readonly [PRE_ENCODED]: Buffer };

/** The encoding attached to `response`, if any. */
export function preEncodedOf(response: unknown): Buffer | undefined {
  if (typeof response !== 'object' || response === null) return undefined;
  const bytes = (response as { [PRE_ENCODED]?: unknown })[PRE_ENCODED];
  return Buffer.isBuffer(bytes) ? bytes : undefined;
}

/** The header fields repeated on every chunk. */
export type ModelChunkHeader = Pick<ModelChunk__Output, 'version' | 'totalSize' | 'sha256'>;

// Field numbers of ModelChunk in tributary.proto.
const VERSION = 1;
const OFFSET = 2;
const DATA = 3;
const TOTAL_SIZE = 4;
const SHA256 = 5;
const VARINT = 0;
const LENGTH_DELIMITED = 2;

/**
 * A `ModelChunk` of `dataLength` bytes at `offset`, encoded with its data left to fill: the
 * chunk (its `data` a view of the encoding) and the encoding. Fill `chunk.data` before sending.
 */
export function allocateModelChunk(header: ModelChunkHeader, offset: number, dataLength: number): PreEncoded<ModelChunk__Output> {
  const sha = Buffer.from(header.sha256, 'utf8');
  const fields: Array<[number, number]> = [
    [VERSION, header.version],
    [OFFSET, offset],
    [TOTAL_SIZE, header.totalSize],
  ];
  let size = 0;
  for (const [field, value] of fields) if (value !== 0) size += varintLength(field << 3) + varintLength(value);
  if (sha.length > 0) size += varintLength((SHA256 << 3) | LENGTH_DELIMITED) + varintLength(sha.length) + sha.length;
  if (dataLength > 0) size += varintLength((DATA << 3) | LENGTH_DELIMITED) + varintLength(dataLength) + dataLength;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [field, value] of fields) {
    if (value === 0) continue;
    at = writeVarint(out, at, (field << 3) | VARINT);
    at = writeVarint(out, at, value);
  }
  if (sha.length > 0) {
    at = writeVarint(out, at, (SHA256 << 3) | LENGTH_DELIMITED);
    at = writeVarint(out, at, sha.length);
    at += sha.copy(out, at);
  }
  if (dataLength > 0) {
    at = writeVarint(out, at, (DATA << 3) | LENGTH_DELIMITED);
    at = writeVarint(out, at, dataLength);
  }
  const data = out.subarray(at, at + dataLength);
  return { version: header.version, totalSize: header.totalSize, sha256: header.sha256, offset, data, [PRE_ENCODED]: out };
}

function varintLength(value: number): number {
  let n = 1;
  for (let v = value; v >= 128; v = Math.floor(v / 128)) n++;
  return n;
}

/** Writes a non-negative safe integer as a protobuf varint; returns the next position. */
function writeVarint(out: Buffer, at: number, value: number): number {
  let v = value;
  while (v >= 128) {
    out[at++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}
