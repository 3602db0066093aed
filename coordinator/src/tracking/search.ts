/**
 * MLflow's search syntax, parsed once and evaluated in process by the embedded stores: a filter
 * is comparisons joined by AND (`metrics.accuracy > 0.9 and params.strategy = 'fedavg'`), an
 * order is a list of `identifier [ASC|DESC]`. Identifiers are `metrics.<key>`, `params.<key>`,
 * `tags.<key>` or `attributes.<name>` (a bare name is an attribute); keys with characters other
 * than letters, digits, `_` and `.` are quoted: metrics."site/a/loss" or metrics.`site/a/loss`.
 */
import { Reason, TributaryError } from '@tributary/proto';
import type { Experiment, ExperimentsPage, TrackingRun, TrackingRunsPage } from './store.js';

export type SearchEntity = 'metric' | 'param' | 'tag' | 'attribute';
export type Comparator = '=' | '!=' | '>' | '>=' | '<' | '<=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';

export interface SearchClause {
  entity: SearchEntity;
  key: string;
  comparator: Comparator;
  value: number | string | readonly string[];
}

export interface OrderClause {
  entity: SearchEntity;
  key: string;
  ascending: boolean;
}

/** What a search may name: which entities and attributes, and what the attributes are. */
interface SearchSchema {
  what: string;
  entities: ReadonlySet<SearchEntity>;
  stringAttributes: ReadonlySet<string>;
  numericAttributes: ReadonlySet<string>;
  /** Attributes compared against a list with IN / NOT IN. */
  listAttributes: ReadonlySet<string>;
  orderableAttributes: ReadonlySet<string>;
  aliases: Readonly<Record<string, string>>;
}

const RUN_SCHEMA: SearchSchema = {
  what: 'runs',
  entities: new Set(['metric', 'param', 'tag', 'attribute']),
  stringAttributes: new Set(['run_id', 'run_name', 'status', 'user_id', 'artifact_uri', 'lifecycle_stage']),
  numericAttributes: new Set(['start_time', 'end_time']),
  listAttributes: new Set(['run_id']),
  orderableAttributes: new Set(['run_id', 'run_name', 'status', 'user_id', 'artifact_uri', 'start_time', 'end_time']),
  aliases: {
    created: 'start_time',
    Created: 'start_time',
    'run name': 'run_name',
    'Run name': 'run_name',
    'Run Name': 'run_name',
  },
};

const EXPERIMENT_SCHEMA: SearchSchema = {
  what: 'experiments',
  entities: new Set(['tag', 'attribute']),
  stringAttributes: new Set(['name', 'experiment_id', 'lifecycle_stage']),
  numericAttributes: new Set(['creation_time', 'last_update_time']),
  listAttributes: new Set(),
  orderableAttributes: new Set(['name', 'experiment_id', 'creation_time', 'last_update_time']),
  aliases: {},
};

const ENTITY_NAMES: Readonly<Record<string, SearchEntity>> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
};

const NUMERIC_COMPARATORS: ReadonlySet<Comparator> = new Set(['=', '!=', '>', '>=', '<', '<=']);
const STRING_COMPARATORS: ReadonlySet<Comparator> = new Set(['=', '!=', 'LIKE', 'ILIKE']);
const LIST_COMPARATORS: ReadonlySet<Comparator> = new Set(['IN', 'NOT IN']);

/** A character-level reader of one filter or order-by string. */
class Reader {
  pos = 0;
  constructor(readonly text: string, readonly what: string) {}

