import { open } from 'node:fs/promises';
import { Reason, TributaryError } from '@tributary/proto';

/**
 * Header bytes allowed for an initial model, which defines the spec: an authenticated admin's
 * call, given room for very large models (65,536 tensors of about 250 bytes).
 */
export const HEADER_BYTES_INITIAL_MODEL = 16 * 1024 * 1024;

/** Data read per step while inspecting: bounded memory whatever the payload's size. */
export const INSPECT_SLICE_BYTES = 1024 * 1024;

/** Random access to a staged payload's bytes. */
export interface StagedBytes {
  /**
   * Exactly `length` bytes from `position`, valid until the next read (file slices share one
   * scratch buffer, so inspecting a large payload allocates nothing per slice); a payload ending
   * early is MALFORMED_PAYLOAD.
   */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A staged payload: the path of its file, or its bytes when it was kept in memory. */
export async function openStaged(staged: string | Uint8Array): Promise<StagedBytes> {
  if (typeof staged !== 'string') {
    return {
      read: async (position, length) => {
        if (position + length > staged.byteLength) throw TributaryError.of(Reason.MALFORMED_PAYLOAD, `payload ends ${position + length - staged.byteLength} bytes early`);
        return staged.subarray(position, position + length);
      },
      close: async () => undefined,
    };
  }
  const file = await open(staged, 'r');
  let scratch = new Uint8Array(0);
  return {
    read: (position, length) => {
      if (scratch.length < length) scratch = new Uint8Array(Math.max(length, Math.min(INSPECT_SLICE_BYTES, 2 * scratch.length)));
      return readExactly(file, position, scratch.subarray(0, length));
    },
    close: () => file.close(),
  };
}

/** Fills `buffer` from `position` of the file. */
async function readExactly(file: Awaited<ReturnType<typeof open>>, position: number, buffer: Uint8Array): Promise<Uint8Array> {
  const length = buffer.length;
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw TributaryError.of(Reason.MALFORMED_PAYLOAD, `payload ends ${length - done} bytes early`);
    done += bytesRead;
  }
  return buffer;
}
