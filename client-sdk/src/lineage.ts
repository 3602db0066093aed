import { TributaryError, type DatasetDescriptor as WireDatasetDescriptor } from '@tributary/proto';
import type { DatasetDescriptor } from './types.js';

/** Limits the coordinator enforces on lineage metadata; checked here first for a clear local error. */
const MAX_DATASETS = 16;

/** Dataset descriptors as they go on the wire, checked. */
export function describeDatasets(datasets: readonly DatasetDescriptor[] | undefined): WireDatasetDescriptor[] {
  const list = datasets ?? [];
  if (!Array.isArray(list)) throw TributaryError.invalidArgument('datasets must be an array of { name, digest?, schema?, rows?, source?, context? }');
  if (list.length > MAX_DATASETS) throw TributaryError.invalidArgument(`at most ${MAX_DATASETS} dataset descriptors, got ${list.length}`);
  return list.map((d, i) => {
    if (typeof d?.name !== 'string' || d.name === '') throw TributaryError.invalidArgument(`datasets[${i}] needs a name`);
    if (d.rows !== undefined && !(Number.isSafeInteger(d.rows) && d.rows >= 0)) throw TributaryError.invalidArgument(`datasets[${i}].rows must be a non-negative integer`);
    return { name: d.name, digest: d.digest ?? '', schema: d.schema ?? '', rows: d.rows ?? 0, source: d.source ?? '', context: d.context ?? 'training' };
  });
}