  get done(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text.charAt(this.pos);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text.charAt(this.pos))) this.pos++;
  }

  fail(message: string): never {
    throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `Invalid ${this.what} '${this.text}': ${message} (at character ${this.pos + 1})`);
  }

  /** A word (letters, digits, `_`), or undefined. */
  word(): string | undefined {
    this.skipSpace();
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos));
    if (match === null) return undefined;
    this.pos += match[0].length;
    return match[0];
  }

  /** True and consumed if the next word is `keyword` (any case). */
  keyword(keyword: string): boolean {
    this.skipSpace();
    const rest = this.text.slice(this.pos, this.pos + keyword.length + 1);
    if (rest.slice(0, keyword.length).toUpperCase() !== keyword) return false;
    if (/[A-Za-z0-9_]/.test(rest.charAt(keyword.length))) return false;
    this.pos += keyword.length;
    return true;
  }

  /** A quoted run of characters; `'` strings also take `''` and backslash escapes. */
  quoted(): string {
    const quote = this.peek();
    let out = '';
    this.pos++;
    while (this.pos < this.text.length) {
      const c = this.text.charAt(this.pos);
      if (c === '\\' && quote !== '`' && this.pos + 1 < this.text.length) {
        out += this.text.charAt(this.pos + 1);
        this.pos += 2;
        continue;
      }
      if (c === quote) {
        if (quote === "'" && this.text.charAt(this.pos + 1) === "'") {
          out += "'";
          this.pos += 2;
          continue;
        }
        this.pos++;
        return out;
      }
      out += c;
      this.pos++;
    }
    return this.fail(`unterminated ${quote} quote`);
  }

  /** `entity.key`, `entity."quoted key"`, or a bare attribute name. */
  identifier(schema: SearchSchema): { entity: SearchEntity; key: string } {
    this.skipSpace();
    const start = this.pos;
    const head = this.peek() === '`' ? this.quoted() : this.word();
    if (head === undefined || head === '') return this.fail('expected an identifier such as metrics.accuracy');
    if (this.peek() !== '.') return { entity: 'attribute', key: this.attribute(schema, head, start) };
    this.pos++;
    const entity = ENTITY_NAMES[head];
    if (entity === undefined || !schema.entities.has(entity)) {
      const valid = [...schema.entities].map((e) => (e === 'param' ? 'parameter' : e));
      this.pos = start;
      return this.fail(`invalid entity type '${head}'; valid types for ${schema.what} are ${valid.join(', ')}`);
    }
    let key: string;
    const c = this.peek();
    if (c === '"' || c === '`' || c === "'") {
      key = this.quoted();
    } else {
      const match = /^[A-Za-z0-9_.]+/.exec(this.text.slice(this.pos));
      if (match === null) return this.fail(`expected a key after '${head}.'`);
      key = match[0];
      this.pos += key.length;
    }
    if (entity === 'attribute') key = this.attribute(schema, key, start);
    return { entity, key };
  }

  private attribute(schema: SearchSchema, name: string, start: number): string {
    const key = schema.aliases[name] ?? name;
    if (!schema.stringAttributes.has(key) && !schema.numericAttributes.has(key)) {
      this.pos = start;
      const valid = [...schema.stringAttributes, ...schema.numericAttributes];
      return this.fail(`invalid attribute key '${name}'; valid keys are ${valid.join(', ')}`);
    }
    return key;
  }

  comparator(): Comparator {
    this.skipSpace();
    for (const op of ['>=', '<=', '!=', '=', '>', '<'] as const) {
      if (this.text.startsWith(op, this.pos)) {
        this.pos += op.length;
        return op;
      }
    }
    if (this.keyword('LIKE')) return 'LIKE';
    if (this.keyword('ILIKE')) return 'ILIKE';
    if (this.keyword('IN')) return 'IN';
    if (this.keyword('NOT')) {
      if (this.keyword('IN')) return 'NOT IN';
      return this.fail("expected IN after NOT");
    }
    return this.fail('expected a comparator (=, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN)');
  }

  value(): number | string | string[] {
    this.skipSpace();
    const c = this.peek();
    if (c === "'" || c === '"') return this.quoted();
    if (c === '(') {
      this.pos++;
      const items: string[] = [];
      for (;;) {
        this.skipSpace();
        const q = this.peek();
        if (q !== "'" && q !== '"') return this.fail('expected a quoted string in the list');
        items.push(this.quoted());
        this.skipSpace();
        if (this.peek() === ',') {
          this.pos++;
          continue;
        }
        if (this.peek() === ')') {
          this.pos++;
          return items;
        }
        return this.fail("expected ',' or ')' in the list");
      }
    }
    const match = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(this.text.slice(this.pos));
    if (match === null) return this.fail('expected a number or a quoted string');
    this.pos += match[0].length;
    return Number(match[0]);
  }
}

