import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { SiteClient } from '@tributary/client-sdk';
import {
  RpcClient,
  TributaryError,
  encodeSafetensors,
  formatPublicKey,
  generateSigningKey,
  writeKeyFile,
  type GetNatsCredentialsRequest,
  type Invitation__Output,
  type NatsCredentials__Output,
  type Site__Output,
  type SigningKey,
  type WhoAmIRequest,
  type WhoAmIResponse__Output,
} from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli, type CliResult } from '../helpers/cli.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

interface SiteListResult {
  sites: Site__Output[];
  invitations: Invitation__Output[];
}

/** What a SiteService call made with `key` comes to: OK, or the reason it was refused. */
async function siteCall(stack: Stack, key: SigningKey, method: 'WhoAmI' | 'GetNatsCredentials'): Promise<string> {
  const rpc = new RpcClient({ address: stack.coordinator.address, key, service: 'SiteService' });
  try {
    if (method === 'WhoAmI') await rpc.unary<WhoAmIRequest, WhoAmIResponse__Output>('WhoAmI', {});
    else await rpc.unary<GetNatsCredentialsRequest, NatsCredentials__Output>('GetNatsCredentials', { userPublicKey: createUser().getPublicKey() });
    return 'OK';
  } catch (err) {
    return TributaryError.from(err).reason;
  } finally {
    rpc.close();
  }
}

