import { describe, expect, it } from 'vitest';
import { PRE_ENCODED, allocateModelChunk, serviceDefinition, serviceMethods, type ModelChunk__Output } from '@tributary/proto';

const SHA = 'ab'.repeat(32);

/** The chunk as a client decodes it from the bytes the server sends. */
function received(value: object): ModelChunk__Output {
  const send = serviceDefinition('SiteService').DownloadModel.responseSerialize as (v: object) => Buffer;
  const decode = serviceMethods('SiteService').DownloadModel!.responseDeserialize as (b: Buffer) => ModelChunk__Output;
  return decode(send(value));
}

describe('model chunks written in their wire form', () => {
  it.each([
    ['the first chunk', { version: 3, totalSize: 5_000_000, sha256: SHA }, 0, 1024],
    ['a chunk past 4 GiB', { version: 2 ** 40, totalSize: 2 ** 45, sha256: SHA }, 2 ** 33 + 7, 300],
    ['an empty last chunk', { version: 1, totalSize: 10, sha256: SHA }, 10, 0],
    ['a chunk without a digest', { version: 0, totalSize: 0, sha256: '' }, 0, 5],
  ])('decode as the message they stand for: %s', (_what, header, offset, length) => {
    const chunk = allocateModelChunk(header, offset, length);
    for (let i = 0; i < chunk.data.length; i++) chunk.data[i] = (i * 7 + 3) & 0xff;
    expect(received(chunk)).toEqual({ ...header, offset, data: Buffer.from(chunk.data) });
  });

  it('go out as the bytes they carry, without another encoding', () => {
    const chunk = allocateModelChunk({ version: 1, totalSize: 4, sha256: SHA }, 0, 4);
    const send = serviceDefinition('SiteService').DownloadModel.responseSerialize as (v: object) => Buffer;
    expect(send(chunk)).toBe(chunk[PRE_ENCODED]);
  });

  it('leave a plain chunk to the protobuf encoder', () => {
    expect(received({ version: 2, offset: 4, data: Buffer.from([9, 8]), totalSize: 6, sha256: SHA })).toEqual({ version: 2, offset: 4, data: Buffer.from([9, 8]), totalSize: 6, sha256: SHA });
  });
});
