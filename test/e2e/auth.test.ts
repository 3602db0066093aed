import * as grpc from '@grpc/grpc-js';
import { AdminClient } from '@tributary/coordinator';
import { encodeSafetensors, generateSigningKey, methodPath, serviceDefinition, signCall, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

/** Calls AdminService.ListFederations with hand-made metadata; resolves with the gRPC status code and reason. */
function rawCall(address: string, headers: Record<string, string>, body?: Buffer): Promise<{ code: number; reason: string }> {
  const def = serviceDefinition('AdminService')['ListFederations'];
  if (!def) throw new Error('no such method');
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  const bytes = body ?? (def.requestSerialize({}) as Buffer);
  return new Promise((resolve) => {
    client.makeUnaryRequest(def.path, (b: Buffer) => b, (b: Buffer) => b, bytes, metadata, (err) => {
      client.close();
      resolve({ code: err?.code ?? 0, reason: String(err?.metadata.get('x-tributary-reason')[0] ?? '') });
    });
  });
}

describe('gRPC call authentication', () => {
  let stack: Stack;
  let siteKey: SigningKey;
  const method = methodPath('AdminService', 'ListFederations');
  const emptyBody = () => serviceDefinition('AdminService')['ListFederations']?.requestSerialize({}) as Buffer;

  beforeAll(async () => {
    stack = await startStack();
    await stack.admin.createFederation({ name: 'authfed', initialModel: encodeSafetensors(toyModel()) });
    siteKey = await addSite(stack, 'site-auth', ['authfed']);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('accepts a properly signed admin call', async () => {
    const result = await rawCall(stack.coordinator.address, signCall(stack.adminKey, method, emptyBody()));
    expect(result.code).toBe(grpc.status.OK);
  });

  it('refuses a call without signature headers', async () => {
    expect(await rawCall(stack.coordinator.address, {})).toEqual({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_MISSING' });
  });

  it('refuses an expired call', async () => {
    const headers = signCall(stack.adminKey, method, emptyBody(), Date.now() - 60 * 60 * 1000);
    expect(await rawCall(stack.coordinator.address, headers)).toEqual({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_EXPIRED' });
  });

  it('refuses a replayed call', async () => {
    const headers = signCall(stack.adminKey, method, emptyBody());
    expect((await rawCall(stack.coordinator.address, headers)).code).toBe(grpc.status.OK);
    expect(await rawCall(stack.coordinator.address, headers)).toEqual({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_REPLAYED' });
  });

  it('refuses a call replayed after the coordinator restarted', async () => {
    const headers = signCall(stack.adminKey, method, emptyBody());
    expect((await rawCall(stack.coordinator.address, headers)).code).toBe(grpc.status.OK);
    await stack.stopCoordinator();
    await stack.restartCoordinator();
    expect(await rawCall(stack.coordinator.address, headers)).toEqual({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_REPLAYED' });
    expect((await rawCall(stack.coordinator.address, signCall(stack.adminKey, method, emptyBody()))).code).toBe(grpc.status.OK);
  });

  it('refuses a forged signature', async () => {
    const forger = generateSigningKey('forger');
    const headers = { ...signCall(forger, method, emptyBody()), 'x-tributary-key-id': stack.adminKey.keyId };
    expect(await rawCall(stack.coordinator.address, headers)).toEqual({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' });
  });

  it('refuses a signature made over another request body', async () => {
    const other = serviceDefinition('AdminService')['GetFederation']?.requestSerialize({ name: 'authfed' }) as Buffer;
    const headers = signCall(stack.adminKey, method, other);
    expect(await rawCall(stack.coordinator.address, headers)).toEqual({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' });
  });

  it('refuses an unknown key', async () => {
    const headers = signCall(generateSigningKey('nobody'), method, emptyBody());
    expect(await rawCall(stack.coordinator.address, headers)).toEqual({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' });
  });

  it('denies a site key an admin method', async () => {
    const asSite = new AdminClient({ address: stack.coordinator.address, key: siteKey });
    await expect(asSite.listFederations()).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    asSite.close();
  });

  it('refuses a revoked site key', async () => {
    const key = await addSite(stack, 'soon-revoked', ['authfed']);
    await stack.admin.revokeSite('soon-revoked');
    const asSite = new AdminClient({ address: stack.coordinator.address, key });
    await expect(asSite.listFederations()).rejects.toMatchObject({ code: 'UNAUTHENTICATED', reason: 'KEY_REVOKED' });
    asSite.close();
  });

  it('answers bad names with INVALID_ARGUMENT and a one-line message', async () => {
    await expect(stack.admin.getFederation('Bad Name!')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'INVALID_NAME' });
  });
});