/** Pending invitations, removing and restoring sites, through the `tributary` CLI against a real coordinator and nats-server. */
describe('site lifecycle commands', () => {
  let stack: Stack;
  let dir: string;
  const tributary = (args: string[]): Promise<CliResult> =>
    runCli(args, {
      cwd: dir,
      withoutOuterSettings: true,
      timeoutMs: 120_000,
      env: { TRIBUTARY_COORDINATOR: stack.coordinator.address, TRIBUTARY_KEY: join(dir, 'owner.key') },
    });
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await tributary([...args, '--json']);
    const envelope = envelopeOf<T>(r);
    if (!envelope.ok) throw new Error(`tributary ${args.join(' ')} failed: ${r.stdout}`);
    return envelope.result as T;
  };

  beforeAll(async () => {
    stack = await startStack();
    dir = await mkdtemp(join(tmpdir(), 'tributary-sitelife-'));
    await writeKeyFile(join(dir, 'owner.key'), stack.adminKey);
    for (const name of ['clinics', 'banks']) await stack.admin.createFederation({ name, initialModel: encodeSafetensors(toyModel()) });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  describe('invitations', () => {
    let first: Invitation__Output;
    let second: Invitation__Output;

    beforeAll(async () => {
      first = await json<Invitation__Output>(['site', 'invite', '--federation', 'clinics', '--name', 'clinic-a']);
      second = await json<Invitation__Output>(['site', 'invite', '--federation', 'clinics', '--name', 'clinic-b']);
    }, 120_000);

    it('gives each minted invitation a public id that is not its token', () => {
      expect(first.id).toMatch(/^inv-[0-9a-f]{12}$/);
      expect(second.id).not.toBe(first.id);
      expect(first.token).not.toContain(first.id.slice(4));
    });

    it('lists both pending invitations with their ids and never their tokens', async () => {
      const r = await tributary(['site', 'invitations', '--json']);
      const listed = envelopeOf<Invitation__Output[]>(r).result ?? [];
      expect(listed.map((i) => i.id).sort()).toEqual([first.id, second.id].sort());
      expect(listed.map((i) => i.token)).toEqual(['', '']);
      expect(r.stdout).not.toContain(first.token);
      expect(listed.find((i) => i.id === first.id)).toMatchObject({ siteName: 'clinic-a', federations: ['clinics'], mintedBy: 'owner' });
    });

    it('shows them as a table of id, site, federations, expiry and who minted them', async () => {
      const r = await tributary(['site', 'invitations']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^ID\s+SITE\s+FEDERATIONS\s+EXPIRES\s+BY$/m);
      expect(r.stdout).toMatch(new RegExp(`^${first.id}\\s+clinic-a\\s+clinics\\s+\\S+ \\S+\\s+owner$`, 'm'));
    });

    it('filters them by federation', async () => {
      expect(await json<Invitation__Output[]>(['site', 'invitations', '--federation', 'banks'])).toEqual([]);
      expect(await json<Invitation__Output[]>(['site', 'invitations', '--federation', 'clinics'])).toHaveLength(2);
    });

    it('lists pending invitations below the sites in `site list`, and both in its envelope', async () => {
      const human = await tributary(['site', 'list']);
      expect(human.stdout).toContain('Pending invitations');
      expect(human.stdout).toContain(first.id);
      const result = await json<SiteListResult>(['site', 'list']);
      expect(result.invitations.map((i) => i.id)).toContain(first.id);
      expect(Array.isArray(result.sites)).toBe(true);
    });

    it('revokes an invitation with `site uninvite`, so that enrolling with its token fails INVITATION_INVALID', async () => {
      const r = await tributary(['site', 'uninvite', first.id]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Revoked invitation ${first.id}`);
      const enrolling = SiteClient.enroll({ coordinator: stack.coordinator.address, key: generateSigningKey('clinic-a'), invitationToken: first.token });
      await expect(enrolling).rejects.toMatchObject({ reason: 'INVITATION_INVALID' });
      expect(await stack.admin.listSites()).not.toContainEqual(expect.objectContaining({ name: 'clinic-a' }));
    });

    it('no longer lists a revoked invitation', async () => {
      expect((await json<Invitation__Output[]>(['site', 'invitations'])).map((i) => i.id)).toEqual([second.id]);
    });

    it('still enrolls with the other invitation, which then leaves the list', async () => {
      const site = await SiteClient.enroll({ coordinator: stack.coordinator.address, key: generateSigningKey('clinic-b'), invitationToken: second.token });
      expect(site.name).toBe('clinic-b');
      expect(await json<Invitation__Output[]>(['site', 'invitations'])).toEqual([]);
    });

    it('refuses an unknown invitation id with NOT_FOUND and a hint naming `site invitations`', async () => {
      const r = await tributary(['site', 'uninvite', 'inv-000000000000', '--json']);
      expect(r.code).toBe(1);
      const { error } = envelopeOf(r);
      expect(error?.code).toBe('NOT_FOUND');
      expect(error?.message).toBe('invitation "inv-000000000000" does not exist');
      expect(error?.hint).toContain('tributary site invitations');
    });

    it('records who revoked an invitation in the audit log', async () => {
      const entries = [];
      for await (const e of stack.admin.auditEntries()) if (e.method.endsWith('/RevokeInvitation')) entries.push(e);
      expect(entries).toContainEqual(expect.objectContaining({ principalName: 'owner', outcome: 'ok' }));
    });
  });

  describe('removing and restoring a site', () => {
    let key: SigningKey;

    beforeAll(async () => {
      key = await addSite(stack, 'bank-a', ['banks', 'clinics']);
      await addSite(stack, 'bank-b', ['banks']);
    }, 120_000);

    it('takes a removed site out of every federation and revokes its key', async () => {
      const r = await tributary(['site', 'remove', 'bank-a']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Removed site "bank-a"');
      for (const name of ['banks', 'clinics']) expect((await stack.admin.getFederation(name)).sites).not.toContain('bank-a');
      const site = (await stack.admin.listSites()).find((s) => s.name === 'bank-a');
      expect(site).toMatchObject({ status: 'SITE_STATUS_REVOKED', federations: [], removedBy: 'owner' });
      expect(site?.removedFrom.sort()).toEqual(['banks', 'clinics']);
    });

    it('refuses the removed site its SiteService calls and NATS credentials with KEY_REVOKED', async () => {
      expect(await siteCall(stack, key, 'WhoAmI')).toBe('KEY_REVOKED');
      expect(await siteCall(stack, key, 'GetNatsCredentials')).toBe('KEY_REVOKED');
    });

    it('refuses to add a removed site back before it is restored, with a hint naming `site restore`', async () => {
      const r = await tributary(['site', 'add', 'bank-a', '--public-key', formatPublicKey(key.publicKey), '--federation', 'banks', '--json']);
      const { error } = envelopeOf(r);
      expect(error?.code).toBe('KEY_REVOKED');
      expect(error?.hint).toContain('tributary site restore');
    });

    it('shows the removed site as REMOVED in `site list`', async () => {
      const r = await tributary(['site', 'list']);
      expect(r.stdout).toMatch(/^bank-a\s+REMOVED\s/m);
      expect(r.stdout).toMatch(/^bank-b\s+APPROVED\s/m);
    });

    it('marks a revoked member in `federation show`', async () => {
      await tributary(['site', 'revoke', 'bank-b']);
      const r = await tributary(['federation', 'show', 'banks']);
      expect(r.stdout).toMatch(/^sites\s+bank-b \(revoked\)$/m);
      expect((await stack.admin.getFederation('banks')).revokedSites).toEqual(['bank-b']);
    });

    it('counts revoked members in `federation list`', async () => {
      const r = await tributary(['federation', 'list']);
      expect(r.stdout).toMatch(/^banks\s+\S+\s+\d+\s+\d+\s+1 \(1 revoked\)\s/m);
    });

    it('restores a removed site: approved again, with a warning about leaked keys, in no federation', async () => {
      const r = await tributary(['site', 'restore', 'bank-a']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Warning:');
      expect(r.stdout).toContain('tributary site add bank-a');
      const site = (await stack.admin.listSites()).find((s) => s.name === 'bank-a');
      expect(site).toMatchObject({ status: 'SITE_STATUS_APPROVED', federations: [], removedAtMs: 0, restoredBy: 'owner' });
      expect(site?.restoredAtMs).toBeGreaterThan(0);
    });

    it('lets a restored site call again, and get NATS credentials once it is added back', async () => {
      expect(await siteCall(stack, key, 'WhoAmI')).toBe('OK');
      const added = await tributary(['site', 'add', 'bank-a', '--public-key', formatPublicKey(key.publicKey), '--federation', 'banks']);
      expect(added.code).toBe(0);
      expect(await siteCall(stack, key, 'GetNatsCredentials')).toBe('OK');
      expect((await stack.admin.getFederation('banks')).sites).toContain('bank-a');
    });

    it('keeps the memberships of a site that was revoked, not removed, when it is restored', async () => {
      const r = await tributary(['site', 'restore', 'bank-b', '--json']);
      expect(envelopeOf<Site__Output>(r).result).toMatchObject({ status: 'SITE_STATUS_APPROVED', federations: ['banks'] });
      expect((await stack.admin.getFederation('banks')).revokedSites).toEqual([]);
    });

    it('refuses to restore a site that is not revoked with FAILED_PRECONDITION', async () => {
      const { error } = envelopeOf(await tributary(['site', 'restore', 'bank-b', '--json']));
      expect(error?.code).toBe('FAILED_PRECONDITION');
      expect(error?.message).toBe('site "bank-b" is not revoked');
    });

    it.each([['remove'], ['restore']])('refuses `site %s` of an unknown site with NOT_FOUND and a hint naming `site list`', async (verb) => {
      const r = await tributary(['site', verb, 'nobody', '--json']);
      expect(r.code).toBe(1);
      const { error } = envelopeOf(r);
      expect(error?.code).toBe('NOT_FOUND');
      expect(error?.hint).toContain('tributary site list');
    });

    it('records who removed and restored the site in the audit log', async () => {
      const methods: string[] = [];
      for await (const e of stack.admin.auditEntries({ principal: 'owner' })) if (e.outcome === 'ok') methods.push(e.method.split('/').pop() ?? '');
      expect(methods).toEqual(expect.arrayContaining(['RemoveSite', 'RestoreSite']));
    });
  });

  describe('removing a site selected in an open round', () => {
    it('lets the round commit with the other sites, its lineage still naming the removed one as selected', async () => {
      await stack.admin.createFederation({ name: 'open-round', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 5 }, initialModel: encodeSafetensors(toyModel()) });
      const stay = await addSite(stack, 'stay', ['open-round']);
      await addSite(stack, 'leave', ['open-round']);
      const run = await stack.admin.startRun('open-round');
      await eventually(async () => ((await stack.admin.getRun(run.id)).currentRound === 1 ? true : undefined));
      expect((await tributary(['site', 'remove', 'leave'])).code).toBe(0);
      const raw = await stack.rawSite();
      try {
        const verdict = await raw.send({ key: stay, site: 'stay', federation: 'open-round', runId: run.id, round: 1, weights: toyTrain(toyModel(), 'stay', 1) });
        expect(verdict.state).toBe('UPDATE_STATE_ACCEPTED');
      } finally {
        await raw.close();
      }
      expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
      const round = await stack.admin.getRound(run.id, 1);
      expect(round.state).toBe('ROUND_STATE_COMMITTED');
      expect(round.selectedSites.sort()).toEqual(['leave', 'stay']);
      expect(round.accepted.map((u) => u.site)).toEqual(['stay']);
    }, 60_000);
  });
});