function describeEntity(entity: SearchEntity): string {
  return entity === 'param' ? 'parameter' : entity;
}

function checkClause(schema: SearchSchema, clause: SearchClause, reader: Reader): SearchClause {
  const { entity, key, comparator, value } = clause;
  const numeric = entity === 'metric' || (entity === 'attribute' && schema.numericAttributes.has(key));
  let allowed: ReadonlySet<Comparator>;
  if (numeric) allowed = NUMERIC_COMPARATORS;
  else if (entity === 'attribute' && schema.listAttributes.has(key)) {
    allowed = new Set([...STRING_COMPARATORS, ...LIST_COMPARATORS]);
  } else allowed = STRING_COMPARATORS;
  const label = entity === 'attribute' ? `attribute '${key}'` : `${describeEntity(entity)} '${key}'`;
  if (!allowed.has(comparator)) {
    return reader.fail(`invalid comparator '${comparator}' for ${label}; use one of ${[...allowed].join(', ')}`);
  }
  if (LIST_COMPARATORS.has(comparator)) {
    if (!Array.isArray(value)) return reader.fail(`${comparator} takes a list of quoted strings, e.g. ('a', 'b')`);
  } else if (numeric && typeof value !== 'number') {
    return reader.fail(`expected a numeric value for ${label}, found ${JSON.stringify(value)}`);
  } else if (!numeric && typeof value !== 'string') {
    return reader.fail(`expected a quoted string value for ${label} (e.g. 'my-value')`);
  }
  return clause;
}

function parseFilter(schema: SearchSchema, filter: string | undefined): SearchClause[] {
  if (filter === undefined || filter.trim() === '') return [];
  const reader = new Reader(filter, 'filter');
  const clauses: SearchClause[] = [];
  for (;;) {
    const { entity, key } = reader.identifier(schema);
    const comparator = reader.comparator();
    const value = reader.value();
    clauses.push(checkClause(schema, { entity, key, comparator, value }, reader));
    if (reader.done) return clauses;
    if (reader.keyword('AND')) continue;
    if (reader.keyword('OR')) return reader.fail('OR is not supported; join comparisons with AND');
    return reader.fail('expected AND between comparisons');
  }
}

function parseOrderBy(schema: SearchSchema, orderBy: readonly string[] | undefined): OrderClause[] {
  return (orderBy ?? []).map((text) => {
    if (typeof text !== 'string') throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, 'order_by entries must be strings');
    const reader = new Reader(text, 'order_by clause');
    const { entity, key } = reader.identifier(schema);
    if (entity === 'attribute' && !schema.orderableAttributes.has(key)) {
      return reader.fail(`cannot order by attribute '${key}'; use one of ${[...schema.orderableAttributes].join(', ')}`);
    }
    let ascending = true;
    if (reader.keyword('DESC')) ascending = false;
    else reader.keyword('ASC');
    if (!reader.done) return reader.fail('expected ASC or DESC at the end');
    return { entity, key, ascending };
  });
}

/** Parses a run filter; INVALID_PARAMETER_VALUE names the problem and where it is. */
export const parseTrackingRunFilter = (filter: string | undefined): SearchClause[] => parseFilter(RUN_SCHEMA, filter);
export const parseTrackingRunOrderBy = (orderBy: readonly string[] | undefined): OrderClause[] =>
  parseOrderBy(RUN_SCHEMA, orderBy);
export const parseExperimentFilter = (filter: string | undefined): SearchClause[] =>
  parseFilter(EXPERIMENT_SCHEMA, filter);
