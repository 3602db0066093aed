import { AdminClient } from '@tributary/coordinator';
import { encodeSafetensors, generateSigningKey, TributaryError } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

/** The code and reason a call failed with; `OK` when it succeeded. */
async function outcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => 'OK',
    (err: unknown) => {
      const e = TributaryError.from(err);
      return `${e.code} ${e.reason}`;
    },
  );
}

describe('principals managed at run time', () => {
  let stack: Stack;
  const clients: AdminClient[] = [];
  const clientOf = (key: ReturnType<typeof generateSigningKey>) => {
    const client = new AdminClient({ address: stack.coordinator.address, key });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    stack = await startStack({}, { natsAuth: false });
    await stack.admin.createFederation({ name: 'churn', initialModel: encodeSafetensors(toyModel()) });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await stack?.stop();
  });

  it('lists the bootstrap key as the owner', async () => {
    const [owner] = await stack.admin.listPrincipals();
    expect(owner).toMatchObject({ name: 'owner', owner: true, keyId: stack.adminKey.keyId, status: 'PRINCIPAL_STATUS_ACTIVE' });
  });

  it('lets a principal added without grants do nothing', async () => {
    const key = generateSigningKey('idle');
    await stack.admin.addPrincipal({ name: 'idle', publicKey: key.publicKey });
    expect(await outcome(clientOf(key).listFederations())).toBe('PERMISSION_DENIED PERMISSION_DENIED');
  });

  it('lets a principal use what it was granted at once, and no more', async () => {
    const key = generateSigningKey('alice');
    await stack.admin.addPrincipal({ name: 'alice', publicKey: key.publicKey, description: 'CI job' });
    await stack.admin.grant({ privilege: 'read', resource: 'federation:churn', grantee: 'principal:alice' });
    const alice = clientOf(key);
    expect((await alice.getFederation('churn')).name).toBe('churn');
    expect(await outcome(alice.startRun('churn'))).toBe('PERMISSION_DENIED PERMISSION_DENIED');
  });

  it("gives a principal its groups' grants, and takes them away when revoked", async () => {
    const key = generateSigningKey('bob');
    await stack.admin.addPrincipal({ name: 'bob', publicKey: key.publicKey, groups: ['ml-team'] });
    await stack.admin.grant({ privilege: 'operate', resource: 'federation:churn', grantee: 'group:ml-team' });
    const bob = clientOf(key);
    const invitation = await bob.createInvitation({ federations: ['churn'] });
    expect(invitation.mintedBy).toBe('bob');
    await stack.admin.revokeGrant({ privilege: 'operate', resource: 'federation:churn', grantee: 'group:ml-team' });
    expect(await outcome(bob.createInvitation({ federations: ['churn'] }))).toBe('PERMISSION_DENIED PERMISSION_DENIED');
  });

  it('refuses the next call of a disabled principal', async () => {
    const key = generateSigningKey('carol');
    await stack.admin.addPrincipal({ name: 'carol', publicKey: key.publicKey });
    await stack.admin.grant({ privilege: 'read', resource: 'federation:*', grantee: 'principal:carol' });
    const carol = clientOf(key);
    expect(await outcome(carol.listFederations())).toBe('OK');
    await stack.admin.disablePrincipal('carol');
    expect(await outcome(carol.listFederations())).toBe('UNAUTHENTICATED PRINCIPAL_DISABLED');
  });

  it('refuses the old key of a rotated principal and accepts the new one', async () => {
    const oldKey = generateSigningKey('dave');
    const newKey = generateSigningKey('dave');
    await stack.admin.addPrincipal({ name: 'dave', publicKey: oldKey.publicKey });
    await stack.admin.grant({ privilege: 'read', resource: 'federation:churn', grantee: 'principal:dave' });
    const before = clientOf(oldKey);
    expect(await outcome(before.getFederation('churn'))).toBe('OK');
    const rotated = await stack.admin.rotatePrincipalKey('dave', newKey.publicKey);
    expect(rotated.keyId).toBe(newKey.keyId);
    expect(await outcome(before.getFederation('churn'))).toBe('UNAUTHENTICATED AUTH_FAILED');
    expect(await outcome(clientOf(newKey).getFederation('churn'))).toBe('OK');
  });

  it('refuses to disable or rotate the owner through the API', async () => {
    expect(await outcome(stack.admin.disablePrincipal('owner'))).toBe('FAILED_PRECONDITION FAILED_PRECONDITION');
    expect(await outcome(stack.admin.rotatePrincipalKey('owner', generateSigningKey('x').publicKey))).toBe('FAILED_PRECONDITION FAILED_PRECONDITION');
  });

  it("refuses a principal with a name or key that is taken, or a site's key", async () => {
    const siteKey = generateSigningKey('site-one');
    await stack.admin.addSite({ name: 'site-one', publicKey: siteKey.publicKey, federations: ['churn'] });
    expect(await outcome(stack.admin.addPrincipal({ name: 'alice', publicKey: generateSigningKey('a').publicKey }))).toBe('ALREADY_EXISTS ALREADY_EXISTS');
    expect(await outcome(stack.admin.addPrincipal({ name: 'eve', publicKey: stack.adminKey.publicKey }))).toBe('ALREADY_EXISTS ALREADY_EXISTS');
    expect(await outcome(stack.admin.addPrincipal({ name: 'eve', publicKey: siteKey.publicKey }))).toBe('ALREADY_EXISTS ALREADY_EXISTS');
    expect(await outcome(stack.admin.addPrincipal({ name: 'Eve!', publicKey: generateSigningKey('e').publicKey }))).toBe('INVALID_ARGUMENT INVALID_NAME');
  });

  it('refuses a grant of an unknown privilege, resource or principal', async () => {
    expect(await outcome(stack.admin.grant({ privilege: 'write', resource: 'federation:churn', grantee: 'principal:alice' }))).toBe('INVALID_ARGUMENT INVALID_ARGUMENT');
    expect(await outcome(stack.admin.grant({ privilege: 'read', resource: 'experiment:churn', grantee: 'principal:alice' }))).toBe('INVALID_ARGUMENT INVALID_ARGUMENT');
    expect(await outcome(stack.admin.grant({ privilege: 'read', resource: 'federation:nowhere', grantee: 'principal:alice' }))).toBe('NOT_FOUND NOT_FOUND');
    expect(await outcome(stack.admin.grant({ privilege: 'read', resource: 'federation:churn', grantee: 'principal:nobody' }))).toBe('NOT_FOUND NOT_FOUND');
  });

  it('keeps principals, keys and grants across a restart', async () => {
    const key = generateSigningKey('frank');
    await stack.admin.addPrincipal({ name: 'frank', publicKey: key.publicKey, groups: ['auditors'] });
    await stack.admin.grant({ privilege: 'read', resource: 'federation:churn', grantee: 'group:auditors' });
    await stack.stopCoordinator();
    await stack.restartCoordinator();
    expect((await clientOf(key).getFederation('churn')).name).toBe('churn');
    const listed = await stack.admin.listPrincipals();
    expect(listed.find((p) => p.name === 'carol')?.status).toBe('PRINCIPAL_STATUS_DISABLED');
    expect(listed.find((p) => p.name === 'dave')?.rotatedAtMs).toBeGreaterThan(0);
  });
});
