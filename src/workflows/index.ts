export { ingest, type IngestInput } from './ingest.ts';