export const parseExperimentOrderBy = (orderBy: readonly string[] | undefined): OrderClause[] =>
  parseOrderBy(EXPERIMENT_SCHEMA, orderBy);

type Value = number | string | undefined;
type Lookup = (entity: SearchEntity, key: string) => Value;

function own<V>(record: Record<string, V>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function trackingRunLookup(run: TrackingRun): Lookup {
  return (entity, key) => {
    switch (entity) {
      case 'metric':
        return own(run.data.metrics, key)?.value;
      case 'param':
        return own(run.data.params, key);
      case 'tag':
        return own(run.data.tags, key);
      case 'attribute':
        return trackingRunAttribute(run, key);
    }
  };
}

function trackingRunAttribute(run: TrackingRun, key: string): Value {
  const { info } = run;
  switch (key) {
    case 'run_id':
      return info.runId;
    case 'run_name':
      return info.runName;
    case 'status':
      return info.status;
    case 'user_id':
      return info.userId;
    case 'artifact_uri':
      return info.artifactUri;
    case 'lifecycle_stage':
      return info.lifecycleStage;
    case 'start_time':
      return info.startTime;
    case 'end_time':
      return info.endTime;
    default:
      return undefined;
  }
}

function experimentLookup(experiment: Experiment): Lookup {
  return (entity, key) => {
    if (entity === 'tag') return own(experiment.tags, key);
    switch (key) {
      case 'name':
        return experiment.name;
      case 'experiment_id':
        return experiment.experimentId;
      case 'lifecycle_stage':
        return experiment.lifecycleStage;
      case 'creation_time':
        return experiment.creationTime;
      case 'last_update_time':
        return experiment.lastUpdateTime;
      default:
        return undefined;
    }
  };
}

const likeCache = new Map<string, RegExp>();

// SQL LIKE: % is any run of characters, _ is one character, everything else is literal.
function likeRegExp(pattern: string, flags: string): RegExp {
  const cacheKey = flags + '\0' + pattern;
  const cached = likeCache.get(cacheKey);
  if (cached !== undefined) return cached;
  let source = '^';
  for (const c of pattern) {
    if (c === '%') source += '[\\s\\S]*';
    else if (c === '_') source += '[\\s\\S]';
    else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  const re = new RegExp(source + '$', flags + 'u');
  if (likeCache.size > 256) likeCache.clear();
  likeCache.set(cacheKey, re);
  return re;
}

function matches(clause: SearchClause, lhs: Value): boolean {
  // A run without the metric, param, tag or attribute never matches, whatever the comparator.
  if (lhs === undefined) return false;
  const rhs = clause.value;
  switch (clause.comparator) {
    case '=':
      return lhs === rhs;
    case '!=':
      return lhs !== rhs;
    case '>':
      return lhs > (rhs as typeof lhs);
    case '>=':
      return lhs >= (rhs as typeof lhs);
    case '<':
      return lhs < (rhs as typeof lhs);
    case '<=':
      return lhs <= (rhs as typeof lhs);
    case 'LIKE':
      return likeRegExp(rhs as string, '').test(String(lhs));
    case 'ILIKE':
      return likeRegExp(rhs as string, 'i').test(String(lhs));
    case 'IN':
      return (rhs as readonly string[]).includes(String(lhs));
    case 'NOT IN':
      return !(rhs as readonly string[]).includes(String(lhs));
  }
}

function matchesAll(clauses: readonly SearchClause[], lookup: Lookup): boolean {
  return clauses.every((c) => matches(c, lookup(c.entity, c.key)));
}

// MLflow's sort: missing values and NaN last, whichever the direction.
function compareValues(a: Value, b: Value, ascending: boolean): number {
  const aMissing = a === undefined || (typeof a === 'number' && Number.isNaN(a));
  const bMissing = b === undefined || (typeof b === 'number' && Number.isNaN(b));
  if (aMissing || bMissing) return aMissing === bMissing ? 0 : aMissing ? 1 : -1;
  const order = a! < b! ? -1 : a! > b! ? 1 : 0;
  return ascending ? order : -order;
}

function comparator<T>(clauses: readonly OrderClause[], lookup: (item: T) => Lookup) {
  return (x: T, y: T): number => {
    const lx = lookup(x);
    const ly = lookup(y);
    for (const c of clauses) {
      const order = compareValues(lx(c.entity, c.key), ly(c.entity, c.key), c.ascending);
      if (order !== 0) return order;
    }
    return 0;
  };
}

// Numeric ids (as the embedded stores and MLflow's SQL store make them) compare as numbers.
function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b) && a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Paging position as a token: base64 of `{"offset": n}`, the form MLflow's own stores use. */
export function encodeOffsetToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64');
}

