import type { ModelChunk__Output, PreEncoded } from '@tributary/proto';

// When a round opens, every selected site downloads the same model version at about the same
// time. Read per download, a model of 4 MB fetched by 100 sites is 400 MB of chunk buffers read
// from the blob store and collected again. Shared, each chunk of a version is read and encoded
// once and handed to every download that asks for it while it is held.

/** A chunk in its wire form, shared by every download that takes it; never written to. */
export type SharedModelChunk = PreEncoded<ModelChunk__Output>;

interface Entry {
  readonly digest: string;
  readonly offset: number;
  readonly length: number;
  readonly chunk: Promise<SharedModelChunk>;
  /** Downloads that took the chunk and have not yet sent it. */
  holders: number;
}

/** Where one open download of a version is: the next chunk it will take, and its chunk size. */
interface Place {
  position: number;
  readonly chunkBytes: number;
  readonly totalSize: number;
}

/**
 * Chunks of model versions, keyed by version digest, offset and length, and counted by the
 * downloads holding them: a chunk is dropped once every download holding it has sent it, unless
 * an open download of the same version has yet to reach it (then it is kept for that download,
 * within `keepLimitBytes` for all such chunks together; past it, a later download reads again).
 */
export class SharedModelChunks {
  private readonly entries = new Map<string, Entry>();
  private readonly places = new Map<string, Set<Place>>();
  /** Entries nobody holds, kept for a download behind, and their bytes. */
  private readonly keptEntries = new Set<string>();
  private kept = 0;
  private unique = 0;

  constructor(readonly keepLimitBytes: number) {}

  /** Bytes of distinct chunks in memory now, however many downloads share them. */
  get uniqueBytes(): number {
    return this.unique;
  }

  /** Registers a download of `digest` from `offset`; close it when the download ends, however it ends. */
  open(opts: { digest: string; totalSize: number; offset: number; chunkBytes: number }): SharedDownload {
    const place: Place = { position: opts.offset, chunkBytes: opts.chunkBytes, totalSize: opts.totalSize };
    let places = this.places.get(opts.digest);
    if (places === undefined) this.places.set(opts.digest, (places = new Set()));
    places.add(place);
    let closed = false;
    return {
      take: async (offset, length, read) => {
        place.position = offset + length;
        const entry = this.entryFor(opts.digest, offset, length, read);
        entry.holders++;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          entry.holders--;
          this.settle(entry);
        };
        try {
          return { chunk: await entry.chunk, release };
        } catch (err) {
          release();
          throw err;
        }
      },
      close: () => {
        if (closed) return;
        closed = true;
        places.delete(place);
        if (places.size === 0 && this.places.get(opts.digest) === places) this.places.delete(opts.digest);
        for (const entry of [...this.entries.values()]) if (entry.digest === opts.digest) this.settle(entry);
      },
    };
  }

  private entryFor(digest: string, offset: number, length: number, read: () => Promise<SharedModelChunk>): Entry {
    const key = `${digest}:${offset}:${length}`;
    const found = this.entries.get(key);
    if (found !== undefined) {
      if (this.keptEntries.delete(key)) this.kept -= length;
      return found;
    }
    const entry: Entry = { digest, offset, length, holders: 0, chunk: read() };
    this.entries.set(key, entry);
    this.unique += length;
    // A failed read is not shared: the next download to ask reads again.
    entry.chunk.catch(() => {
      if (this.entries.get(key) !== entry) return;
      this.entries.delete(key);
      this.unique -= length;
      if (this.keptEntries.delete(key)) this.kept -= length;
    });
    return entry;
  }

  /** Called when an entry's holders drop or a download closes: keep it for a download behind, or drop it. */
  private settle(entry: Entry): void {
    if (entry.holders !== 0) return;
    const key = `${entry.digest}:${entry.offset}:${entry.length}`;
    if (this.entries.get(key) !== entry) return;
    const alreadyKept = this.keptEntries.has(key);
    if (this.needed(entry) && (alreadyKept || this.kept + entry.length <= this.keepLimitBytes)) {
      if (!alreadyKept) {
        this.keptEntries.add(key);
        this.kept += entry.length;
      }
      return;
    }
    if (this.keptEntries.delete(key)) this.kept -= entry.length;
    this.entries.delete(key);
    this.unique -= entry.length;
  }

  /** Whether an open download of the entry's version will take exactly this chunk later. */
  private needed(entry: Entry): boolean {
    for (const place of this.places.get(entry.digest) ?? []) {
      if (entry.offset < place.position) continue;
      if ((entry.offset - place.position) % place.chunkBytes !== 0) continue;
      if (Math.min(place.chunkBytes, place.totalSize - entry.offset) === entry.length) return true;
    }
    return false;
  }
}

/** One download's view of the shared chunks. */
export interface SharedDownload {
  /**
   * The chunk at `offset`: shared if another download has it, else read by `read`. Call `release` once the chunk is sent or the
   * download stops; the chunk must not be written to.
   */
  take(offset: number, length: number, read: () => Promise<SharedModelChunk>): Promise<{ chunk: SharedModelChunk; release: () => void }>;
  close(): void;
}
