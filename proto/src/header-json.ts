// A JSON reader for safetensors headers too large to hand to JSON.parse in one step: it accepts
// exactly the texts JSON.parse accepts and builds the same values, but works as steps (see
// cooperative.ts) over the header's bytes, so a 16 MiB header is read without holding the event
// loop, and without ever decoding or copying the whole header as one string (which alone holds
// the loop for longer than the target). Bytes must be valid UTF-8 (checked by the caller).
import { pauseAt, sortSteps, type Steps } from './cooperative.js';

/** What a header's JSON text is: invalid, or valid with its top-level members when it is an object. */
export type HeaderJson =
  | { readonly valid: false }
  | {
      readonly valid: true;
      /**
       * The top-level object's members in the order `Object.entries(JSON.parse(text))` gives:
       * array-index keys ascending, then the others as written; a key written twice keeps its
       * first place and its last value. Undefined when the text is valid JSON but not an object.
       */
      readonly members: Array<[string, unknown]> | undefined;
    };

/** Plain assignment of "__proto__" would change the prototype instead of adding a key, as JSON.parse does. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Bytes scanned in one step inside a long string or run of whitespace. */
const SPAN_BYTES = 64 * 1024;
const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;
const ESCAPES: Readonly<Record<number, string>> = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };
const UTF8_BOM = [0xef, 0xbb, 0xbf];

class InvalidJson extends Error {}

// Stands for the top-level object once it is closed: its members are kept apart, not built.
const TOP_LEVEL_OBJECT = Symbol('top-level object');

type Container =
  | { readonly kind: 'array'; readonly value: unknown[] }
  | { readonly kind: 'object'; readonly value: Record<string, unknown>; key: string }
  | { readonly kind: 'top'; readonly members: Array<[string, unknown]>; readonly at: Map<string, number>; key: string };

/**
 * Reads a header's JSON (UTF-8 bytes, a leading byte order mark skipped as TextDecoder skips it);
 * `onKey` sees every key of the top-level object as it is read (in text order, repeats included)
 * and may throw to stop the reading there.
 */
export function* readHeaderJson(bytes: Uint8Array, onKey: (key: string) => void): Steps<HeaderJson> {
  let members: Array<[string, unknown]> | undefined;
  try {
    members = yield* read(bytes, onKey);
  } catch (err) {
    if (err instanceof InvalidJson) return { valid: false };
    throw err;
  }
  return { valid: true, members: members === undefined ? undefined : yield* inEntriesOrder(members) };
}

/** Text of UTF-8 bytes [begin, end) that start and end on character boundaries. */
export function utf8Text(bytes: Uint8Array, begin: number, end: number, decoder = new TextDecoder()): string {
  if (end - begin <= 64) {
    let ascii = true;
    for (let k = begin; k < end && ascii; k++) ascii = (bytes[k] as number) < 0x80;
    if (ascii) return String.fromCharCode.apply(null, bytes.subarray(begin, end) as unknown as number[]);
  }
  return decoder.decode(bytes.subarray(begin, end));
}

