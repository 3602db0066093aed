import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTributaryError } from '@tributary/proto';
import { LevelStateStore, MemoryStateStore, type StateStore } from '../../coordinator/src/state/index.js';
import { normaliseSettings } from '../../coordinator/src/rounds/settings.js';
import type {
  FederationRecord,
  GrantRecord,
  InvitationRecord,
  PrincipalRecord,
  ModelVersionRecord,
  RoundRecord,
  RunRecord,
  SiteRecord,
  StateWrite,
  UpdateRecord,
} from '../../coordinator/src/state/index.js';

/** A store for one test, how to open it again over the same data, and how to clean up. */
interface StoreUnderTest {
  store: StateStore;
  reopen(): Promise<StateStore>;
  dispose(): Promise<void>;
}

/** Every StateStore, each held to the same contract. */
const STORES: Array<{ name: string; create: () => Promise<StoreUnderTest> }> = [
  {
    name: 'LevelStateStore',
    create: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tributary-state-'));
      return {
        store: new LevelStateStore(join(dir, 'state')),
        reopen: async () => new LevelStateStore(join(dir, 'state')),
        dispose: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'MemoryStateStore',
    create: async () => {
      const store = new MemoryStateStore();
      return { store, reopen: async () => store, dispose: async () => undefined };
    },
  },
];

const settings = normaliseSettings({});

function site(name: string, keyId: string, over: Partial<SiteRecord> = {}): SiteRecord {
  return {
    name,
    keyId,
    publicKey: Buffer.alloc(32, name.length).toString('base64'),
    status: 'APPROVED',
    federations: ['churn'],
    createdAtMs: 1_700_000_000_000,
    revokedAtMs: 0,
    ...over,
  };
}

function federation(name: string): FederationRecord {
  return {
    name,
    description: `the ${name} federation`,
    settings,
    modelSpec: [{ name: 'w', dtype: 'F32', shape: [2, 3] }],
    createdAtMs: 1_700_000_000_000,
    latestVersion: 1,
  };
}

function run(id: string, fed: string, startedAtMs: number): RunRecord {
  return {
    id,
    federation: fed,
    status: 'RUN_STATUS_RUNNING',
    rounds: 3,
    currentRound: 0,
    startedAtMs,
    endedAtMs: 0,
    failureReason: '',
    startVersion: 1,
    latestVersion: 1,
    settings,
    requestId: '',
  };
}

function round(runId: string, number: number): RoundRecord {
  return {
    federation: 'churn',
    runId,
    number,
    state: 'ROUND_STATE_OPEN',
    selectedSites: ['alpha', 'beta'],
    accepted: [
      {
        site: 'alpha',
        updateId: 'a'.repeat(32),
        flavor: 'tensors',
        datasets: [{ name: 'claims', digest: 'e'.repeat(64), schema: '', rows: 120, source: '', context: 'training' }],
        context: { 'code.version': '4f2a9c1' },
        numExamples: 120,
        payloadSha256: 'b'.repeat(64),
        payloadSize: 4096,
        metrics: { loss: 0.25 },
        acceptedAtMs: 1_700_000_000_500,
      },
    ],
    refused: [
      { site: 'beta', updateId: 'c'.repeat(32), reason: 'DIGEST_MISMATCH', message: 'digest differs', atMs: 1, count: 1 },
    ],
    openedAtMs: 1_700_000_000_000,
    deadlineAtMs: 1_700_000_300_000,
    closedAtMs: 0,
    failureReason: '',
    baseVersion: number,
    committedVersion: 0,
    metrics: {},
    bytesReceived: 4096,
    config: { mu: '0.01' },
    evaluation: 'EVALUATION_STATE_NONE',
    siteFailures: [{ site: 'site-b', reason: 'SITE_ERROR', message: 'out of memory', atMs: 1_700_000_100_000 }],
    extendedUntilMs: 0,
  };
}

function modelVersion(fed: string, version: number): ModelVersionRecord {
  return {
    federation: fed,
    version,
    sha256: 'd'.repeat(64),
    size: 1024,
    strategyStateSha256: '',
    parentVersion: version - 1,
    runId: version === 1 ? '' : '0123456789abcdef',
    round: version - 1,
    contributions: [],
    createdAtMs: 1_700_000_000_000 + version,
    strategy: 'fedavg',
    metrics: { num_sites: 2 },
  };
}

const update: UpdateRecord = {
  updateId: 'e'.repeat(32),
  federation: 'churn',
  runId: '0123456789abcdef',
  round: 1,
  site: 'alpha',
  state: 'REFUSED',
  reason: 'NORM_EXCEEDED',
  message: 'norm 12.5 exceeds the bound 10',
  atMs: 1_700_000_000_700,
};

const invitation: InvitationRecord = {
  tokenSha256: 'f'.repeat(64),
  federations: ['churn'],
  siteName: 'gamma',
  expiresAtMs: 1_700_086_400_000,
  createdAtMs: 1_700_000_000_000,
  usedAtMs: 0,
};

function principal(name: string, keyId: string, over: Partial<PrincipalRecord> = {}): PrincipalRecord {
  return {
    name,
    keyId,
    publicKey: Buffer.alloc(32, name.length).toString('base64'),
    groups: ['ml-team'],
    status: 'ACTIVE',
    description: `${name}'s laptop`,
    createdAtMs: 1_700_000_000_000,
    disabledAtMs: 0,
    rotatedAtMs: 0,
    addedBy: 'owner',
    ...over,
  };
}

function grant(privilege: GrantRecord['privilege'], fed: string, granteeKind: GrantRecord['granteeKind'], granteeName: string): GrantRecord {
  return { privilege, federation: fed, granteeKind, granteeName, grantedBy: 'owner', grantedAtMs: 1_700_000_000_000 };
}

describe.each(STORES)('$name', ({ create }) => {
  let subject: StoreUnderTest;
  let store: StateStore;

  beforeEach(async () => {
    subject = await create();
    store = subject.store;
    await store.open();
  });

  afterEach(async () => {
    await store.close();
    await subject.dispose();
  });

  it('round-trips every record kind', async () => {
    const ops: StateWrite[] = [
      { kind: 'site', value: site('alpha', '1'.repeat(32)) },
      { kind: 'federation', value: federation('churn') },
      { kind: 'run', value: run('0123456789abcdef', 'churn', 1_700_000_000_000) },
      { kind: 'round', value: round('0123456789abcdef', 1) },
      { kind: 'update', value: update },
      { kind: 'modelVersion', value: modelVersion('churn', 1) },
      { kind: 'invitation', value: invitation },
      { kind: 'principal', value: principal('alice', '4'.repeat(32)) },
      { kind: 'grant', value: grant('operate', 'churn', 'principal', 'alice') },
    ];
    await store.write(ops);
    expect(await store.getPrincipal('alice')).toEqual(principal('alice', '4'.repeat(32)));
    expect(await store.listGrants()).toEqual([grant('operate', 'churn', 'principal', 'alice')]);

    expect(await store.getSite('alpha')).toEqual(site('alpha', '1'.repeat(32)));
    expect(await store.getFederation('churn')).toEqual(federation('churn'));
    expect(await store.getRun('0123456789abcdef')).toEqual(run('0123456789abcdef', 'churn', 1_700_000_000_000));
    expect(await store.getRound('0123456789abcdef', 1)).toEqual(round('0123456789abcdef', 1));
    expect(await store.getUpdate(update.updateId)).toEqual(update);
    expect(await store.getModelVersion('churn', 1)).toEqual(modelVersion('churn', 1));
    expect(await store.getInvitation(invitation.tokenSha256)).toEqual(invitation);
    expect(await store.listInvitations()).toEqual([invitation]);
  });

  it('answers undefined for records that do not exist', async () => {
    expect(await store.getSite('nobody')).toBeUndefined();
    expect(await store.getSiteByKeyId('9'.repeat(32))).toBeUndefined();
    expect(await store.getFederation('none')).toBeUndefined();
    expect(await store.getRun('ffffffffffffffff')).toBeUndefined();
    expect(await store.getRound('ffffffffffffffff', 1)).toBeUndefined();
    expect(await store.getUpdate('0'.repeat(32))).toBeUndefined();
    expect(await store.getModelVersion('none', 1)).toBeUndefined();
    expect(await store.getInvitation('0'.repeat(64))).toBeUndefined();
    expect(await store.listInvitations()).toEqual([]);
    expect(await store.listRuns()).toEqual([]);
    expect(await store.listRounds('ffffffffffffffff')).toEqual([]);
    expect(await store.getPrincipal('nobody')).toBeUndefined();
    expect(await store.getPrincipalByKeyId('9'.repeat(32))).toBeUndefined();
    expect(await store.listPrincipals()).toEqual([]);
    expect(await store.listGrants()).toEqual([]);
  });

  it('finds a principal by its key id, and forgets the old key id when the key is rotated', async () => {
    await store.write([{ kind: 'principal', value: principal('alice', '4'.repeat(32)) }]);
    expect((await store.getPrincipalByKeyId('4'.repeat(32)))?.name).toBe('alice');

    await store.write([{ kind: 'principal', value: principal('alice', '5'.repeat(32), { rotatedAtMs: 1_700_000_000_001 }) }]);
    expect(await store.getPrincipalByKeyId('4'.repeat(32))).toBeUndefined();
    expect((await store.getPrincipalByKeyId('5'.repeat(32)))?.rotatedAtMs).toBe(1_700_000_000_001);
  });

  it('lists principals by name', async () => {
    await store.write([
      { kind: 'principal', value: principal('carol', '6'.repeat(32)) },
      { kind: 'principal', value: principal('alice', '4'.repeat(32)) },
    ]);
    expect((await store.listPrincipals()).map((p) => p.name)).toEqual(['alice', 'carol']);
  });

  it('refuses a key id that a site holds to a principal, and one a principal holds to a site', async () => {
    await store.write([{ kind: 'site', value: site('alpha', '1'.repeat(32)) }, { kind: 'principal', value: principal('alice', '4'.repeat(32)) }]);
    await expect(store.write([{ kind: 'principal', value: principal('bob', '1'.repeat(32)) }])).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(store.write([{ kind: 'site', value: site('beta', '4'.repeat(32)) }])).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(store.write([{ kind: 'principal', value: principal('bob', '4'.repeat(32)) }])).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(await store.getPrincipal('bob')).toBeUndefined();
    expect(await store.getSite('beta')).toBeUndefined();
  });

  it('keeps one grant per privilege, federation and grantee, and removes it', async () => {
    await store.write([
      { kind: 'grant', value: grant('read', 'churn', 'group', 'ml-team') },
      { kind: 'grant', value: grant('read', 'churn', 'group', 'ml-team') },
      { kind: 'grant', value: grant('admin', '*', 'principal', 'alice') },
      { kind: 'grant', value: grant('operate', 'churn', 'group', 'ml-team') },
    ]);
    expect((await store.listGrants()).map((g) => `${g.privilege} ${g.federation} ${g.granteeName}`)).toEqual([
      'admin * alice',
      'operate churn ml-team',
      'read churn ml-team',
    ]);
    await store.write([{ kind: 'grantRemoved', value: grant('read', 'churn', 'group', 'ml-team') }]);
    expect((await store.listGrants()).map((g) => g.privilege)).toEqual(['admin', 'operate']);
  });

  it('lists sites and federations', async () => {
    await store.write([
      { kind: 'site', value: site('beta', '2'.repeat(32)) },
      { kind: 'site', value: site('alpha', '1'.repeat(32)) },
      { kind: 'federation', value: federation('churn') },
      { kind: 'federation', value: federation('fraud') },
    ]);
    expect((await store.listSites()).map((s) => s.name)).toEqual(['alpha', 'beta']);
    expect((await store.listFederations()).map((f) => f.name)).toEqual(['churn', 'fraud']);
  });

  it('moves a deleted federation out of the live ones, keeping it and its model versions readable', async () => {
    await store.write([
      { kind: 'federation', value: federation('churn') },
      { kind: 'federation', value: federation('fraud') },
    ]);
    await store.write([{ kind: 'federationDeleted', value: { ...federation('churn'), deletedAtMs: 1_700_000_001_000, deletedBy: 'owner', formerSites: ['alpha'] } }]);
    expect(await store.getFederation('churn')).toBeUndefined();
    expect((await store.listFederations()).map((f) => f.name)).toEqual(['fraud']);
    expect(await store.getDeletedFederation('churn')).toMatchObject({ name: 'churn', deletedBy: 'owner', formerSites: ['alpha'] });
    expect((await store.listDeletedFederations()).map((f) => f.name)).toEqual(['churn']);
    expect(await store.getDeletedFederation('fraud')).toBeUndefined();
  });

  it('finds a site by its key id, and forgets the old key id when the key changes', async () => {
    await store.write([{ kind: 'site', value: site('alpha', '1'.repeat(32)) }]);
    expect((await store.getSiteByKeyId('1'.repeat(32)))?.name).toBe('alpha');

    await store.write([{ kind: 'site', value: site('alpha', '3'.repeat(32)) }]);
    expect(await store.getSiteByKeyId('1'.repeat(32))).toBeUndefined();
    expect((await store.getSiteByKeyId('3'.repeat(32)))?.name).toBe('alpha');
  });

  it('answers a site as last written, also when it was read before the write', async () => {
    await store.write([{ kind: 'site', value: site('alpha', '1'.repeat(32)) }]);
    expect((await store.getSite('alpha'))?.status).not.toBe('REVOKED');
    await store.write([{ kind: 'site', value: site('alpha', '1'.repeat(32), { status: 'REVOKED' }) }]);
    expect((await store.getSite('alpha'))?.status).toBe('REVOKED');
    expect((await store.getSiteByKeyId('1'.repeat(32)))?.status).toBe('REVOKED');
  });

  it('hands out a copy of a site: changing what was read changes nothing stored', async () => {
    await store.write([{ kind: 'site', value: site('alpha', '1'.repeat(32)) }]);
    const read = await store.getSite('alpha');
    if (read === undefined) throw new Error('expected the site');
    read.federations.push('changed');
    expect((await store.getSite('alpha'))?.federations).not.toContain('changed');
    expect((await store.getSiteByKeyId('1'.repeat(32)))?.federations).not.toContain('changed');
  });

  it('refuses to give one key id to two sites', async () => {
    await store.write([{ kind: 'site', value: site('alpha', '1'.repeat(32)) }]);
    const err = await store.write([{ kind: 'site', value: site('beta', '1'.repeat(32)) }]).catch((e: unknown) => e);
    expect(isTributaryError(err) && err.code).toBe('ALREADY_EXISTS');
    expect(await store.getSite('beta')).toBeUndefined();
    expect((await store.getSiteByKeyId('1'.repeat(32)))?.name).toBe('alpha');
  });

  it('lists runs newest first, per federation or all together', async () => {
    await store.write([
      { kind: 'run', value: run('000000000000000a', 'churn', 1_000) },
      { kind: 'run', value: run('000000000000000b', 'fraud', 2_000) },
      { kind: 'run', value: run('000000000000000c', 'churn', 3_000) },
      { kind: 'run', value: run('000000000000000d', 'churn', 2_500) },
      { kind: 'run', value: run('000000000000000e', 'churn-eu', 4_000) },
    ]);
    expect((await store.listRuns('churn')).map((r) => r.id)).toEqual([
      '000000000000000c',
      '000000000000000d',
      '000000000000000a',
    ]);
    expect((await store.listRuns('fraud')).map((r) => r.id)).toEqual(['000000000000000b']);
    expect((await store.listRuns()).map((r) => r.id)).toEqual([
      '000000000000000e',
      '000000000000000c',
      '000000000000000d',
      '000000000000000b',
      '000000000000000a',
    ]);
  });

  it('keeps one listing entry per run when a run is rewritten', async () => {
    await store.write([{ kind: 'run', value: run('000000000000000a', 'churn', 1_000) }]);
    const finished: RunRecord = { ...run('000000000000000a', 'churn', 1_000), status: 'RUN_STATUS_FINISHED', endedAtMs: 9_000 };
    await store.write([{ kind: 'run', value: finished }]);
    expect(await store.listRuns('churn')).toEqual([finished]);
    expect(await store.listRuns()).toEqual([finished]);
  });

  it('lists rounds in ascending order, 10 after 9', async () => {
    const runId = '0123456789abcdef';
    const numbers = [12, 3, 10, 1, 9, 2, 11];
    await store.write(numbers.map((n) => ({ kind: 'round', value: round(runId, n) }) as StateWrite));
    await store.write([{ kind: 'round', value: round('0123456789abcdee', 5) }]);
    expect((await store.listRounds(runId)).map((r) => r.number)).toEqual([1, 2, 3, 9, 10, 11, 12]);
  });

  it('lists model versions of a federation in ascending order', async () => {
    await store.write(
      [11, 2, 1, 10].map((v) => ({ kind: 'modelVersion', value: modelVersion('churn', v) }) as StateWrite),
    );
    await store.write([{ kind: 'modelVersion', value: modelVersion('churn-eu', 3) }]);
    expect((await store.listModelVersions('churn')).map((m) => m.version)).toEqual([1, 2, 10, 11]);
    expect((await store.listModelVersions('churn-eu')).map((m) => m.version)).toEqual([3]);
  });

  it('writes nothing of a batch that holds an invalid record', async () => {
    const badRound = { ...round('0123456789abcdef', 2), metrics: { loss: Number.NaN } };
    const err = await store
      .write([
        { kind: 'site', value: site('alpha', '1'.repeat(32)) },
        { kind: 'federation', value: federation('churn') },
        { kind: 'round', value: badRound },
      ])
      .catch((e: unknown) => e);
    expect(isTributaryError(err) && err.code).toBe('INVALID_ARGUMENT');
    expect(await store.getSite('alpha')).toBeUndefined();
    expect(await store.getSiteByKeyId('1'.repeat(32))).toBeUndefined();
    expect(await store.getFederation('churn')).toBeUndefined();
    expect(await store.listRounds('0123456789abcdef')).toEqual([]);
  });

  it('writes nothing of a batch that holds an unknown record kind', async () => {
    const ops = [
      { kind: 'run', value: run('000000000000000a', 'churn', 1_000) },
      { kind: 'bogus', value: {} },
    ] as unknown as StateWrite[];
    await expect(store.write(ops)).rejects.toThrow(/unknown state record kind "bogus"/);
    expect(await store.getRun('000000000000000a')).toBeUndefined();
    expect(await store.listRuns()).toEqual([]);
  });

  it('keeps working after a refused batch', async () => {
    await store.write([{ kind: 'round', value: round('', 1) }]).catch(() => undefined);
    await store.write([{ kind: 'update', value: update }]);
    expect(await store.getUpdate(update.updateId)).toEqual(update);
  });

  it('keeps its data across close and reopen', async () => {
    await store.write([
      { kind: 'site', value: site('alpha', '1'.repeat(32)) },
      { kind: 'run', value: run('000000000000000a', 'churn', 1_000) },
      { kind: 'round', value: round('000000000000000a', 1) },
      { kind: 'principal', value: principal('alice', '4'.repeat(32)) },
      { kind: 'grant', value: grant('read', '*', 'principal', 'alice') },
    ]);
    await store.close();
    store = await subject.reopen();
    await store.open();
    expect((await store.getSiteByKeyId('1'.repeat(32)))?.name).toBe('alpha');
    expect((await store.getPrincipalByKeyId('4'.repeat(32)))?.name).toBe('alice');
    expect(await store.listGrants()).toEqual([grant('read', '*', 'principal', 'alice')]);
    expect((await store.listRuns('churn')).map((r) => r.id)).toEqual(['000000000000000a']);
    expect(await store.getRound('000000000000000a', 1)).toEqual(round('000000000000000a', 1));
  });

  it('hands out copies: changing a record read or written changes nothing stored', async () => {
    const written = site('alpha', '1'.repeat(32));
    await store.write([{ kind: 'site', value: written }]);
    written.federations.push('fraud');
    const read = await store.getSite('alpha');
    read?.federations.push('spam');
    expect((await store.getSite('alpha'))?.federations).toEqual(['churn']);
  });

  it('drops fields that are undefined, as JSON does', async () => {
    await store.write([{ kind: 'update', value: { ...update, summary: undefined } }]);
    expect(Object.keys((await store.getUpdate(update.updateId)) ?? {})).not.toContain('summary');
  });

  it('moves a run in the listings when its start time or federation changes', async () => {
    await store.write([
      { kind: 'run', value: run('000000000000000a', 'churn', 1_000) },
      { kind: 'run', value: run('000000000000000b', 'churn', 2_000) },
    ]);
    await store.write([{ kind: 'run', value: run('000000000000000a', 'fraud', 3_000) }]);
    expect((await store.listRuns('churn')).map((r) => r.id)).toEqual(['000000000000000b']);
    expect((await store.listRuns('fraud')).map((r) => r.id)).toEqual(['000000000000000a']);
    expect((await store.listRuns()).map((r) => r.id)).toEqual(['000000000000000a', '000000000000000b']);
  });

  it('lets two sites swap key ids within one write', async () => {
    await store.write([
      { kind: 'site', value: site('alpha', '1'.repeat(32)) },
      { kind: 'site', value: site('beta', '2'.repeat(32)) },
    ]);
    await store.write([
      { kind: 'site', value: site('alpha', '3'.repeat(32)) },
      { kind: 'site', value: site('beta', '1'.repeat(32)) },
      { kind: 'site', value: site('alpha', '2'.repeat(32)) },
    ]);
    expect((await store.getSiteByKeyId('1'.repeat(32)))?.name).toBe('beta');
    expect((await store.getSiteByKeyId('2'.repeat(32)))?.name).toBe('alpha');
    expect(await store.getSiteByKeyId('3'.repeat(32))).toBeUndefined();
  });

  it('applies concurrent writes one after another, keeping the key index right', async () => {
    await Promise.all([
      store.write([{ kind: 'site', value: site('alpha', '1'.repeat(32)) }]),
      store.write([{ kind: 'site', value: site('alpha', '2'.repeat(32)) }]),
      store.write([{ kind: 'site', value: site('alpha', '3'.repeat(32)) }]),
    ]);
    expect(await store.getSiteByKeyId('1'.repeat(32))).toBeUndefined();
    expect(await store.getSiteByKeyId('2'.repeat(32))).toBeUndefined();
    expect((await store.getSiteByKeyId('3'.repeat(32)))?.name).toBe('alpha');
  });

  it('refuses a round with a negative number, and a record with an empty key', async () => {
    await expect(store.write([{ kind: 'round', value: round('0123456789abcdef', -1) }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.write([{ kind: 'federation', value: federation('') }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await store.listFederations()).toEqual([]);
  });

  it('refuses reads and writes once closed', async () => {
    await store.write([{ kind: 'site', value: site('alpha', '1'.repeat(32)) }]);
    await store.close();
    await expect(store.getSite('alpha')).rejects.toThrow();
    await expect(store.write([{ kind: 'update', value: update }])).rejects.toThrow();
    store = await subject.reopen();
    await store.open();
  });
});
