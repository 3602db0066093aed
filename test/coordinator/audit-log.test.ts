import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, serviceDefinition, type ServiceName, type SigningKey } from '@tributary/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, METHOD_EFFECTS, verifyAuditLog, type AuditEvent, type AuditLogOptions } from '../../coordinator/src/audit/index.js';
import { encodeSigned, hashLine } from '../../coordinator/src/audit/records.js';
import { listSegments, segmentPath } from '../../coordinator/src/audit/segments.js';
import { silentLogger } from '../../coordinator/src/observability/logger.js';

function event(n: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    atMs: Date.UTC(2026, 0, 1) + n * 1000,
    keyId: 'a'.repeat(32),
    name: '',
    peer: 'ipv4:127.0.0.1:5000',
    method: '/tributary.v1.AdminService/StartRun',
    federation: n % 2 === 0 ? 'churn' : 'fraud',
    site: '',
    runId: `run-${n}`,
    outcome: 'ok',
    reason: '',
    ...over,
  };
}

describe('the audit log', () => {
  let dir: string;
  let key: SigningKey;
  let log: AuditLog | undefined;

  function options(over: Partial<AuditLogOptions> = {}): AuditLogOptions {
    return {
      dir,
      key,
      logger: silentLogger(),
      segmentBytes: 1 << 20,
      retentionMs: 365 * 86_400_000,
      maxSegments: 1000,
      headEveryEntries: 5,
      headIntervalMs: 3_600_000,
      ...over,
    };
  }

  /** A log of `n` entries, closed (so it ends with a signed head). */
  async function written(n: number, over: Partial<AuditLogOptions> = {}): Promise<void> {
    log = await AuditLog.open(options(over));
    await Promise.all(Array.from({ length: n }, (_, i) => log!.append(event(i))));
    await log.close();
  }

  async function lines(seg = 1): Promise<string[]> {
    return (await readFile(segmentPath(dir, seg), 'utf8')).split('\n').filter((l) => l !== '');
  }

  async function rewrite(seg: number, edit: (lines: string[]) => string[]): Promise<void> {
    await writeFile(segmentPath(dir, seg), edit(await lines(seg)).map((l) => `${l}\n`).join(''));
  }

  /** Index of the nth entry record (not a head) in segment 1. */
  async function entryIndex(nth: number): Promise<number> {
    const all = await lines(1);
    const entries = all.flatMap((l, i) => (JSON.parse(l).kind === 'entry' ? [i] : []));
    return entries[nth]!;
  }

  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'tributary-audit-')), 'audit');
    key = generateSigningKey('coordinator');
  });
  afterEach(async () => {
    await log?.close();
    log = undefined;
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('verifies when untouched, every entry chained and covered by a signed head', async () => {
    await written(12);
    const v = await verifyAuditLog(dir, key.publicKey);
    expect(v).toMatchObject({ ok: true, segments: 1, firstSegment: 1, entries: 12, unsignedEntries: 0 });
    expect(v.signatures).toBeGreaterThanOrEqual(3);
    expect(v.broken).toBeUndefined();
  });

  it('keeps its files private: directory 0700, segments 0600', async () => {
    await written(1);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(segmentPath(dir, 1))).mode & 0o777).toBe(0o600);
  });

  it('stores entries in the order they were appended, with every field', async () => {
    await written(3);
    log = await AuditLog.open(options());
    const stored = [];
    for await (const e of log.entries()) stored.push(e);
    expect(stored.map((e) => e.runId)).toEqual(['run-0', 'run-1', 'run-2']);
    expect(stored[1]).toMatchObject({ ...event(1), segment: 1, index: 1 });
    expect(stored[1]!.hash).toBe(hashLine((await lines(1))[1]!));
  });

  it('filters entries by principal, federation and time', async () => {
    log = await AuditLog.open(options());
    await log.append(event(0, { keyId: 'b'.repeat(32), name: 'site-a' }));
    await log.append(event(1));
    await log.append(event(2, { federation: 'churn,fraud' }));
    const runs = async (filter: Parameters<AuditLog['entries']>[0]) => {
      const out = [];
      for await (const e of log!.entries(filter)) out.push(e.runId);
      return out;
    };
    expect(await runs({ principal: 'site-a' })).toEqual(['run-0']);
    expect(await runs({ principal: 'b'.repeat(32) })).toEqual(['run-0']);
    expect(await runs({ federation: 'fraud' })).toEqual(['run-1', 'run-2']);
    expect(await runs({ sinceMs: event(1).atMs })).toEqual(['run-1', 'run-2']);
  });

  it('names an altered entry: its segment, its index and that it was changed', async () => {
    await written(12);
    const target = await entryIndex(4);
    await rewrite(1, (ls) => ls.map((l, i) => (i === target ? l.replace('"outcome":"ok"', '"outcome":"denied"') : l)));
    const v = await verifyAuditLog(dir, key.publicKey);
    expect(v.ok).toBe(false);
    expect(v.broken).toMatchObject({ segment: 1, index: target, kind: 'CHANGED' });
  });

  it('names the place of a deleted entry', async () => {
    await written(12);
    const target = await entryIndex(2);
    await rewrite(1, (ls) => ls.filter((_, i) => i !== target));
    const v = await verifyAuditLog(dir, key.publicKey);
    expect(v.broken).toMatchObject({ segment: 1, index: target, kind: 'OUT_OF_PLACE' });
  });

  it('names the first of two entries swapped', async () => {
    await written(12);
    const target = await entryIndex(6);
    await rewrite(1, (ls) => {
      const copy = [...ls];
      [copy[target], copy[target + 1]] = [copy[target + 1]!, copy[target]!];
      return copy;
    });
    const v = await verifyAuditLog(dir, key.publicKey);
    expect(v.broken).toMatchObject({ segment: 1, index: target, kind: 'OUT_OF_PLACE' });
  });

  it('names a head whose signature was forged', async () => {
    await written(12);
    const all = await lines(1);
    const head = all.findIndex((l) => JSON.parse(l).kind === 'head');
    const forged = all[head]!.replace(/"sig":"[^"]+"/, `"sig":"${Buffer.alloc(64, 7).toString('base64')}"`);
    await rewrite(1, (ls) => ls.map((l, i) => (i === head ? forged : l)));
    const v = await verifyAuditLog(dir, key.publicKey);
    expect(v.broken).toMatchObject({ segment: 1, index: head, kind: 'SIGNATURE_INVALID' });
  });

  it('names a head re-signed with another key after the entries before it were rewritten', async () => {
    await written(4);
    const all = await lines(1);
    const head = all.findIndex((l) => JSON.parse(l).kind === 'head');
    const prev = hashLine(all[head - 1]!);
    const resigned = encodeSigned({ seg: 1, i: head, prev }, 'head', Date.now(), generateSigningKey('intruder')).line;
    await rewrite(1, (ls) => ls.map((l, i) => (i === head ? resigned : l)));
    const v = await verifyAuditLog(dir, key.publicKey);
    expect(v.broken).toMatchObject({ segment: 1, index: head, kind: 'SIGNATURE_INVALID' });
    expect(v.broken?.message).toMatch(/not the coordinator's key/);
  });

  it('names a line that is not a record', async () => {
    await written(6);
    await rewrite(1, (ls) => ls.map((l, i) => (i === 2 ? '{"v":1,"oops"' : l)));
    expect((await verifyAuditLog(dir, key.publicKey)).broken).toMatchObject({ segment: 1, index: 2, kind: 'UNREADABLE' });
  });

  it('seals full segments, chains the next one to the seal, and verifies across them', async () => {
    await written(60, { segmentBytes: 2_000 });
    const segments = await listSegments(dir);
    expect(segments.length).toBeGreaterThan(2);
    for (const seg of segments.slice(0, -1)) expect(JSON.parse((await lines(seg)).at(-1)!).kind).toBe('seal');
    const next = JSON.parse((await lines(2))[0]!);
    expect(next.prev).toBe(hashLine((await lines(1)).at(-1)!));
    expect(await verifyAuditLog(dir, key.publicKey)).toMatchObject({ ok: true, entries: 60, segments: segments.length });
  });

  it('continues the chain after a restart, and the whole log verifies', async () => {
    await written(7, { segmentBytes: 2_000 });
    log = await AuditLog.open(options({ segmentBytes: 2_000 }));
    for (let i = 7; i < 30; i += 1) await log.append(event(i));
    await log.close();
    expect(await verifyAuditLog(dir, key.publicKey)).toMatchObject({ ok: true, entries: 30, unsignedEntries: 0 });
  });

  it('names a missing segment between kept ones', async () => {
    await written(60, { segmentBytes: 2_000 });
    await rm(segmentPath(dir, 2));
    expect((await verifyAuditLog(dir, key.publicKey)).broken).toMatchObject({ segment: 2, index: 0, kind: 'SEGMENT_MISSING' });
  });

  it('names a segment whose seal was cut off', async () => {
    await written(60, { segmentBytes: 2_000 });
    const count = (await lines(1)).length;
    await rewrite(1, (ls) => ls.slice(0, -1));
    expect((await verifyAuditLog(dir, key.publicKey)).broken).toMatchObject({ segment: 1, index: count - 1, kind: 'SEGMENT_UNSEALED' });
  });

  it('removes the oldest sealed segments past maxSegments, and what is kept still verifies', async () => {
    await written(120, { segmentBytes: 2_000, maxSegments: 3 });
    const segments = await listSegments(dir);
    expect(segments.length).toBe(3);
    expect(segments[0]).toBeGreaterThan(1);
    expect(await verifyAuditLog(dir, key.publicKey)).toMatchObject({ ok: true, firstSegment: segments[0] });
  });

  it('removes sealed segments older than the retention, and what is kept still verifies', async () => {
    await written(120, { segmentBytes: 2_000, retentionMs: 1 });
    const segments = await listSegments(dir);
    expect(segments.length).toBeLessThan(5);
    expect(segments[0]).toBeGreaterThan(1);
    expect(await verifyAuditLog(dir, key.publicKey)).toMatchObject({ ok: true, firstSegment: segments[0] });
  });

  it('cuts off a record half-written by a crash and carries on from the one before it', async () => {
    await written(5);
    await appendFile(segmentPath(dir, 1), '{"v":1,"seg":1,"i":');
    log = await AuditLog.open(options());
    await log.append(event(5));
    await log.close();
    expect(await verifyAuditLog(dir, key.publicKey)).toMatchObject({ ok: true, entries: 6 });
  });

  it('counts entries after the last signed head as unsigned until a head covers them', async () => {
    log = await AuditLog.open(options({ headEveryEntries: 100 }));
    for (let i = 0; i < 3; i += 1) await log.append(event(i));
    expect(await log.verify()).toMatchObject({ ok: true, entries: 3, unsignedEntries: 3, signatures: 0 });
    await log.close();
    expect(await verifyAuditLog(dir, key.publicKey)).toMatchObject({ ok: true, unsignedEntries: 0, signatures: 1 });
  });

  it('refuses appends once closed with AUDIT_UNAVAILABLE', async () => {
    await written(1);
    await expect(log!.append(event(1))).rejects.toMatchObject({ reason: 'AUDIT_UNAVAILABLE' });
  });

  it('stores every one of many appends made at once, in the order they were made', async () => {
    await written(500);
    log = await AuditLog.open(options());
    const runs = [];
    for await (const e of log.entries()) runs.push(e.runId);
    expect(runs).toEqual(Array.from({ length: 500 }, (_, i) => `run-${i}`));
  });
});

describe('audited methods', () => {
  it('classify every method of both services as a change or a read', () => {
    for (const service of ['SiteService', 'AdminService'] as ServiceName[]) {
      expect(Object.keys(METHOD_EFFECTS[service]).sort()).toEqual(Object.keys(serviceDefinition(service)).sort());
    }
  });
});