/** The offset in a page token; 0 without one. */
export function decodeOffsetToken(token: string | undefined): number {
  if (token === undefined || token === '') return 0;
  const offset = decodePageToken(token)['offset'];
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `Invalid page token '${token}'`);
  }
  return offset;
}

/** A token holding a small JSON object (for cursors); opaque to callers. */
export function encodePageToken(content: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(content), 'utf8').toString('base64');
}

export function decodePageToken(token: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(token)) throw new Error('not base64');
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `Invalid page token '${token}', could not be decoded`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `Invalid page token '${token}'`);
  }
  return parsed as Record<string, unknown>;
}

function page<T>(items: T[], maxResults: number, pageToken: string | undefined): { items: T[]; nextPageToken?: string } {
  const offset = decodeOffsetToken(pageToken);
  const end = offset + maxResults;
  const slice = items.slice(offset, end);
  return end < items.length ? { items: slice, nextPageToken: encodeOffsetToken(end) } : { items: slice };
}

export interface InProcessSearch {
  filter?: string;
  orderBy?: readonly string[];
  maxResults: number;
  pageToken?: string;
}

/**
 * Filters, orders and pages runs held in process. The order is the given clauses, then newest
 * start first, then run id; pages are offsets into that order, so a page token is stable while
 * no run is added or changed between pages (as with MLflow's own stores).
 */
export function searchTrackingRunList(runs: readonly TrackingRun[], search: InProcessSearch): TrackingRunsPage {
  const clauses = parseTrackingRunFilter(search.filter);
  const order = [
    ...parseTrackingRunOrderBy(search.orderBy),
    { entity: 'attribute', key: 'start_time', ascending: false } as const,
  ];
  decodeOffsetToken(search.pageToken);
  const selected = runs.filter((run) => matchesAll(clauses, trackingRunLookup(run)));
  const byOrder = comparator<TrackingRun>(order, trackingRunLookup);
  selected.sort((a, b) => byOrder(a, b) || compareIds(a.info.runId, b.info.runId));
  const { items, nextPageToken } = page(selected, search.maxResults, search.pageToken);
  return nextPageToken === undefined ? { runs: items } : { runs: items, nextPageToken };
}

/** Filters, orders (then newest first, then id) and pages experiments held in process. */
export function searchExperimentList(experiments: readonly Experiment[], search: InProcessSearch): ExperimentsPage {
  const clauses = parseExperimentFilter(search.filter);
  const order = [
    ...parseExperimentOrderBy(search.orderBy),
    { entity: 'attribute', key: 'creation_time', ascending: false } as const,
  ];
  decodeOffsetToken(search.pageToken);
  const selected = experiments.filter((e) => matchesAll(clauses, experimentLookup(e)));
  const byOrder = comparator<Experiment>(order, experimentLookup);
  selected.sort((a, b) => byOrder(a, b) || compareIds(a.experimentId, b.experimentId));
  const { items, nextPageToken } = page(selected, search.maxResults, search.pageToken);
  return nextPageToken === undefined ? { experiments: items } : { experiments: items, nextPageToken };
}
