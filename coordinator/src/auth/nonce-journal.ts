import { closeSync, existsSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { RememberedNonce } from '@tributary/proto';

/**
 * An append-only file of the call nonces seen within the skew window, so that a call captured
 * shortly before a restart is still refused as a replay after it. One line per nonce:
 * `<untilMs> <keyId> <nonce>`. Lines are written synchronously before the call proceeds.
 */
export class NonceJournal {
  private fd: number;
  private lines = 0;

  private constructor(
    private readonly path: string,
    fd: number,
    /** Lines appended before the journal rewrites itself with only the live entries. */
    private readonly compactAfter: number,
  ) {
    this.fd = fd;
  }

  /** Opens (or creates) the journal and returns the entries still live at `nowMs`. */
  static open(path: string, opts: { compactAfter: number; nowMs?: number }): { journal: NonceJournal; live: RememberedNonce[] } {
    const live = existsSync(path) ? parse(readFileSync(path, 'utf8'), opts.nowMs ?? Date.now()) : [];
    const journal = new NonceJournal(path, openSync(path, 'a', 0o600), opts.compactAfter);
    journal.rewrite(live);
    return { journal, live };
  }

  record(entry: RememberedNonce): void {
    writeSync(this.fd, formatLine(entry));
    if (++this.lines >= this.compactAfter) this.rewrite(parse(readFileSync(this.path, 'utf8'), Date.now()));
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Replaces the file with `live` (write a temp file, rename), then appends to it. */
  private rewrite(live: RememberedNonce[]): void {
    const temp = `${this.path}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    writeSync(fd, live.map(formatLine).join(''));
    closeSync(fd);
    renameSync(temp, this.path);
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a', 0o600);
    this.lines = live.length;
  }
}

function formatLine(e: RememberedNonce): string {
  return `${e.untilMs} ${e.keyId} ${e.nonce}\n`;
}

function parse(text: string, nowMs: number): RememberedNonce[] {
  const live: RememberedNonce[] = [];
  for (const line of text.split('\n')) {
    const [until, keyId, nonce] = line.split(' ');
    const untilMs = Number(until);
    // A torn last line (crash mid-write) is skipped; its call never got an answer.
    if (!keyId || !nonce || !Number.isFinite(untilMs) || untilMs < nowMs) continue;
    live.push({ keyId, nonce, untilMs });
  }
  return live;
}
