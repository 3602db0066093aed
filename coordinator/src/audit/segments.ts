import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_RECORD_BYTES } from './records.js';

/** `00000001.jsonl`: segment numbers sort as text. */
const SEGMENT_FILE = /^(\d{8})\.jsonl$/;

export function segmentFileName(seg: number): string {
  return `${String(seg).padStart(8, '0')}.jsonl`;
}

/** Segment numbers present in the audit directory, ascending; none when it does not exist. */
export async function listSegments(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((n) => SEGMENT_FILE.exec(n)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export function segmentPath(dir: string, seg: number): string {
  return join(dir, segmentFileName(seg));
}

/** A stored line: its text, or `tooLong` for a line past MAX_RECORD_BYTES (its text is not kept). */
export interface StoredLine {
  readonly text: string;
  readonly tooLong: boolean;
  /** The file ended without a newline after it: a write cut short. */
  readonly torn: boolean;
}

/**
 * The lines of a segment file, streamed: memory stays at one read buffer and one line whatever
 * the file's size. Lines are split on `\n` in bytes and decoded as UTF-8 only then.
 */
export async function* readLines(path: string): AsyncIterable<StoredLine> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let tooLong = false;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!tooLong) {
        pendingBytes += end - start;
        if (pendingBytes > MAX_RECORD_BYTES) {
          tooLong = true;
          pending = [];
        } else {
          pending.push(chunk.subarray(start, end));
        }
      }
      if (nl < 0) break;
      yield { text: tooLong ? '' : Buffer.concat(pending).toString('utf8'), tooLong, torn: false };
      pending = [];
      pendingBytes = 0;
      tooLong = false;
      start = nl + 1;
    }
  }
  if (pendingBytes > 0 || tooLong) yield { text: tooLong ? '' : Buffer.concat(pending).toString('utf8'), tooLong, torn: true };
}