function* read(bytes: Uint8Array, onKey: (key: string) => void): Steps<Array<[string, unknown]> | undefined> {
  const n = bytes.length;
  const decoder = new TextDecoder();
  let i = UTF8_BOM.every((b, k) => bytes[k] === b) ? 3 : 0;
  const fail = (): never => {
    throw new InvalidJson();
  };
  const isWhitespace = (b: number | undefined): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
  /** Skips whitespace, at most SPAN_BYTES of it: true when more may follow. */
  const skipSomeWhitespace = (): boolean => {
    const stop = Math.min(n, i + SPAN_BYTES);
    while (i < stop && isWhitespace(bytes[i])) i++;
    return i === stop && i < n;
  };
  const literal = (word: readonly number[]): boolean => word.every((b, k) => bytes[i + k] === b);
  const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;

  function* readString(): Steps<string> {
    // At the opening quote.
    let run = i + 1;
    let j = run;
    let out = '';
    let spanEnd = j + SPAN_BYTES;
    for (;;) {
      if (j >= spanEnd) {
        // A long run of characters: keep what is read (up to a character boundary), then pause.
        let cut = j;
        while (cut > run && ((bytes[cut] as number) & 0xc0) === 0x80) cut--;
        out += utf8Text(bytes, run, cut, decoder);
        run = cut;
        spanEnd = j + SPAN_BYTES;
        yield;
      }
      const b = bytes[j];
      if (b === 0x22 /* " */) {
        i = j + 1;
        return out + utf8Text(bytes, run, j, decoder);
      }
      if (b === 0x5c /* \ */) {
        out += utf8Text(bytes, run, j, decoder);
        const e = bytes[j + 1] as number;
        if (e === 0x75 /* u */) {
          let code = 0;
          for (let k = j + 2; k < j + 6; k++) {
            const h = bytes[k] as number;
            const digit = h >= 0x30 && h <= 0x39 ? h - 0x30 : h >= 0x61 && h <= 0x66 ? h - 0x57 : h >= 0x41 && h <= 0x46 ? h - 0x37 : -1;
            if (digit < 0) fail();
            code = code * 16 + digit;
          }
          // Lone surrogates are kept, as JSON.parse keeps them.
          out += String.fromCharCode(code);
          j += 6;
        } else {
          const s = ESCAPES[e];
          if (s === undefined) fail();
          out += s;
          j += 2;
        }
        run = j;
        continue;
      }
      // A control character, or the end of the text.
      if (b === undefined || b < 0x20) fail();
      j++;
    }
  }

  function* readKey(container: Container & { key: string }): Steps<void> {
    if (bytes[i] !== 0x22) fail();
    container.key = yield* readString();
    if (container.kind === 'top') onKey(container.key);
    while (skipSomeWhitespace()) yield;
    if (bytes[i] !== 0x3a /* : */) fail();
    i++;
    while (skipSomeWhitespace()) yield;
  }

  function readNumber(): number {
    const begin = i;
    if (bytes[i] === 0x2d /* - */) i++;
    if (bytes[i] === 0x30) i++;
    else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
    else fail();
    if (bytes[i] === 0x2e /* . */) {
      i++;
      if (!isDigit(bytes[i])) fail();
      while (isDigit(bytes[i])) i++;
    }
    if (bytes[i] === 0x65 || bytes[i] === 0x45 /* e E */) {
      i++;
      if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
      if (!isDigit(bytes[i])) fail();
      while (isDigit(bytes[i])) i++;
    }
    return Number(utf8Text(bytes, begin, i, decoder));
  }

  const stack: Container[] = [];
  let top: Container | undefined;
  let steps = 0;
  while (skipSomeWhitespace()) yield;
  for (;;) {
    if (pauseAt(steps++)) yield;
    // A value starts at i.
    let value: unknown;
    const c = bytes[i];
    if (c === 0x7b /* { */) {
      i++;
      while (skipSomeWhitespace()) yield;
      const container: Container =
        stack.length === 0 ? { kind: 'top', members: [], at: new Map(), key: '' } : { kind: 'object', value: {}, key: '' };
      if (stack.length === 0) top = container;
      if (bytes[i] === 0x7d /* } */) {
        i++;
        value = container.kind === 'object' ? container.value : TOP_LEVEL_OBJECT;
      } else {
        yield* readKey(container);
        stack.push(container);
        continue;
      }
    } else if (c === 0x5b /* [ */) {
      i++;
      while (skipSomeWhitespace()) yield;
      const container: Container = { kind: 'array', value: [] };
      if (bytes[i] === 0x5d /* ] */) {
        i++;
        value = container.value;
      } else {
        stack.push(container);
        continue;
      }
    } else if (c === 0x22) {
      value = yield* readString();
    } else if (c === 0x2d || isDigit(c)) {
      value = readNumber();
    } else if (literal(TRUE)) {
      value = true;
      i += 4;
    } else if (literal(FALSE)) {
      value = false;
      i += 5;
    } else if (literal(NULL)) {
      value = null;
      i += 4;
    } else {
      fail();
    }
    // The value is complete: add it to its container, and close every container it completes.
    for (;;) {
      const container = stack[stack.length - 1];
      if (container === undefined) {
        while (skipSomeWhitespace()) yield;
        if (i !== n) fail();
        return value === TOP_LEVEL_OBJECT && top?.kind === 'top' ? top.members : undefined;
      }
      if (container.kind === 'array') container.value.push(value);
      else if (container.kind === 'object') setOwn(container.value, container.key, value);
      else {
        const at = container.at.get(container.key);
        if (at === undefined) {
          container.at.set(container.key, container.members.length);
          container.members.push([container.key, value]);
        } else {
          (container.members[at] as [string, unknown])[1] = value;
        }
      }
      while (skipSomeWhitespace()) yield;
      const d = bytes[i];
      if (d === 0x2c /* , */) {
        i++;
        while (skipSomeWhitespace()) yield;
        if (container.kind !== 'array') yield* readKey(container);
        break;
      }
      if (d !== (container.kind === 'array' ? 0x5d : 0x7d)) fail();
      i++;
      stack.pop();
      value = container.kind === 'top' ? TOP_LEVEL_OBJECT : container.value;
    }
  }
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/** Members as Object.entries orders an object's keys: array indices (below 2^32 - 1) first, ascending. */
function* inEntriesOrder(members: Array<[string, unknown]>): Steps<Array<[string, unknown]>> {
  const indices: Array<[string, unknown]> = [];
  const others: Array<[string, unknown]> = [];
  for (let i = 0; i < members.length; i++) {
    if (pauseAt(i, 4096)) yield;
    const m = members[i] as [string, unknown];
    (isArrayIndex(m[0]) ? indices : others).push(m);
  }
  if (indices.length === 0) return members;
  const sorted = yield* sortSteps(indices, (a, b) => Number(a[0]) - Number(b[0]));
  return sorted.concat(others);
}

function isArrayIndex(key: string): boolean {
  return ARRAY_INDEX.test(key) && Number(key) < 2 ** 32 - 1;
}
