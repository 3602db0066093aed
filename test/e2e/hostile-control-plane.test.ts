import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  AUTH_HEADERS,
  MAX_STATUS_MESSAGE_CHARS,
  RpcClient,
  encodeSafetensors,
  generateSigningKey,
  methodPath,
  serviceDefinition,
  signCall,
  type CreateFederationPart,
  type ServiceName,
  type SigningKey,
} from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

/** What a call came back with: its status code, the reason trailer ('' when absent) and the message. */
interface Outcome {
  code: grpc.status;
  reason: string;
  details: string;
}

/** One hostile call (or burst of calls) and what the coordinator must answer. */
interface HostileCase {
  name: string;
  expected: { code: grpc.status; reason: string };
  run: () => Promise<Outcome>;
}

const MiB = 1024 * 1024;
const WHOAMI = methodPath('SiteService', 'WhoAmI');

function encode(service: ServiceName, method: string, request: object): Buffer {
  const def = (serviceDefinition(service) as unknown as Record<string, { requestSerialize(r: object): Buffer } | undefined>)[method];
  if (!def) throw new Error(`no method ${method}`);
  return def.requestSerialize(request);
}

/** A unary call with hand-made bytes and metadata, as a client in any language could send it. */
function rawCall(address: string, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<Outcome> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return callOn(client, path, body, headers).finally(() => client.close());
}

function callOn(client: grpc.Client, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<Outcome> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, metadata, (err) => {
      resolve({ code: err?.code ?? grpc.status.OK, reason: String(err?.metadata?.get('x-tributary-reason')[0] ?? ''), details: err?.details ?? '' });
    });
  });
}

/** `n` calls at once over one connection; `headers` makes each call's metadata. */
async function burst(address: string, n: number, path: string, body: Buffer, headers: () => Record<string, string>): Promise<Outcome[]> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    return await Promise.all(Array.from({ length: n }, () => callOn(client, path, body, headers())));
  } finally {
    client.close();
  }
}

function signedCall(address: string, key: SigningKey, service: ServiceName, method: string, body: Buffer): Promise<Outcome> {
  const path = methodPath(service, method);
  return rawCall(address, path, body, signCall(key, path, body));
}

/** Lines in the coordinator's nonce files: every nonce it holds. */
async function storedNonces(dataDir: string): Promise<number> {
  const dir = join(dataDir, 'call-nonces');
  let lines = 0;
  for (const file of await readdir(dir)) lines += (await readFile(join(dir, file), 'utf8')).split('\n').filter((l) => l !== '').length;
  return lines;
}

