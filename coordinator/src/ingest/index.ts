export { ensureStreams, METRIC_CONSUMER, UPDATE_CONSUMER } from './streams.js';
export { UpdateIngest } from './update-ingest.js';
export type { UpdateIngestOptions } from './update-ingest.js';
export { MetricIngest, type MetricIngestOptions } from './metric-ingest.js';
export { MetricEventBus } from './metric-events.js';
