import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey } from '@tributary/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../coordinator/src/federations/catalog.js';
import { silentLogger } from '../../coordinator/src/observability/logger.js';
import { normaliseSettings } from '../../coordinator/src/rounds/settings.js';
import { BlobStore, MemoryStateStore, type InvitationRecord } from '../../coordinator/src/state/index.js';
import { builtinStrategies } from '../../coordinator/src/strategies/index.js';

const HOUR = 3_600_000;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** An invitation as coordinators stored it before invitations had ids. */
function legacyInvitation(token: string, atMs: number): InvitationRecord {
  return { tokenSha256: sha256(token), federations: ['churn'], siteName: '', expiresAtMs: atMs + HOUR, createdAtMs: atMs, usedAtMs: 0, mintedBy: 'owner' };
}

describe('invitations in the catalog', () => {
  let dir: string;
  let state: MemoryStateStore;
  let catalog: Catalog;
  let now = 1_700_000_000_000;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-invitations-'));
    state = new MemoryStateStore();
    await state.open();
    await state.write([
      {
        kind: 'federation',
        value: { name: 'churn', description: '', settings: normaliseSettings({}), modelSpec: [], createdAtMs: now, latestVersion: 1 },
      },
    ]);
    catalog = new Catalog({ state, blobs: new BlobStore(join(dir, 'blobs')), strategies: builtinStrategies(), logger: silentLogger(), now: () => now, stagingDir: dir, maxModelBytes: 2 ** 20 });
  });

  afterEach(async () => {
    await state.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists an invitation stored before ids existed under the id its token digest gives', async () => {
    const token = 'trib_inv_legacy';
    await state.write([{ kind: 'invitation', value: legacyInvitation(token, now) }]);
    const [listed] = await catalog.pendingInvitations();
    expect(listed?.tokenSha256).toBe(sha256(token));
    expect((await catalog.invitation(`inv-${sha256(token).slice(0, 12)}`)).tokenSha256).toBe(sha256(token));
  });

  it('revokes an invitation stored before ids existed by that id, after which its token does not enroll', async () => {
    const token = 'trib_inv_legacy';
    await state.write([{ kind: 'invitation', value: legacyInvitation(token, now) }]);
    const revoked = await catalog.revokeInvitation(`inv-${sha256(token).slice(0, 12)}`, 'alice');
    expect(revoked).toMatchObject({ revokedAtMs: now, revokedBy: 'alice' });
    await expect(catalog.enroll({ token, siteName: 'late', publicKey: generateSigningKey('late').publicKey })).rejects.toMatchObject({ reason: 'INVITATION_INVALID' });
    expect(await catalog.pendingInvitations()).toEqual([]);
  });

  it('stores the id with an invitation it mints, derived from the token the same way', async () => {
    const { token, record } = await catalog.createInvitation({ federations: ['churn'], siteName: '', ttlSeconds: 60, mintedBy: 'owner' });
    expect(record.id).toBe(`inv-${sha256(token).slice(0, 12)}`);
    expect((await state.getInvitation(sha256(token)))?.id).toBe(record.id);
  });

  it('leaves used and expired invitations out of the pending ones, newest first', async () => {
    const used = await catalog.createInvitation({ federations: ['churn'], siteName: '', ttlSeconds: 3600, mintedBy: 'owner' });
    await catalog.enroll({ token: used.token, siteName: 'clinic', publicKey: generateSigningKey('clinic').publicKey });
    now += 1;
    const short = await catalog.createInvitation({ federations: ['churn'], siteName: '', ttlSeconds: 60, mintedBy: 'owner' });
    now += 1;
    const long = await catalog.createInvitation({ federations: ['churn'], siteName: '', ttlSeconds: 3600, mintedBy: 'owner' });
    expect((await catalog.pendingInvitations()).map((i) => i.id)).toEqual([long.record.id, short.record.id]);
    now += 61_000;
    expect((await catalog.pendingInvitations()).map((i) => i.id)).toEqual([long.record.id]);
  });

  it('refuses to revoke a used invitation with FAILED_PRECONDITION, and an unknown id with NOT_FOUND', async () => {
    const used = await catalog.createInvitation({ federations: ['churn'], siteName: '', ttlSeconds: 3600, mintedBy: 'owner' });
    await catalog.enroll({ token: used.token, siteName: 'clinic', publicKey: generateSigningKey('clinic').publicKey });
    await expect(catalog.revokeInvitation(used.record.id ?? '', 'owner')).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(catalog.revokeInvitation('inv-000000000000', 'owner')).rejects.toMatchObject({ code: 'NOT_FOUND', reason: 'NOT_FOUND' });
  });
});
