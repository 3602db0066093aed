import { invalidParameter } from './errors.js';
import type { Metric } from './store.js';

// A point's position in a metric's history as a fixed-width string, so that string order is
// (step, timestamp, value) order: stores key history by it (appends are one put, reads are
// ordered ranges), dedupe exact repeats by it (a retried batch logs nothing twice) and page by it.
const STEP_OFFSET = 2 ** 53; // steps are safe integers: shift them to non-negative
const STEP_DIGITS = 17;
const TIME_DIGITS = 16;
const POINT_KEY = /^(\d{17})\.(\d{16})\.([0-9a-f]{16})$/;

/** Sorts like the number (NaN after +Infinity); -0 is stored as 0. */
function sortableBits(value: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Object.is(value, -0) ? 0 : value);
  let bits = view.getBigUint64(0);
  bits = bits & 0x8000_0000_0000_0000n ? ~bits & 0xffff_ffff_ffff_ffffn : bits | 0x8000_0000_0000_0000n;
  return bits.toString(16).padStart(16, '0');
}

function valueOfSortableBits(hex: string): number {
  let bits = BigInt('0x' + hex);
  bits = bits & 0x8000_0000_0000_0000n ? bits & 0x7fff_ffff_ffff_ffffn : ~bits & 0xffff_ffff_ffff_ffffn;
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, bits);
  return view.getFloat64(0);
}

/** The point's position key (step, timestamp, value), without the metric's name. */
export function metricPointKey(m: Pick<Metric, 'step' | 'timestamp' | 'value'>): string {
  return (
    String(m.step + STEP_OFFSET).padStart(STEP_DIGITS, '0') +
    '.' +
    String(m.timestamp).padStart(TIME_DIGITS, '0') +
    '.' +
    sortableBits(m.value)
  );
}

/** The metric a point key (and its metric name) stand for. */
export function metricOfPointKey(key: string, pointKey: string): Metric {
  const match = POINT_KEY.exec(pointKey);
  if (match === null) throw invalidParameter(`corrupt metric point key '${pointKey}'`);
  return {
    key,
    step: Number(match[1]) - STEP_OFFSET,
    timestamp: Number(match[2]),
    value: valueOfSortableBits(match[3] ?? ''),
  };
}

/** True if `point` is a valid point key (as found in a page token). */
export function isMetricPointKey(point: string): boolean {
  return POINT_KEY.test(point);
}

/** MLflow's "latest" value of a metric: the highest (step, timestamp, value). */
export function isNewerMetric(candidate: Metric, current: Metric | undefined): boolean {
  return current === undefined || metricPointKey(candidate) > metricPointKey(current);
}

/**
 * A metric value as MLflow puts it in JSON (the protobuf JSON mapping): numbers, except NaN and
 * ±Infinity, which JSON cannot hold and travel as the strings "NaN", "Infinity", "-Infinity".
 */
export function encodeMetricValue(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

/** Reads a metric value from MLflow JSON; undefined if it is neither a number nor one of the words. */
export function decodeMetricValue(raw: unknown): number | undefined {
  if (typeof raw === 'number') return raw;
  if (raw === 'NaN') return NaN;
  if (raw === 'Infinity') return Infinity;
  if (raw === '-Infinity') return -Infinity;
  if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
  return undefined;
}
