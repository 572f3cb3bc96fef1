// Reads behind the API, one module per subject under src/db/queries/.
export * from './queries/count.ts';
export * from './queries/records.ts';
export * from './queries/entities.ts';
export * from './queries/runs.ts';
export * from './queries/stats.ts';
export * from './queries/quotes.ts';
export * from './queries/operator.ts';
