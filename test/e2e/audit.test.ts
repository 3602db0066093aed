import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RpcClient, encodeSafetensors, formatPublicKey, generateSigningKey, keyIdOf, writeKeyFile, type AuditEntry__Output, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli } from '../helpers/cli.js';
import { rejection } from '../helpers/errors.js';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

const ADMIN = '/tributary.v1.AdminService/';
const SITE = '/tributary.v1.SiteService/';

describe('the audit log of a running coordinator', () => {
  let stack: Stack;
  let raw: RawSite;
  let siteKey: SigningKey;
  let adminKeyFile = '';
  let runId = '';
  const federation = 'audited';

  async function entries(filter: Parameters<Stack['admin']['auditEntries']>[0] = {}): Promise<AuditEntry__Output[]> {
    const out: AuditEntry__Output[] = [];
    for await (const e of stack.admin.auditEntries(filter)) out.push(e);
    return out;
  }

  const cli = (args: string[]) => runCli([...args, '--json', '--coordinator', stack.coordinator.address, '--key', adminKeyFile]);

  beforeAll(async () => {
    stack = await startStack({}, { natsAuth: false });
    raw = await stack.rawSite();
    adminKeyFile = join(stack.dataDir, '..', 'admin.key');
    await writeKeyFile(adminKeyFile, stack.adminKey);
    await stack.admin.createFederation({
      name: federation,
      settings: { rounds: 1, minSites: 1, sampleCount: 1, roundDeadlineSeconds: 300 },
      initialModel: encodeSafetensors(toyModel()),
    });
    siteKey = await addSite(stack, 'site-a', [federation]);
    runId = (await stack.admin.startRun(federation)).id;
  });
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  it('records a state-changing call with its principal, peer, method, target and outcome', async () => {
    const started = (await entries({ federation })).find((e) => e.method === `${ADMIN}StartRun`);
    expect(started).toMatchObject({ keyId: stack.adminKey.keyId, federation, outcome: 'ok', reason: '' });
    expect(started?.peer).toMatch(/127\.0\.0\.1/);
    const added = (await entries()).find((e) => e.method === `${ADMIN}AddSite`);
    expect(added).toMatchObject({ site: 'site-a', federation, outcome: 'ok' });
  });

  it('records a run by its federation when the call names only the run', async () => {
    await stack.admin.stopRun(runId, 'enough').catch(() => undefined);
    const stopped = (await entries({ federation })).find((e) => e.method === `${ADMIN}StopRun`);
    expect(stopped).toMatchObject({ runId, federation });
  });

  it('records a denied call with the caller and the reason', async () => {
    const asSite = new RpcClient({ address: stack.coordinator.address, key: siteKey, service: 'AdminService' });
    try {
      await expect(asSite.unary('ListFederations', {})).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    } finally {
      asSite.close();
    }
    const denied = (await entries({ principal: 'site-a' })).filter((e) => e.outcome === 'denied');
    expect(denied.at(-1)).toMatchObject({ keyId: siteKey.keyId, principalName: 'site-a', method: `${ADMIN}ListFederations`, reason: 'PERMISSION_DENIED' });
  });

  it('records a known key whose call fails authentication, with the precise reason', async () => {
    const other = await addSite(stack, 'site-revoked', [federation]);
    await stack.admin.revokeSite('site-revoked');
    const revoked = new RpcClient({ address: stack.coordinator.address, key: other, service: 'SiteService' });
    try {
      expect(await rejection(revoked.unary('WhoAmI', {}))).toMatchObject({ code: 'UNAUTHENTICATED' });
    } finally {
      revoked.close();
    }
    expect((await entries({ principal: other.keyId })).at(-1)).toMatchObject({ method: `${SITE}WhoAmI`, outcome: 'denied', reason: 'KEY_REVOKED', principalName: 'site-revoked' });
  });

  it('does not record a stranger: a key it does not know costs no entry', async () => {
    const stranger = generateSigningKey('stranger');
    const client = new RpcClient({ address: stack.coordinator.address, key: stranger, service: 'AdminService' });
    try {
      await expect(client.unary('ListFederations', {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    } finally {
      client.close();
    }
    expect(await entries({ principal: stranger.keyId })).toEqual([]);
  });

  it('does not record read calls that succeed', async () => {
    const before = (await entries()).length;
    await stack.admin.listFederations();
    await stack.admin.getFederation(federation);
    await stack.admin.listRuns(federation);
    const after = await entries();
    expect(after.length).toBe(before);
    expect(after.filter((e) => e.method === `${ADMIN}ListFederations` && e.outcome === 'ok')).toEqual([]);
  });

  it('records a refused update with its site, run and reason', async () => {
    const run = (await stack.admin.startRun(federation)).id;
    const verdict = await raw.send({ key: siteKey, site: 'site-a', federation, runId: run, round: 2, weights: toyTrain(toyModel(), 'site-a', 2) });
    expect(verdict).toMatchObject({ reason: 'WRONG_ROUND' });
    const refused = (await entries({ federation })).filter((e) => e.method === 'nats:update');
    expect(refused.at(-1)).toMatchObject({ keyId: siteKey.keyId, principalName: 'site-a', site: 'site-a', runId: run, outcome: 'refused', reason: 'WRONG_ROUND', peer: 'nats' });
    await stack.admin.stopRun(run);
  });

  it('shows entries with `tributary audit`, filtered by federation and principal', async () => {
    const r = await cli(['audit', '--federation', federation, '--principal', stack.adminKey.keyId]);
    expect(r.code).toBe(0);
    const shown = envelopeOf<Array<{ method: string; federation: string; keyId: string; time: string }>>(r).result ?? [];
    expect(shown.map((e) => e.method)).toContain(`${ADMIN}CreateFederation`);
    expect(shown.every((e) => e.federation.split(',').includes(federation) && e.keyId === stack.adminKey.keyId)).toBe(true);
  });

  it('shows only recent entries with --since', async () => {
    const r = await cli(['audit', '--since', '2099-01-01T00:00:00Z']);
    expect(envelopeOf(r).result).toEqual([]);
  });

  it('verifies the live log with `tributary audit verify`', async () => {
    const r = await cli(['audit', 'verify']);
    expect(r.code).toBe(0);
    expect(envelopeOf(r).result).toMatchObject({ ok: true, checked: 'coordinator', coordinatorKeyId: stack.coordinator.keyId });
  });

  it('exports every entry as JSON lines, mode 0600, with `tributary audit export`', async () => {
    const out = join(stack.dataDir, '..', 'export', 'audit.jsonl');
    const r = await cli(['audit', 'export', '--out', out]);
    expect(r.code).toBe(0);
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { hash: string; method: string; time: string });
    const all = await entries();
    expect(lines.length).toBeGreaterThanOrEqual(all.length);
    expect(lines.slice(0, all.length).map((l) => l.hash)).toEqual(all.map((e) => e.hash));
    expect(envelopeOf(r).result).toMatchObject({ file: out, entries: lines.length });
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  it('verifies across a restart, and names an entry altered while the coordinator was stopped', async () => {
    await stack.stopCoordinator();
    await stack.restartCoordinator();
    await stack.admin.addSite({ name: 'site-b', publicKey: generateSigningKey('site-b').publicKey, federations: [federation] });
    expect(await stack.admin.verifyAuditLog()).toMatchObject({ ok: true });
    await stack.stopCoordinator();
    const offline = ['audit', 'verify', '--json', '--data-dir', stack.dataDir, '--coordinator-key', formatPublicKey(stack.coordinator.publicKey)];
    const intact = await runCli(offline);
    expect(envelopeOf(intact).result).toMatchObject({ ok: true, unsignedEntries: 0, coordinatorKeyId: keyIdOf(stack.coordinator.publicKey) });

    const segment = join(stack.dataDir, 'audit', '00000001.jsonl');
    const lines = (await readFile(segment, 'utf8')).split('\n');
    const target = lines.findIndex((l) => l.includes('"outcome":"denied"'));
    lines[target] = lines[target]!.replace('"outcome":"denied"', '"outcome":"ok"');
    await writeFile(segment, lines.join('\n'));
    const broken = await runCli(offline);
    expect(broken.code).toBe(1);
    expect(envelopeOf(broken).result).toMatchObject({ ok: false, broken: { segment: 1, index: target, kind: 'CHANGED' } });
    await stack.restartCoordinator();
  });
});
