import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTH_HEADERS,
  CallVerifier,
  PROTO_PATH,
  REASON_TRAILER,
  RpcClient,
  TributaryError,
  generateSigningKey,
  grpcStatusOf,
  loadTributaryPackage,
  methodPath,
  packageDefinition,
  decodeRequest,
  serviceDefinition,
  sha256Hex,
  type EnrollRequest__Output,
  type EnrollResponse__Output,
  type ModelChunk__Output,
  type SiteServiceHandlers,
  type Task__Output,
  type WatchTasksRequest,
  type WhoAmIResponse__Output,
} from '@tributary/proto';

const site = generateSigningKey('site-a');
const stranger = generateSigningKey('stranger');

function statusError(err: TributaryError): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(REASON_TRAILER, err.reason);
  return { code: grpcStatusOf(err.code), details: err.message, metadata };
}

describe('gRPC plumbing', () => {
  const server = new grpc.Server();
  const verifier = new CallVerifier();
  let address = '';
  let watchCancelled: Promise<void>;
  let markWatchCancelled: () => void = () => {};
  const digests: string[] = [];

  function authenticate(call: grpc.ServerUnaryCall<object, unknown> | grpc.ServerWritableStream<object, unknown>, method: string): string {
    const headers: Record<string, string | undefined> = {};
    for (const name of Object.values(AUTH_HEADERS)) {
      const v = call.metadata.get(name)[0];
      headers[name] = typeof v === 'string' ? v : undefined;
    }
    return verifier.verify({
      method: methodPath('SiteService', method),
      headers,
      bodySha256Hex: sha256Hex(call.request as unknown as Buffer),
      resolveKey: (id) => (id === site.keyId ? site.publicKey : undefined),
    }).keyId;
  }

  beforeAll(async () => {
    watchCancelled = new Promise((resolve) => (markWatchCancelled = resolve));
    const handlers: SiteServiceHandlers = {
      WhoAmI(call, callback) {
        try {
          const keyId = authenticate(call, 'WhoAmI');
          callback(null, { role: 'site', keyId });
        } catch (err) {
          callback(statusError(TributaryError.from(err)));
        }
      },
      Enroll(call: grpc.ServerUnaryCall<EnrollRequest__Output, unknown>, callback) {
        const bytes = call.request as unknown as Buffer;
        digests.push(sha256Hex(bytes));
        const request = decodeRequest('SiteService', 'Enroll', bytes) as EnrollRequest__Output;
        callback(null, { site: { name: request.siteName, publicKey: request.publicKey } });
      },
      GetUpdateStatus(_call, callback) {
        callback(statusError(new TributaryError({ code: 'FAILED_PRECONDITION', reason: 'SITE_NOT_SELECTED', message: 'site-a is not selected' })));
      },
      GetNatsCredentials(_call, callback) {
        callback(statusError(new TributaryError({ code: 'FAILED_PRECONDITION', reason: 'FAILED_PRECONDITION', message: 'no NATS credentials here' })));
      },
      ReportTaskFailure(_call, callback) {
        callback(statusError(new TributaryError({ code: 'FAILED_PRECONDITION', reason: 'SITE_NOT_SELECTED', message: 'site-a is not selected' })));
      },
      Heartbeat(_call, callback) {
        callback(null, { continue: false });
      },
      WatchTasks(call) {
        let round = 0;
        const { federation } = decodeRequest('SiteService', 'WatchTasks', call.request as unknown as Buffer) as { federation: string };
        const timer = setInterval(() => call.write({ federation, round: ++round }), 10);
        call.on('cancelled', () => {
          clearInterval(timer);
          markWatchCancelled();
        });
      },
      DownloadModel(call) {
        call.write({ offset: 0, data: Buffer.from([1, 2]) });
        call.write({ offset: 2, data: Buffer.from([3]) });
        call.emit('error', statusError(new TributaryError({ code: 'NOT_FOUND', reason: 'NOT_FOUND', message: 'version 9 does not exist' })));
      },
    };
    server.addService(serviceDefinition('SiteService'), handlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => {
    server.forceShutdown();
  });

  it('loads the package and names methods by their full path', () => {
    expect(PROTO_PATH).toMatch(/proto[/\\]tributary\.proto$/);
    expect(typeof loadTributaryPackage().tributary.v1.SiteService).toBe('function');
    expect(Object.keys(packageDefinition())).toContain('tributary.v1.AdminService');
    expect(methodPath('AdminService', 'StartRun')).toBe('/tributary.v1.AdminService/StartRun');
  });

  it('makes signed unary calls that the server verifies over the received bytes', async () => {
    const client = new RpcClient({ address, key: site, service: 'SiteService' });
    try {
      const me = await client.unary<object, WhoAmIResponse__Output>('WhoAmI', {});
      expect(me).toMatchObject({ role: 'site', keyId: site.keyId });
    } finally {
      client.close();
    }
  });

  it('refuses calls from unknown keys with UNAUTHENTICATED / AUTH_UNKNOWN_KEY', async () => {
    const client = new RpcClient({ address, key: stranger, service: 'SiteService' });
    try {
      await expect(client.unary('WhoAmI', {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED', reason: 'AUTH_UNKNOWN_KEY' });
    } finally {
      client.close();
    }
  });

  it('hands handlers the request bytes as received, which decodeRequest decodes', async () => {
    const client = new RpcClient({ address, key: site, service: 'SiteService' });
    try {
      const request = { invitationToken: 't', siteName: 'site-a', publicKey: site.publicKey };
      const res = await client.unary<typeof request, EnrollResponse__Output>('Enroll', request);
      expect(Buffer.from(res.site?.publicKey ?? [])).toEqual(Buffer.from(site.publicKey));
      const expected = serviceDefinition('SiteService').Enroll.requestSerialize(request);
      expect(digests.at(-1)).toBe(sha256Hex(expected));
      const decoded = decodeRequest('SiteService', 'Enroll', Buffer.from(expected));
      expect(Object.keys(decoded).sort()).toEqual(['invitationToken', 'publicKey', 'siteName']);
      expect(() => decodeRequest('SiteService', 'Enroll', Buffer.from([0xff, 0xff, 0xff]))).toThrow(expect.objectContaining({ reason: 'MALFORMED_REQUEST' }));
    } finally {
      client.close();
    }
  });

  it('turns error statuses into TributaryError with the reason from the trailer', async () => {
    const client = new RpcClient({ address, key: site, service: 'SiteService' });
    try {
      await expect(client.unary('GetUpdateStatus', { federation: 'f', updateId: 'x' })).rejects.toMatchObject({
        code: 'FAILED_PRECONDITION',
        reason: 'SITE_NOT_SELECTED',
        message: 'site-a is not selected',
      });
      await expect(client.unary('NoSuchMethod', {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(client.unary('WatchTasks', {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      client.close();
    }
  });

  it('streams until the consumer breaks, then cancels the call', async () => {
    const client = new RpcClient({ address, key: site, service: 'SiteService' });
    try {
      const rounds: number[] = [];
      for await (const task of client.serverStream<WatchTasksRequest, Task__Output>('WatchTasks', { federation: 'churn' })) {
        expect(task.federation).toBe('churn');
        rounds.push(task.round);
        if (rounds.length === 3) break;
      }
      expect(rounds).toEqual([1, 2, 3]);
      await watchCancelled;
    } finally {
      client.close();
    }
  });

  it('cancels a stream when the signal aborts', async () => {
    const client = new RpcClient({ address, key: site, service: 'SiteService' });
    try {
      const controller = new AbortController();
      const seen: number[] = [];
      const consume = async (): Promise<void> => {
        for await (const task of client.serverStream<WatchTasksRequest, Task__Output>('WatchTasks', { federation: 'churn' }, { signal: controller.signal })) {
          seen.push(task.round);
          if (seen.length === 2) controller.abort();
        }
      };
      await expect(consume()).rejects.toMatchObject({ code: 'CANCELLED' });
      expect(seen.length).toBeGreaterThanOrEqual(2);
    } finally {
      client.close();
    }
  });

  it('delivers the messages sent before a stream error, then the error', async () => {
    const client = new RpcClient({ address, key: site, service: 'SiteService' });
    try {
      const chunks: number[] = [];
      const consume = async (): Promise<void> => {
        for await (const chunk of client.serverStream<object, ModelChunk__Output>('DownloadModel', { federation: 'f', version: 9 })) {
          chunks.push(...chunk.data);
        }
      };
      await expect(consume()).rejects.toMatchObject({ code: 'NOT_FOUND', reason: 'NOT_FOUND', message: 'version 9 does not exist' });
      expect(chunks).toEqual([1, 2, 3]);
    } finally {
      client.close();
    }
  });

  it('fails unary calls that are aborted or time out', async () => {
    const client = new RpcClient({ address, key: site, service: 'SiteService' });
    try {
      const controller = new AbortController();
      controller.abort();
      await expect(client.unary('WhoAmI', {}, { signal: controller.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
      await expect(client.unary('WhoAmI', {}, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', retryable: true });
    } finally {
      client.close();
    }
  });

  it('reports an unreachable server as UNAVAILABLE (retryable)', async () => {
    const probe = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      probe.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    probe.forceShutdown();
    const client = new RpcClient({ address: `127.0.0.1:${port}`, key: site, service: 'SiteService' });
    try {
      await expect(client.unary('WhoAmI', {}, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    } finally {
      client.close();
    }
  });
});
