import { describe, expect, it } from 'vitest';
import { parseExperimentFilter, parseTrackingRunFilter, parseTrackingRunOrderBy, searchTrackingRunList } from '../../coordinator/src/tracking/search.js';
import type { TrackingRun } from '@tributary/coordinator';

function run(id: string, over: { params?: Record<string, string>; tags?: Record<string, string>; loss?: number; start?: number } = {}): TrackingRun {
  return {
    info: { runId: id, experimentId: '1', runName: id, status: 'FINISHED', startTime: over.start ?? 0, lifecycleStage: 'active' },
    data: {
      metrics: over.loss === undefined ? {} : { loss: { key: 'loss', value: over.loss, timestamp: 0, step: 0 } },
      params: over.params ?? {},
      tags: over.tags ?? {},
    },
  };
}

const ids = (filter: string, runs: TrackingRun[]) => searchTrackingRunList(runs, { filter, maxResults: 100 }).runs.map((r) => r.info.runId);

describe('search filter syntax', () => {
  it('parses each entity type and its aliases', () => {
    expect(parseTrackingRunFilter("metric.a > 1 and param.b = 'x' and tag.c != 'y' and attr.status = 'FINISHED' and run_name = 'r'")).toEqual([
      { entity: 'metric', key: 'a', comparator: '>', value: 1 },
      { entity: 'param', key: 'b', comparator: '=', value: 'x' },
      { entity: 'tag', key: 'c', comparator: '!=', value: 'y' },
      { entity: 'attribute', key: 'status', comparator: '=', value: 'FINISHED' },
      { entity: 'attribute', key: 'run_name', comparator: '=', value: 'r' },
    ]);
  });

  it('reads quoted keys, escaped quotes, numbers in exponent form and lists', () => {
    expect(parseTrackingRunFilter("metrics.`site/a loss` <= -1.5e-3 AND tags.\"a-b\" = 'it''s' and attributes.run_id IN ('x', \"y\")")).toEqual([
      { entity: 'metric', key: 'site/a loss', comparator: '<=', value: -1.5e-3 },
      { entity: 'tag', key: 'a-b', comparator: '=', value: "it's" },
      { entity: 'attribute', key: 'run_id', comparator: 'IN', value: ['x', 'y'] },
    ]);
  });

  it('says what is wrong and where', () => {
    expect(() => parseTrackingRunFilter("params.x = 'a' or params.y = 'b'")).toThrow(/OR is not supported/);
    expect(() => parseTrackingRunFilter('metrics.x LIKE 1')).toThrow(/invalid comparator 'LIKE' for metric 'x'/);
    expect(() => parseTrackingRunFilter("attributes.colour = 'red'")).toThrow(/invalid attribute key 'colour'/);
    expect(() => parseTrackingRunFilter("datasets.name = 'x'")).toThrow(/invalid entity type 'datasets'/);
    expect(() => parseTrackingRunFilter("params.x = 'open")).toThrow(/unterminated ' quote/);
    expect(() => parseTrackingRunFilter('params.x = 1')).toThrow(/expected a quoted string value for parameter 'x'/);
    expect(() => parseExperimentFilter('metrics.x > 1')).toThrow(/valid types for experiments are tag, attribute/);
  });

  it('treats LIKE as SQL does: % and _ are wildcards, everything else literal', () => {
    const runs = [run('a', { params: { m: 'v1.2' } }), run('b', { params: { m: 'v1x2' } }), run('c', { params: { m: 'V1.2' } })];
    expect(ids("params.m LIKE 'v1.2'", runs)).toEqual(['a']);
    expect(ids("params.m LIKE 'v1_2'", runs)).toEqual(['a', 'b']);
    expect(ids("params.m ILIKE 'v1.%'", runs)).toEqual(['a', 'c']);
  });

  it('compares params as strings, never as numbers', () => {
    const runs = [run('a', { params: { lr: '0.10' } }), run('b', { params: { lr: '0.1' } })];
    expect(ids("params.lr = '0.1'", runs)).toEqual(['b']);
  });

  it('never matches NaN metrics except with !=', () => {
    const runs = [run('a', { loss: NaN })];
    expect(ids('metrics.loss > 0', runs)).toEqual([]);
    expect(ids('metrics.loss = 0', runs)).toEqual([]);
    expect(ids('metrics.loss != 0', runs)).toEqual(['a']);
  });

  it('does not mistake inherited object properties for params', () => {
    expect(ids("params.constructor LIKE '%'", [run('a')])).toEqual([]);
  });
});

describe('search order', () => {
  it('parses directions and defaults to ascending', () => {
    expect(parseTrackingRunOrderBy(['metrics.loss', 'params.lr DESC', 'start_time asc'])).toEqual([
      { entity: 'metric', key: 'loss', ascending: true },
      { entity: 'param', key: 'lr', ascending: false },
      { entity: 'attribute', key: 'start_time', ascending: true },
    ]);
    expect(() => parseTrackingRunOrderBy(['metrics.loss UP'])).toThrow(/expected ASC or DESC/);
  });

  it('puts NaN and missing values last in both directions', () => {
    const runs = [run('nan', { loss: NaN }), run('none'), run('one', { loss: 1 }), run('two', { loss: 2 })];
    const order = (o: string) => searchTrackingRunList(runs, { orderBy: [o], maxResults: 10 }).runs.map((r) => r.info.runId);
    expect(order('metrics.loss ASC').slice(0, 2)).toEqual(['one', 'two']);
    expect(order('metrics.loss DESC').slice(0, 2)).toEqual(['two', 'one']);
  });

  it('refuses a page token it did not make', () => {
    expect(() => searchTrackingRunList([], { maxResults: 1, pageToken: 'not a token' })).toThrow(/Invalid page token/);
  });
});
