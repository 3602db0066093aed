import { randomBytes } from 'node:crypto';
import protobuf from 'protobufjs';
import { Reason, TributaryError, type ReasonCode } from './errors.js';
import type { MetricBatch, MetricBatch__Output } from './generated/tributary/v1/MetricBatch.js';
import type { SignedEnvelope, SignedEnvelope__Output } from './generated/tributary/v1/SignedEnvelope.js';
import type { UpdateManifest, UpdateManifest__Output } from './generated/tributary/v1/UpdateManifest.js';
import type { UpdateStatus, UpdateStatus__Output } from './generated/tributary/v1/UpdateStatus.js';
import { PROTO_LOADER_OPTIONS, protoRoot } from './schema.js';

/** 128 random bits as 32 lowercase hex characters. */
export const UPDATE_ID_PATTERN = /^[0-9a-f]{32}$/;

export function newUpdateId(): string {
  return randomBytes(16).toString('hex');
}

export interface MessageCodec<In, Out> {
  encode(message: In): Uint8Array;
  decode(bytes: Uint8Array): Out;
}

// Codecs for the messages that travel over NATS, with the gRPC loader's conversion options so
// decoded objects have the generated `__Output` shapes (bytes fields decode to Buffer).
export function messageCodec<In extends object, Out>(typeName: string, malformedReason: ReasonCode): MessageCodec<In, Out> {
  let type: protobuf.Type | undefined;
  const lookup = (): protobuf.Type => (type ??= protoRoot().lookupType(`tributary.v1.${typeName}`));
  return {
    encode(message: In): Uint8Array {
      const t = lookup();
      let m: protobuf.Message;
      try {
        m = t.fromObject(message as Record<string, unknown>);
      } catch (err) {
        throw TributaryError.of(
          Reason.INVALID_ARGUMENT,
          `cannot encode ${typeName}: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
      return t.encode(m).finish();
    },
    decode(bytes: Uint8Array): Out {
      const t = lookup();
      try {
        // protobufjs reads a Buffer leniently (truncated strings are clamped); a plain
        // Uint8Array gets the bounds-checked reader.
        const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const decoded = t.toObject(t.decode(view), PROTO_LOADER_OPTIONS);
        bytesFieldsToBuffers(t, decoded);
        return decoded as Out;
      } catch (err) {
        throw TributaryError.of(
          malformedReason,
          `malformed ${typeName}: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
    },
  };
}

/** Turns the Uint8Array views of `bytes` fields into Buffers (views too), as the generated types say. */
function bytesFieldsToBuffers(type: protobuf.Type, obj: Record<string, unknown>): void {
  for (const field of type.fieldsArray) {
    const value = obj[field.name];
    if (value === null || value === undefined) continue;
    const values: unknown[] = field.map ? Object.values(value) : field.repeated ? (value as unknown[]) : [value];
    if (field.type === 'bytes') {
      const converted = values.map((v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v));
      if (field.map) {
        const keys = Object.keys(value);
        keys.forEach((k, i) => ((value as Record<string, unknown>)[k] = converted[i]));
      } else obj[field.name] = field.repeated ? converted : converted[0];
    } else if (field.resolvedType instanceof protobuf.Type) {
      for (const v of values) if (typeof v === 'object' && v !== null) bytesFieldsToBuffers(field.resolvedType, v as Record<string, unknown>);
    }
  }
}

const envelopeCodec = messageCodec<SignedEnvelope, SignedEnvelope__Output>('SignedEnvelope', Reason.MALFORMED_ENVELOPE);
const manifestCodec = messageCodec<UpdateManifest, UpdateManifest__Output>('UpdateManifest', Reason.MALFORMED_MANIFEST);
const metricBatchCodec = messageCodec<MetricBatch, MetricBatch__Output>('MetricBatch', Reason.MALFORMED_ENVELOPE);
const updateStatusCodec = messageCodec<UpdateStatus, UpdateStatus__Output>('UpdateStatus', Reason.INVALID_ARGUMENT);

export function encodeEnvelope(env: SignedEnvelope): Uint8Array {
  return envelopeCodec.encode(env);
}
/** MALFORMED_ENVELOPE when the bytes are not a SignedEnvelope. */
export function decodeEnvelope(bytes: Uint8Array): SignedEnvelope__Output {
  return envelopeCodec.decode(bytes);
}

export function encodeManifest(m: UpdateManifest): Uint8Array {
  return manifestCodec.encode(m);
}
/** MALFORMED_MANIFEST when the bytes are not an UpdateManifest. */
export function decodeManifest(bytes: Uint8Array): UpdateManifest__Output {
  return manifestCodec.decode(bytes);
}

export function encodeMetricBatch(b: MetricBatch): Uint8Array {
  return metricBatchCodec.encode(b);
}
/** MALFORMED_ENVELOPE when the bytes are not a MetricBatch. */
export function decodeMetricBatch(bytes: Uint8Array): MetricBatch__Output {
  return metricBatchCodec.decode(bytes);
}

export function encodeUpdateStatus(s: UpdateStatus): Uint8Array {
  return updateStatusCodec.encode(s);
}
/** INVALID_ARGUMENT when the bytes are not an UpdateStatus. */
export function decodeUpdateStatus(bytes: Uint8Array): UpdateStatus__Output {
  return updateStatusCodec.decode(bytes);
}
