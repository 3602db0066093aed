// Run events are sent to every watcher of a run, and each carries the run and its round, whose
// list of accepted updates grows with every update: encoded afresh for every event, a round of
// N updates costs O(N²) bytes of encoding. Events published together share one copy of the run
// and round (the coordinator never changes a copy once published), so their encodings are
// shared too: kept per copy, and spliced into each event's own.
import type protobuf from 'protobufjs';
import type { RunEvent__Output } from './generated/tributary/v1/RunEvent.js';
import { PRE_ENCODED, type PreEncoded } from './model-chunk.js';
import { protoRoot } from './schema.js';

// Field numbers of RunEvent's run and round in tributary.proto.
const RUN_FIELD = 3;
const ROUND_FIELD = 4;
const LENGTH_DELIMITED = 2;

/** Encoded `run` / `round` fields (tag, length, message) by the object they encode. */
const sharedFields = new WeakMap<object, Buffer>();

let types: { event: protobuf.Type; run: protobuf.Type; round: protobuf.Type } | undefined;
function messageTypes(): NonNullable<typeof types> {
  if (types === undefined) {
    const root = protoRoot();
    types = { event: root.lookupType('tributary.v1.RunEvent'), run: root.lookupType('tributary.v1.Run'), round: root.lookupType('tributary.v1.Round') };
  }
  return types;
}

/**
 * The event with its encoding attached, the run and round encoded once per object. Only for
 * events whose run and round are copies that nobody changes (those the coordinator publishes).
 */
export function preEncodeRunEvent(event: RunEvent__Output): PreEncoded<RunEvent__Output> {
  const t = messageTypes();
  const own = t.event.encode(t.event.fromObject({ ...event, run: null, round: null })).finish();
  const parts: Uint8Array[] = [own];
  if (event.run) parts.push(sharedField(RUN_FIELD, t.run, event.run));
  if (event.round) parts.push(sharedField(ROUND_FIELD, t.round, event.round));
  return { ...event, [PRE_ENCODED]: Buffer.concat(parts) };
}

function sharedField(field: number, type: protobuf.Type, value: object): Buffer {
  let encoded = sharedFields.get(value);
  if (encoded === undefined) {
    const body = type.encode(type.fromObject(value as Record<string, unknown>)).finish();
    const head: number[] = [(field << 3) | LENGTH_DELIMITED];
    for (let n = body.length; ; n = Math.floor(n / 128)) {
      if (n < 128) {
        head.push(n);
        break;
      }
      head.push((n % 128) | 128);
    }
    encoded = Buffer.concat([Uint8Array.from(head), body]);
    sharedFields.set(value, encoded);
  }
  return encoded;
}
