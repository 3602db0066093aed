/** A metric value as JSON can hold it: a number, or MLflow's words for NaN and the infinities. */
export type JsonMetricValue = number | 'NaN' | 'Infinity' | '-Infinity';

/**
 * A metric value as MLflow puts it in JSON (the protobuf JSON mapping): numbers, except NaN and
 * ±Infinity, which JSON cannot hold and travel as the strings "NaN", "Infinity", "-Infinity".
 */
export function encodeMetricValue(value: number): JsonMetricValue {
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
