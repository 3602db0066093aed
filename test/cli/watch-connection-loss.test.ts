import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TributaryError, generateSigningKey, serviceMethods, type RunEvent } from '@tributary/proto';
import { AdminClient } from '@tributary/coordinator';

const encodeEvent = serviceMethods('AdminService')['WatchRun']?.responseSerialize as (e: RunEvent) => Buffer;

/** One gRPC message as it travels in an HTTP/2 DATA frame: flag, length, bytes. */
function framed(event: RunEvent): Buffer {
  const bytes = encodeEvent(event);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/**
 * An HTTP/2 server speaking just enough gRPC for WatchRun: the first watch gets its SNAPSHOT,
 * then the connection is closed with GOAWAY INTERNAL_ERROR, what a client sees when the server
 * drops a busy connection; later watches see the run finished.
 */
class DroppingWatchServer {
  watches = 0;
  private readonly server = http2.createServer();
  address = '';

  async start(): Promise<void> {
    this.server.on('stream', (stream) => {
      this.watches += 1;
      const status = this.watches === 1 ? 'RUN_STATUS_RUNNING' : 'RUN_STATUS_FINISHED';
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.write(framed({ type: 'SNAPSHOT', atMs: Date.now(), run: { id: 'r1', federation: 'churn', rounds: 2, status } }));
      if (this.watches === 1) {
        setTimeout(() => stream.session?.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR), 50);
        return;
      }
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end();
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('a run watch whose connection is closed under it', () => {
  let server: DroppingWatchServer | undefined;
  let admin: AdminClient | undefined;

  afterEach(async () => {
    admin?.close();
    await server?.stop();
  });

  it('reads the lost connection as an unavailable server, which may be retried', async () => {
    server = new DroppingWatchServer();
    await server.start();
    admin = new AdminClient({ address: server.address, key: generateSigningKey('admin') });
    const events = admin.watchRun('r1')[Symbol.asyncIterator]();
    expect((await events.next()).value).toMatchObject({ type: 'SNAPSHOT' });
    const failure = await events.next().then(
      () => undefined,
      (err: unknown) => TributaryError.from(err),
    );
    expect(failure).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(failure?.message).toMatch(/Session closed with error code 2/);
  });

  it('watches again and returns the run once it has ended', async () => {
    server = new DroppingWatchServer();
    await server.start();
    admin = new AdminClient({ address: server.address, key: generateSigningKey('admin'), retry: { initialDelayMs: 10, maxDelayMs: 50, maxAttempts: 5 } });
    const seen: string[] = [];
    const run = await admin.waitForRun('r1', { onEvent: (e) => seen.push(`${e.type}:${e.run?.status ?? ''}`) });
    expect(run.status).toBe('RUN_STATUS_FINISHED');
    expect(server.watches).toBe(2);
    expect(seen).toEqual(['SNAPSHOT:RUN_STATUS_RUNNING', 'SNAPSHOT:RUN_STATUS_FINISHED']);
  });
});
