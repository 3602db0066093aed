export { ensureStreams } from './streams.js';
export { UpdateIngest } from './update-ingest.js';
export type { UpdateIngestOptions } from './update-ingest.js';
