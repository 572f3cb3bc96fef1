export { ingest, type IngestInput } from './ingest.ts';
export { retention } from './retention.ts';
