export { ingest, type IngestInput } from './ingest.ts';
export { reprocess, type ReprocessInput, type ReprocessResult } from './reprocess.ts';
export { retention } from './retention.ts';
