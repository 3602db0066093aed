import { Reason, TributaryError } from '@tributary/proto';
import type { Metric } from './store.js';

// A point's position in a metric's history as a fixed-width string, so that string order is
// (step, timestamp, value) order: stores key history by it (appends are one put, reads are
// ordered ranges), dedupe exact repeats by it (a retried batch logs nothing twice) and page by it.
// Steps are safe integers: negative ones are '0' + (step + MAX_SAFE_INTEGER), others '1' + step.
const POINT_KEY = /^([01])(\d{16})\.(\d{16})\.([0-9a-f]{16})$/;
const NAN_BITS = 'fff8000000000000';

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = LITTLE_ENDIAN ? 0 : 1;

/** Sorts like the number (NaN after +Infinity); -0 is stored as 0. */
function sortableBits(value: number): string {
  if (Number.isNaN(value)) return NAN_BITS;
  f64[0] = value === 0 ? 0 : value;
  let hi = u32[HI]!;
  let lo = u32[LO]!;
  if (hi & 0x8000_0000) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else {
    hi = (hi | 0x8000_0000) >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

function valueOfSortableBits(hex: string): number {
  let hi = parseInt(hex.slice(0, 8), 16);
  let lo = parseInt(hex.slice(8), 16);
  if (hi & 0x8000_0000) {
    hi = (hi & 0x7fff_ffff) >>> 0;
  } else {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  }
  u32[HI] = hi;
  u32[LO] = lo;
  return f64[0]!;
}

/** The point's position key (step, timestamp, value), without the metric's name. */
export function metricPointKey(m: Pick<Metric, 'step' | 'timestamp' | 'value'>): string {
  const step =
    m.step < 0
      ? '0' + String(m.step + Number.MAX_SAFE_INTEGER).padStart(16, '0')
      : '1' + String(m.step).padStart(16, '0');
  return step + '.' + String(m.timestamp).padStart(16, '0') + '.' + sortableBits(m.value);
}

/** The metric a point key (and its metric name) stand for. */
export function metricOfPointKey(key: string, pointKey: string): Metric {
  const match = POINT_KEY.exec(pointKey);
  if (match === null) throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `corrupt metric point key '${pointKey}'`);
  return {
    key,
    step: match[1] === '0' ? Number(match[2]) - Number.MAX_SAFE_INTEGER : Number(match[2]),
    timestamp: Number(match[3]),
    value: valueOfSortableBits(match[4] ?? ''),
  };
}

/** True if `point` is a valid point key (as found in a page token). */
export function isMetricPointKey(point: string): boolean {
  return POINT_KEY.test(point);
}

/** Orders points as their point keys do: step, timestamp, then value (NaN last, -0 as 0). */
export function compareMetricPoints(a: Metric, b: Metric): number {
  if (a.step !== b.step) return a.step < b.step ? -1 : 1;
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1;
  const aNaN = Number.isNaN(a.value);
  const bNaN = Number.isNaN(b.value);
  if (aNaN || bNaN) return aNaN === bNaN ? 0 : aNaN ? 1 : -1;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** MLflow's "latest" value of a metric: the highest (step, timestamp, value). */
export function isNewerMetric(candidate: Metric, current: Metric | undefined): boolean {
  return current === undefined || compareMetricPoints(candidate, current) > 0;
}
