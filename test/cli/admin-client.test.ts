import { createHash, randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKey, isTributaryError, serviceMethods } from '@tributary/proto';
import type { DownloadModelRequest__Output, ModelChunk, RunEvent, WatchRunRequest__Output } from '@tributary/proto';
import { AdminClient } from '@tributary/coordinator';

const CHUNK = 64 * 1024;
type Stream<Req, Res> = grpc.ServerWritableStream<Req, Res>;

/** A stand-in AdminService whose streams can fail on purpose (no auth: it only serves these tests). */
class FlakyAdminService {
  readonly downloads: DownloadModelRequest__Output[] = [];
  watches = 0;
  model = randomBytes(5 * CHUNK + 123);
  announcedSha256 = sha256(this.model);
  /** Chunks sent by the first DownloadModel call before it fails with UNAVAILABLE. */
  failDownloadAfter: number | undefined = 2;
  private server = new grpc.Server();
  address = '';

  async start(): Promise<void> {
    const impl: grpc.UntypedServiceImplementation = {
      DownloadModel: (call: Stream<DownloadModelRequest__Output, ModelChunk>) => this.download(call),
      WatchRun: (call: Stream<WatchRunRequest__Output, RunEvent>) => this.watch(call),
    };
    // The decoding definitions: this stand-in reads its requests decoded, unlike the coordinator.
    this.server.addService(serviceMethods('AdminService') as unknown as grpc.ServiceDefinition, impl);
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.address = `127.0.0.1:${port}`;
  }

  stop(): void {
    this.server.forceShutdown();
  }

  private download(call: Stream<DownloadModelRequest__Output, ModelChunk>): void {
    this.downloads.push(call.request);
    const failAfter = this.downloads.length === 1 ? this.failDownloadAfter : undefined;
    let sent = 0;
    for (let offset = call.request.offset; offset < this.model.length; offset += CHUNK) {
      if (failAfter !== undefined && sent === failAfter) {
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'connection dropped' });
        return;
      }
      const data = this.model.subarray(offset, offset + CHUNK);
      call.write({ version: 4, offset, data, totalSize: this.model.length, sha256: this.announcedSha256 });
      sent += 1;
    }
    call.end();
  }

  private watch(call: Stream<WatchRunRequest__Output, RunEvent>): void {
    this.watches += 1;
    const run = { id: call.request.runId, federation: 'churn', rounds: 2, status: 'RUN_STATUS_RUNNING' as const };
    call.write({ type: 'SNAPSHOT', run });
    if (this.watches === 1) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'server restarting' });
      return;
    }
    call.write({ type: 'RUN_ENDED', run: { ...run, status: 'RUN_STATUS_FINISHED', currentRound: 2 } });
    call.end();
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

let service: FlakyAdminService;
let client: AdminClient;
beforeEach(async () => {
  service = new FlakyAdminService();
  await service.start();
  client = new AdminClient({ address: service.address, key: generateSigningKey('admin') });
});
afterEach(() => {
  client.close();
  service.stop();
});

describe('AdminClient.downloadModel', () => {
  it('resumes from the last received offset after UNAVAILABLE and checks the digest', async () => {
    const model = await client.downloadModel('churn');
    expect(model.version).toBe(4);
    expect(model.sha256).toBe(sha256(service.model));
    expect(model.bytes.equals(service.model)).toBe(true);
    expect(service.downloads.map((d) => [d.version, d.offset])).toEqual([
      [0, 0],
      [4, 2 * CHUNK], // the version seen first is pinned, the download goes on where it stopped
    ]);
  });

  it('refuses a payload whose SHA-256 differs from the announced one', async () => {
    service.failDownloadAfter = undefined;
    service.announcedSha256 = sha256(Buffer.from('something else'));
    const err: unknown = await client.downloadModel('churn', 4).catch((e: unknown) => e);
    expect(isTributaryError(err) && err.code === 'DATA_LOSS' && err.reason === 'DIGEST_MISMATCH').toBe(true);
  });
});

describe('AdminClient.waitForRun', () => {
  it('watches again after a dropped stream and returns the ended run', async () => {
    const types: string[] = [];
    const run = await client.waitForRun('0123456789abcdef', { onEvent: (e) => types.push(e.type) });
    expect(run.status).toBe('RUN_STATUS_FINISHED');
    expect(types).toEqual(['SNAPSHOT', 'SNAPSHOT', 'RUN_ENDED']);
    expect(service.watches).toBe(2);
  });
});