describe('a hostile caller on the control plane', () => {
  let stack: Stack;
  let site: SigningKey;
  const results: Array<{ name: string; asExpected: boolean; crashed: boolean }> = [];

  beforeAll(async () => {
    stack = await startStack({
      maxUpdateSize: '32MiB',
      rateLimits: { perKey: { ratePerSecond: 1, burst: 100 }, perPeer: { ratePerSecond: 50, burst: 1500 } },
    });
    await stack.admin.createFederation({ name: 'hostile', initialModel: encodeSafetensors(toyModel()) });
    site = await addSite(stack, 'site-h', ['hostile']);
  });
  afterAll(async () => {
    const refused = results.filter((r) => r.asExpected).length;
    const crashes = results.filter((r) => r.crashed).length;
    console.log(`hostile control plane: ${results.length} cases | ${refused} refused as expected | ${crashes} crashes`);
    await stack?.stop();
  });

  const address = () => stack.coordinator.address;
  const invitation = async () => (await stack.admin.createInvitation({ federations: ['hostile'] })).token;
  const enrollBody = (key: SigningKey, token: string, siteName: string) =>
    encode('SiteService', 'Enroll', { invitationToken: token, siteName, publicKey: key.publicKey });

  const cases: HostileCase[] = [
    {
      name: 'an unsigned 16 MiB WhoAmI is refused before it is read (4 MiB limit on every method)',
      expected: { code: grpc.status.RESOURCE_EXHAUSTED, reason: 'MESSAGE_TOO_LARGE' },
      run: () => rawCall(address(), WHOAMI, Buffer.alloc(16 * MiB, 1)),
    },
    {
      name: 'a signed 5 MiB AdminService call is refused before it is read',
      expected: { code: grpc.status.RESOURCE_EXHAUSTED, reason: 'MESSAGE_TOO_LARGE' },
      run: () => signedCall(address(), stack.adminKey, 'AdminService', 'GetFederation', encode('AdminService', 'GetFederation', { name: 'x'.repeat(5 * MiB) })),
    },
    {
      name: 'an unknown key gets the same answer as a bad signature (AUTH_FAILED)',
      expected: { code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' },
      run: () => signedCall(address(), generateSigningKey('stranger'), 'SiteService', 'WhoAmI', encode('SiteService', 'WhoAmI', {})),
    },
    {
      name: "a known key id with someone else's signature gets AUTH_FAILED",
      expected: { code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' },
      run: () => {
        const body = encode('SiteService', 'WhoAmI', {});
        const headers = { ...signCall(generateSigningKey('forger'), WHOAMI, body), [AUTH_HEADERS.keyId]: site.keyId };
        return rawCall(address(), WHOAMI, body, headers);
      },
    },
    {
      name: "a stranger's undecodable body is never decoded (AUTH_FAILED, not a decoding error)",
      expected: { code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' },
      run: () => signedCall(address(), generateSigningKey('stranger'), 'AdminService', 'GetFederation', Buffer.from([0xff, 0xff, 0xff, 0xff])),
    },
    {
      name: 'a signed call with an undecodable body is INVALID_ARGUMENT / MALFORMED_REQUEST',
      expected: { code: grpc.status.INVALID_ARGUMENT, reason: 'MALFORMED_REQUEST' },
      run: () => signedCall(address(), stack.adminKey, 'AdminService', 'GetFederation', Buffer.from([0xff, 0xff, 0xff, 0xff])),
    },
    {
      name: 'an unknown method answers UNIMPLEMENTED with the reason trailer',
      expected: { code: grpc.status.UNIMPLEMENTED, reason: 'UNIMPLEMENTED' },
      run: () => rawCall(address(), '/tributary.v1.AdminService/DropEverything', Buffer.alloc(0)),
    },
    {
      name: 'a 200 KB federation name is quoted by a short prefix only',
      expected: { code: grpc.status.INVALID_ARGUMENT, reason: 'INVALID_NAME' },
      run: async () => {
        const outcome = await signedCall(address(), stack.adminKey, 'AdminService', 'GetFederation', encode('AdminService', 'GetFederation', { name: 'a'.repeat(200_000) }));
        expect(outcome.details).toContain('…(200000 bytes)');
        expect(outcome.details.length).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_CHARS);
        return outcome;
      },
    },
    {
      name: 'a 1 MB run id is quoted by a short prefix only',
      expected: { code: grpc.status.NOT_FOUND, reason: 'NOT_FOUND' },
      run: async () => {
        const outcome = await signedCall(address(), stack.adminKey, 'AdminService', 'GetRun', encode('AdminService', 'GetRun', { runId: 'r'.repeat(MiB) }));
        expect(outcome.details.length).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_CHARS);
        return outcome;
      },
    },
    {
      name: 'a bogus enrollment by a fresh key leaves no nonce behind',
      expected: { code: grpc.status.PERMISSION_DENIED, reason: 'INVITATION_INVALID' },
      run: async () => {
        const before = await storedNonces(stack.dataDir);
        const stranger = generateSigningKey('stranger');
        const outcome = await signedCall(address(), stranger, 'SiteService', 'Enroll', enrollBody(stranger, 'trib_inv_bogus', 'mallory'));
        expect(await storedNonces(stack.dataDir)).toBe(before);
        return outcome;
      },
    },
    {
      name: 'an oversized Enroll from a key not yet known is refused undecoded',
      expected: { code: grpc.status.INVALID_ARGUMENT, reason: 'MALFORMED_REQUEST' },
      run: () => {
        const stranger = generateSigningKey('stranger');
        return signedCall(address(), stranger, 'SiteService', 'Enroll', enrollBody(stranger, 't'.repeat(8192), 'mallory'));
      },
    },
    {
      name: 'a replayed enrollment is a replay once the invitation was redeemed',
      expected: { code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_REPLAYED' },
      run: async () => {
        const newcomer = generateSigningKey('newcomer');
        const body = enrollBody(newcomer, await invitation(), 'newcomer');
        const path = methodPath('SiteService', 'Enroll');
        const headers = signCall(newcomer, path, body);
        expect((await rawCall(address(), path, body, headers)).code).toBe(grpc.status.OK);
        return rawCall(address(), path, body, headers);
      },
    },
    {
      name: 'one invitation redeemed by 8 concurrent enrollments enrolls exactly one site',
      expected: { code: grpc.status.PERMISSION_DENIED, reason: 'INVITATION_INVALID' },
      run: async () => {
        const token = await invitation();
        const outcomes = await Promise.all(
          Array.from({ length: 8 }, (_, i) => {
            const key = generateSigningKey(`racer-${i}`);
            return signedCall(address(), key, 'SiteService', 'Enroll', enrollBody(key, token, `racer-${i}`));
          }),
        );
        expect(outcomes.filter((o) => o.code === grpc.status.OK)).toHaveLength(1);
        expect((await stack.admin.listSites('hostile')).filter((s) => s.name.startsWith('racer-'))).toHaveLength(1);
        const refused = outcomes.filter((o) => o.code !== grpc.status.OK);
        expect(refused).toHaveLength(7);
        expect(new Set(refused.map((o) => `${o.code}/${o.reason}`))).toEqual(new Set([`${grpc.status.PERMISSION_DENIED}/INVITATION_INVALID`]));
        return refused[0] as Outcome;
      },
    },
    {
      name: 'initial weights that do not match their signed digest create nothing',
      expected: { code: grpc.status.DATA_LOSS, reason: 'DIGEST_MISMATCH' },
      run: async () => {
        const model = encodeSafetensors(toyModel());
        const outcome = await streamCreateFederation(stack, 'tampered', model, { sha256: createHash('sha256').update('other').digest('hex') });
        await expect(stack.admin.getFederation('tampered')).rejects.toMatchObject({ reason: 'NOT_FOUND' });
        return outcome;
      },
    },
    {
      name: 'initial weights declared larger than maxUpdateSize are refused before a chunk is read',
      expected: { code: grpc.status.RESOURCE_EXHAUSTED, reason: 'PAYLOAD_TOO_LARGE' },
      run: () => streamCreateFederation(stack, 'huge', encodeSafetensors(toyModel()), { size: 64 * MiB }),
    },
    {
      name: 'a key calling beyond its rate gets RATE_LIMITED',
      expected: { code: grpc.status.RESOURCE_EXHAUSTED, reason: 'RATE_LIMITED' },
      run: async () => {
        const body = encode('SiteService', 'WhoAmI', {});
        const outcomes = await burst(address(), 150, WHOAMI, body, () => signCall(site, WHOAMI, body));
        const limited = outcomes.filter((o) => o.reason === 'RATE_LIMITED');
        expect(limited.length).toBeGreaterThan(0);
        return limited[0] as Outcome;
      },
    },
    {
      name: 'an address calling beyond its rate gets RATE_LIMITED before any check',
      expected: { code: grpc.status.RESOURCE_EXHAUSTED, reason: 'RATE_LIMITED' },
      run: async () => {
        const outcomes = await burst(address(), 2500, WHOAMI, Buffer.alloc(0), () => ({}));
        const limited = outcomes.filter((o) => o.reason === 'RATE_LIMITED');
        expect(limited.length).toBeGreaterThan(0);
        return limited[0] as Outcome;
      },
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const outcome = await c.run();
      const asExpected = outcome.code === c.expected.code && outcome.reason === c.expected.reason;
      // The coordinator still answers a signed call (once the rate limits let the tests' address in again).
      const alive = await eventually(async () => {
        const r = await signedCall(address(), stack.adminKey, 'SiteService', 'WhoAmI', encode('SiteService', 'WhoAmI', {}));
        return r.reason === 'RATE_LIMITED' ? undefined : r;
      }).catch(() => undefined);
      results.push({ name: c.name, asExpected, crashed: alive?.code !== grpc.status.OK });
      expect({ code: outcome.code, reason: outcome.reason }).toEqual(c.expected);
      expect(alive?.code).toBe(grpc.status.OK);
    });
  }

  it('creates a federation whose initial weights exceed the 4 MiB message limit, streamed in chunks', async () => {
    const big = encodeSafetensors({ w: { dtype: 'F32', shape: [3 * MiB], data: new Float32Array(3 * MiB).fill(0.5) } });
    expect(big.byteLength).toBeGreaterThan(4 * MiB);
    const created = await stack.admin.createFederation({ name: 'big-model', initialModel: big });
    expect(created.modelSpec?.tensors).toEqual([{ name: 'w', dtype: 'F32', shape: [3 * MiB] }]);
    const downloaded = await stack.admin.downloadModel('big-model');
    expect(downloaded.sha256).toBe(createHash('sha256').update(big).digest('hex'));
  });
});

/** CreateFederation as a client stream, with a size or digest that may lie about the weights. */
async function streamCreateFederation(stack: Stack, name: string, model: Uint8Array, lie: { size?: number; sha256?: string }): Promise<Outcome> {
  const rpc = new RpcClient({ address: stack.coordinator.address, key: stack.adminKey, service: 'AdminService' });
  const first: CreateFederationPart = {
    request: {
      name,
      initialModelSize: lie.size ?? model.byteLength,
      initialModelSha256: lie.sha256 ?? createHash('sha256').update(model).digest('hex'),
    },
  };
  try {
    await rpc.clientStream<CreateFederationPart, object>('CreateFederation', first, [{ modelChunk: model }]);
    return { code: grpc.status.OK, reason: '', details: '' };
  } catch (err) {
    const e = err as { code: string; reason: string; message: string };
    return { code: grpc.status[e.code as keyof typeof grpc.status] as grpc.status, reason: e.reason, details: e.message };
  } finally {
    rpc.close();
  }
}
