import { describe, expect, it } from 'vitest';
import { CHUNK_INDEX_HEADER, DEFAULT_CHUNK_SIZE, STREAM_METRICS, STREAM_PAYLOADS, STREAM_UPDATES, subjects } from '@tributary/proto';

describe('NATS subjects', () => {
  it('formats every subject', () => {
    expect(subjects.update('churn', '0123456789abcdef', 3, 'site-a')).toBe('trib.churn.update.0123456789abcdef.3.site-a');
    expect(subjects.sitePayload('churn', 'site-a', 'ab'.repeat(16))).toBe(`trib.churn.payload.site-a.${'ab'.repeat(16)}`);
    expect(subjects.metrics('churn', 'r1', 'site-a')).toBe('trib.churn.metrics.r1.site-a');
    expect(subjects.verdict('churn', 'site-a')).toBe('trib.churn.verdict.site-a');
    expect([subjects.updateWildcard, subjects.payloadWildcard, subjects.metricsWildcard]).toEqual([
      'trib.*.update.*.*.*',
      'trib.*.payload.*.*',
      'trib.*.metrics.*.*',
    ]);
    expect([STREAM_UPDATES, STREAM_PAYLOADS, STREAM_METRICS, CHUNK_INDEX_HEADER]).toEqual(['TRIB_UPDATES', 'TRIB_PAYLOADS', 'TRIB_METRICS', 'Trib-Chunk']);
    expect(DEFAULT_CHUNK_SIZE).toBe(960 * 1024);
  });

  it('parses update subjects back into their parts', () => {
    expect(subjects.parseUpdate(subjects.update('churn', 'r1', 12, 'site-a'))).toEqual({
      federation: 'churn',
      runId: 'r1',
      round: 12,
      site: 'site-a',
    });
  });

  it('parses nothing that is not an update subject', () => {
    for (const s of [
      'trib.churn.payload.abc',
      'trib.churn.update.r1.3',
      'trib.churn.update.r1.3.site-a.x',
      'nats.churn.update.r1.3.site-a',
      'trib.churn.update.r1.03.site-a',
      'trib.churn.update.r1.-1.site-a',
      'trib.churn.update.r1.1.5.site-a',
      'trib.churn.update.r1.99999999999.site-a',
      'trib.Churn.update.r1.3.site-a',
      'trib.churn.update.r1.3.*',
      'trib.churn.update..3.site-a',
      '',
    ]) {
      expect(subjects.parseUpdate(s), s).toBeUndefined();
    }
  });

  it('names the subjects a site may publish on, each bound to the site', () => {
    expect(subjects.sitePublishing('churn', 'site-a')).toEqual([
      'trib.churn.update.*.*.site-a',
      'trib.churn.payload.site-a.*',
      'trib.churn.metrics.*.site-a',
    ]);
    expect(subjects.inboxPrefix('site-a')).toBe('_INBOX_site-a');
    expect(subjects.verdictWildcard).toBe('trib.*.verdict.*');
  });

  it('parses site-bound payload subjects back into their parts', () => {
    expect(subjects.parsePayload(subjects.sitePayload('churn', 'site-a', 'u1'))).toEqual({ federation: 'churn', site: 'site-a', updateId: 'u1' });
    for (const s of [
      'trib.churn.payload.u1',
      'trib.churn.payload.site-a.u1.x',
      'trib.churn.update.site-a.u1',
      'trib.Churn.payload.site-a.u1',
      'trib.churn.payload.*.u1',
      'trib.churn.payload.site-a.>',
      'trib.churn.payload.site-a.',
      '',
    ]) {
      expect(subjects.parsePayload(s), s).toBeUndefined();
    }
  });

  it('keeps site-bound payload subjects, and only those, inside the payload stream', () => {
    expect(matchesWildcard(subjects.payloadWildcard, subjects.sitePayload('churn', 'site-a', 'u1'))).toBe(true);
    expect(matchesWildcard(subjects.payloadWildcard, 'trib.churn.payload.u1')).toBe(false);
    expect(matchesWildcard(subjects.payloadWildcard, subjects.update('churn', 'r1', 1, 'site-a'))).toBe(false);
  });

  it('refuses tokens that would change the subject', () => {
    expect(() => subjects.update('churn', 'r.1', 1, 'site-a')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => subjects.update('churn', 'r1', 1, '*')).toThrow(expect.objectContaining({ reason: 'INVALID_NAME' }));
    expect(() => subjects.update('churn', 'r1', 1.5, 'site-a')).toThrow(/invalid round/);
    expect(() => subjects.sitePayload('a.b', 'site-a', 'x')).toThrow(expect.objectContaining({ reason: 'INVALID_NAME' }));
    expect(() => subjects.sitePayload('churn', 'site-a', '>')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => subjects.metrics('churn', 'r1', 'a b')).toThrow(expect.objectContaining({ reason: 'INVALID_NAME' }));
    expect(() => subjects.verdict('churn', '')).toThrow(expect.objectContaining({ reason: 'INVALID_NAME' }));
    expect(() => subjects.sitePayload('churn', 'site.a', 'u1')).toThrow(expect.objectContaining({ reason: 'INVALID_NAME' }));
    expect(() => subjects.sitePayload('churn', 'site-a', 'u.1')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => subjects.sitePublishing('churn', '>')).toThrow(expect.objectContaining({ reason: 'INVALID_NAME' }));
    expect(() => subjects.inboxPrefix('a.b')).toThrow(expect.objectContaining({ reason: 'INVALID_NAME' }));
  });
});

/** NATS subject matching: `*` is one token, a final `>` one or more. */
function matchesWildcard(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const t = subject.split('.');
  for (const [i, w] of p.entries()) {
    if (w === '>') return t.length > i;
    if (t[i] === undefined || (w !== '*' && w !== t[i])) return false;
  }
  return t.length === p.length;
}
