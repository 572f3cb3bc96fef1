// The schema, owned by MikroORM: migrations are generated from these definitions and committed.
// Hot paths (COPY into stage_record, the merge into record, orphan soft-deletes) are plain SQL in src/db,
// but every table they touch is declared here so the migration diff stays the single source of truth.
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const RUN_STATUSES = ['running', 'succeeded', 'partial', 'failed'] as const;
// superseded: the source's payload was fetched before one another run had merged already, so it changed nothing
export const SOURCE_RUN_STATUSES = ['running', 'succeeded', 'unchanged', 'superseded', 'failed'] as const;
export const RECORD_KINDS = ['asset', 'article'] as const;
export const PAYLOAD_STATUSES = ['landing', 'stored', 'unchanged', 'not_modified'] as const;
export const SERIES_KINDS = ['snapshot', 'history'] as const;

/**
 * One ingest workflow execution. Keyed by workflow id and original run id, which a reset keeps: a retried or
 * reset start reuses the row, while another execution under the same workflow id (two schedule triggers in
 * one second get one id) has its own.
 */
export const Run = defineEntity({
  name: 'Run',
  tableName: 'run',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    workflowId: p.text(),
    /** The run id the execution started with; temporalRunId is its latest (a reset changes it). */
    originalRunId: p.text(),
    temporalRunId: p.text(),
    status: p.enum(RUN_STATUSES).default('running'),
    startedAt: p.datetime().defaultRaw('now()'),
    finishedAt: p.datetime().nullable(),
    error: p.text().nullable(),
    /** A reprocess: the run whose stored payloads it normalized again. */
    reprocessOf: p.bigint('number').nullable(),
    /** A reprocess dry run: it reports what it would change; every reader of runs, quarantine and drift leaves it out. */
    dryRun: p.boolean().default(false),
  },
  uniques: [{ properties: ['workflowId', 'originalRunId'] }],
});

/** Per-source outcome of a run: the counts every stage reports, so a run explains itself. */
export const RunSource = defineEntity({
  name: 'RunSource',
  tableName: 'run_source',
  properties: {
    run: () => p.manyToOne(Run).mapToPk().primary().deleteRule('cascade'),
    sourceId: p.text().primary(),
    status: p.enum(SOURCE_RUN_STATUSES).default('running'),
    startedAt: p.datetime().defaultRaw('now()'),
    finishedAt: p.datetime().nullable(),
    payloadId: p.bigint('number').nullable(),
    bytes: p.bigint('number').default(0),
    pages: p.integer().default(0),
    parsed: p.integer().default(0),
    staged: p.integer().default(0),
    quarantined: p.integer().default(0),
    /** Values of optional fields the staged records could not keep (stored as null; the values in field_issue). */
    fieldIssues: p.integer().default(0),
    /** What an operator should know about a source run that still succeeded: a payload with no records, zone-less times read as UTC. */
    warnings: p.json<string[]>().default('[]'),
    duplicates: p.integer().default(0),
    inserted: p.integer().default(0),
    updated: p.integer().default(0),
    unchanged: p.integer().default(0),
    restored: p.integer().default(0),
    softDeleted: p.integer().default(0),
    deleteGuard: p.text().nullable(),
    /** Live records after the orphan check: the delete guard's baseline is the most of these within its window. */
    liveAfter: p.integer().nullable(),
    driftEvents: p.integer().default(0),
    entitiesLinked: p.integer().default(0),
    entitiesCreated: p.integer().default(0),
    /** Asset sources: whether the payload was read as a snapshot of current quotes or as a history. */
    series: p.enum(SERIES_KINDS).nullable(),
    /** Observations the merge added to the time series (quote), and existing ones it corrected. */
    quotesAppended: p.integer().default(0),
    quotesRevised: p.integer().default(0),
    /** Observations older than the raw retention, added straight to the daily rollup (quote_daily). */
    quotesRolledUp: p.integer().default(0),
    /** The fields and value types this run's payload had (schema drift compares it with the previous run's). */
    observedSchema: p.json<Record<string, string>>().nullable(),
    /** Where each unified field came from, with its confidence, and the columns left unmapped. */
    fieldMapping: p.json<Record<string, unknown>>().nullable(),
    /** A payload normalized in parts: the parts, what every part reads with, and (once all are done) their shifts. */
    normalizePlan: p.json<Record<string, unknown>>().nullable(),
    error: p.text().nullable(),
    /**
     * The Temporal run id that merged, set in the merge transaction: a retried merge returns the counts
     * instead of merging twice, while a reset (a new run id) merges again.
     */
    mergedInRun: p.text().nullable(),
    /** The same for the orphan soft-delete. */
    orphansCheckedInRun: p.text().nullable(),
    /** Attempts per stage, e.g. {"fetchSource": 2}: more than 1 means the stage was retried. */
    attempts: p.json<Record<string, number>>().default('{}'),
    /** The failures of attempts that were retried or gave up: stage, attempt, message, time (latest 20). */
    errors: p.json<{ stage: string; attempt: number; error: string; at: string }[]>().default('[]'),
  },
  indexes: [{ properties: ['sourceId', 'run'] }],
});

/** Checkpoint of a source: what the last merged snapshot was. Written in the merge transaction only. */
export const SourceState = defineEntity({
  name: 'SourceState',
  tableName: 'source_state',
  properties: {
    sourceId: p.text().primary(),
    kind: p.text(),
    lastPayloadId: p.bigint('number').nullable(),
    contentHash: p.text().nullable(),
    etag: p.text().nullable(),
    lastModified: p.text().nullable(),
    lastRunId: p.bigint('number').nullable(),
    /** The payload whose records were all linked to entities, and when: an unchanged re-run skips resolution. */
    resolvedPayloadId: p.bigint('number').nullable(),
    resolvedAt: p.datetime().nullable(),
    /** Renames accepted under drift policy evolve: old source field → new one. */
    fieldRenames: p.json<Record<string, string>>().default('{}'),
    /** An operator approved a deliberate shrink: the next snapshot's deletes skip the ratio once. */
    shrinkApprovedAt: p.datetime().nullable(),
    /** The delete guard's baseline counts runs from here (the last approved shrink). */
    baselineSince: p.datetime().nullable(),
    updatedAt: p.datetime().defaultRaw('now()'),
  },
});

/** A fetched payload exactly as the source sent it (bytes live in raw_page). Immutable once stored. */
export const RawPayload = defineEntity({
  name: 'RawPayload',
  tableName: 'raw_payload',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.bigint('number'),
    sourceId: p.text(),
    status: p.enum(PAYLOAD_STATUSES).default('landing'),
    url: p.text(),
    fetchedAt: p.datetime().defaultRaw('now()'),
    httpStatus: p.integer().nullable(),
    contentType: p.text().nullable(),
    etag: p.text().nullable(),
    lastModified: p.text().nullable(),
    contentHash: p.text().nullable(),
    sizeBytes: p.bigint('number').default(0),
    pageCount: p.integer().default(0),
    sameAsPayloadId: p.bigint('number').nullable(),
    /** Documents landed completely; a resumed fetch continues after them. */
    landedDocuments: p.integer().default(0),
    /** Why the documents are not the whole source (e.g. a page cap); such a payload never deletes anything. */
    incompleteReason: p.text().nullable(),
    storedAt: p.datetime().nullable(),
  },
  uniques: [{ properties: ['runId', 'sourceId'] }],
  indexes: [{ properties: ['sourceId', 'id'] }],
});

/** A chunk of a raw payload (an HTTP page, or a slice of a large body), so no payload is held whole. */
export const RawPage = defineEntity({
  name: 'RawPage',
  tableName: 'raw_page',
  properties: {
    payload: () => p.manyToOne(RawPayload).mapToPk().primary().deleteRule('cascade'),
    seq: p.integer().primary(),
    /** Which response of the payload this chunk belongs to (one per API page; a file is one document). */
    document: p.integer(),
    /** SHA-256 of the body; the payload's content hash is built from these, so a resumed fetch needs no re-read. */
    hash: p.text(),
    body: p.blob(),
  },
});

// numeric without precision: exact decimals of any scale (prices like 2e-8, supplies like 1e18)
const decimal = () => p.decimal('string').columnType('numeric').nullable();

const recordColumns = {
  kind: p.enum(RECORD_KINDS),
  sourceId: p.text(),
  sourceKey: p.text(),
  // asset quote
  symbol: p.text().nullable(),
  name: p.text().nullable(),
  rank: p.integer().nullable(),
  priceUsd: decimal(),
  marketCapUsd: decimal(),
  volume24hUsd: decimal().fieldName('volume_24h_usd'),
  circulatingSupply: decimal(),
  totalSupply: decimal(),
  maxSupply: decimal(),
  percentChange24h: decimal().fieldName('percent_change_24h'),
  openUsd: decimal(),
  highUsd: decimal(),
  lowUsd: decimal(),
  // news article
  title: p.text().nullable(),
  url: p.text().nullable(),
  summary: p.text().nullable(),
  author: p.text().nullable(),
  publishedAt: p.datetime().nullable(),
  // common
  sourceUpdatedAt: p.datetime().nullable(),
  /** When the source said this: its own timestamp, else the fetch time. The record shows its newest observation. */
  observedAt: p.datetime(),
  /** Source-independent identifier for identity resolution: a coin's slug, an article's canonical URL. */
  matchKey: p.text().nullable(),
  contentHash: p.text(),
  rawPayloadId: p.bigint('number'),
  rawPosition: p.integer(),
};

// stage_record keys on (run, source, position); the other columns are the record's own.
const { sourceId: _stageKeyColumn, ...recordColumnsAfterSource } = recordColumns;

/** The unified, deduplicated record: one row per (source, source key), soft-deleted when it leaves a snapshot. */
export const DataRecord = defineEntity({
  name: 'DataRecord',
  tableName: 'record',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    ...recordColumns,
    runId: p.bigint('number'),
    firstRunId: p.bigint('number'),
    createdAt: p.datetime().defaultRaw('now()'),
    updatedAt: p.datetime().defaultRaw('now()'),
    deletedAt: p.datetime().nullable(),
    deletedRunId: p.bigint('number').nullable(),
  },
  uniques: [{ properties: ['sourceId', 'sourceKey'] }],
  indexes: [
    { properties: ['sourceId', 'id'] },
    { properties: ['symbol', 'id'] },
    { properties: ['matchKey'] },
    // GET /data?updated_since=: incremental readers ask "what changed since my last read"
    { properties: ['updatedAt', 'id'] },
  ],
});

/** Normalized rows of one run and source before the merge; emptied when the run finishes. */
export const StageRecord = defineEntity({
  name: 'StageRecord',
  tableName: 'stage_record',
  properties: {
    runId: p.bigint('number').primary(),
    sourceId: p.text().primary(),
    position: p.integer().primary(),
    ...recordColumnsAfterSource,
  },
});

/**
 * The time series of asset quotes: what a source said about a key, and when. One row per (record, observed_at),
 * append-only (a source re-sending a timestamp with other values corrects that row). Partitioned by month on
 * observed_at in the migration (MikroORM leaves partitioning it is not told about alone); the pipeline creates
 * the partitions its data needs (src/db/quotes.ts) and retention drops whole expired ones after rolling them up.
 * Its entity is the record's entity, so a re-link carries the history along.
 */
export const Quote = defineEntity({
  name: 'Quote',
  tableName: 'quote',
  properties: {
    recordId: p.bigint('number').primary(),
    observedAt: p.datetime().primary(),
    rank: p.integer().nullable(),
    priceUsd: decimal(),
    marketCapUsd: decimal(),
    volume24hUsd: decimal().fieldName('volume_24h_usd'),
    circulatingSupply: decimal(),
    totalSupply: decimal(),
    maxSupply: decimal(),
    percentChange24h: decimal().fieldName('percent_change_24h'),
    openUsd: decimal(),
    highUsd: decimal(),
    lowUsd: decimal(),
    // lineage: the run that wrote it last, and the raw payload and position it came from
    runId: p.bigint('number'),
    rawPayloadId: p.bigint('number'),
    rawPosition: p.integer(),
  },
});

/** Daily OHLC per record, kept for good: built from each raw partition before it is dropped, and from late observations older than that. */
export const QuoteDaily = defineEntity({
  name: 'QuoteDaily',
  tableName: 'quote_daily',
  properties: {
    recordId: p.bigint('number').primary(),
    day: p.date().primary(),
    openUsd: decimal(),
    highUsd: decimal(),
    lowUsd: decimal(),
    closeUsd: decimal(),
    meanUsd: decimal(),
    /** The day's last 24 h volume and market cap (rolling figures: summing them would mean nothing). */
    volume24hUsd: decimal().fieldName('volume_24h_usd'),
    marketCapUsd: decimal(),
    observations: p.integer(),
    firstAt: p.datetime(),
    lastAt: p.datetime(),
  },
});

/** Where the raw time series begins: observations before raw_from exist only as daily rollups (one row, id 1). */
export const QuoteHorizon = defineEntity({
  name: 'QuoteHorizon',
  tableName: 'quote_horizon',
  properties: {
    id: p.integer().primary().autoincrement(false),
    rawFrom: p.datetime(),
  },
});

/** A record that failed validation, kept with its reason and fields instead of being dropped. */
export const Quarantine = defineEntity({
  name: 'Quarantine',
  tableName: 'quarantine',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.bigint('number'),
    sourceId: p.text(),
    rawPayloadId: p.bigint('number'),
    rawPosition: p.integer(),
    sourceKey: p.text().nullable(),
    reason: p.text(),
    fields: p.json<unknown>(),
    createdAt: p.datetime().defaultRaw('now()'),
  },
  // deferrable: checked at the end of a statement, so the join of a payload's parts moves positions in one UPDATE
  uniques: [{ properties: ['runId', 'sourceId', 'rawPosition'], deferMode: 'immediate' }],
  // GET /data/:id shows the latest quarantine reasons of the record's source and key
  indexes: [{ properties: ['sourceId', 'sourceKey', 'id'] }],
});

/** An optional field a staged record could not keep: the field, the value as the source sent it and why. The record itself was kept. */
export const FieldIssue = defineEntity({
  name: 'FieldIssue',
  tableName: 'field_issue',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.bigint('number'),
    sourceId: p.text(),
    rawPayloadId: p.bigint('number'),
    rawPosition: p.integer(),
    sourceKey: p.text(),
    field: p.text(),
    value: p.text(),
    reason: p.text(),
    createdAt: p.datetime().defaultRaw('now()'),
  },
  indexes: [{ properties: ['runId', 'sourceId', 'rawPosition'] }, { properties: ['sourceId', 'sourceKey', 'id'] }],
});

/** A real-world thing several sources describe: one coin, one article. */
export const Entity = defineEntity({
  name: 'Entity',
  tableName: 'entity',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    kind: p.enum(RECORD_KINDS),
    /** The record it was created from; its display fields were copied from there. */
    seedRecordId: p.bigint('number'),
    symbol: p.text().nullable(),
    name: p.text().nullable(),
    title: p.text().nullable(),
    url: p.text().nullable(),
    /**
     * How many sources describe it with a live record: kept by identity resolution (src/db/identity.ts), so
     * `GET /entities?min_sources=` reads an index instead of grouping every link.
     */
    liveSources: p.integer().default(0),
    createdAt: p.datetime().defaultRaw('now()'),
  },
  indexes: [{ properties: ['kind', 'id'] }, { properties: ['symbol'] }, { properties: ['liveSources', 'id'] }],
});

/** Which entity a record describes, by which rule, how sure, and the evidence. One link per record. */
export const EntityLink = defineEntity({
  name: 'EntityLink',
  tableName: 'entity_link',
  properties: {
    // no foreign keys: checking two of them per link was about half of linking a million new records, and the
    // only deletes are retention's, which removes a record's link with it and only entities nothing links
    record: () => p.manyToOne(DataRecord).mapToPk().primary().createForeignKeyConstraint(false),
    entity: () => p.manyToOne(Entity).mapToPk().createForeignKeyConstraint(false),
    rule: p.text(),
    confidence: p.double(),
    evidence: p.json<Record<string, unknown>>(),
    runId: p.bigint('number'),
    linkedAt: p.datetime().defaultRaw('now()'),
  },
  indexes: [{ properties: ['entity'] }],
});

export const OVERRIDE_ACTIONS = ['force', 'forbid'] as const;

/** An operator's decision about two records: the same thing (force) or never the same (forbid). */
export const EntityOverride = defineEntity({
  name: 'EntityOverride',
  tableName: 'entity_override',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    kind: p.enum(RECORD_KINDS),
    action: p.enum(OVERRIDE_ACTIONS),
    leftSourceId: p.text(),
    leftSourceKey: p.text(),
    rightSourceId: p.text(),
    rightSourceKey: p.text(),
    reason: p.text().nullable(),
    createdAt: p.datetime().defaultRaw('now()'),
    /** Removed by an operator: kept as history, no longer applied; its records are resolved again. */
    removedAt: p.datetime().nullable(),
  },
  uniques: [{ properties: ['kind', 'leftSourceId', 'leftSourceKey', 'rightSourceId', 'rightSourceKey'] }],
});

export const DRIFT_CHANGES = ['added', 'removed', 'type_changed', 'renamed'] as const;
export const DRIFT_ACTIONS = ['applied', 'reported', 'quarantined'] as const;

/** One difference between a run's observed schema and the previous run's, and what the drift policy did. */
export const DriftEvent = defineEntity({
  name: 'DriftEvent',
  tableName: 'drift_event',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.bigint('number'),
    sourceId: p.text(),
    change: p.enum(DRIFT_CHANGES),
    field: p.text(),
    previousField: p.text().nullable(),
    previousType: p.text().nullable(),
    currentType: p.text().nullable(),
    confidence: p.double().nullable(),
    action: p.enum(DRIFT_ACTIONS),
    createdAt: p.datetime().defaultRaw('now()'),
  },
  indexes: [{ properties: ['sourceId', 'id'] }, { properties: ['runId'] }],
});

export const ANOMALY_RULES = [
  'run_failed',
  'source_failed',
  'record_count_change',
  'duration_spike',
  'quarantine_spike',
  'price_divergence',
] as const;

/** Something unusual about a finished run, found against the source's recent history (src/anomalies.ts). */
export const RunAnomaly = defineEntity({
  name: 'RunAnomaly',
  tableName: 'run_anomaly',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    run: () => p.manyToOne(Run).mapToPk().deleteRule('cascade'),
    sourceId: p.text().nullable(),
    rule: p.enum(ANOMALY_RULES),
    message: p.text(),
    current: p.double().nullable(),
    reference: p.double().nullable(),
    /** The entity a cross-source anomaly is about (price_divergence), with what each source said. */
    entityId: p.bigint('number').nullable(),
    details: p.json<Record<string, unknown>>().nullable(),
    createdAt: p.datetime().defaultRaw('now()'),
  },
  indexes: [{ properties: ['run'] }, { properties: ['rule', 'id'] }, { properties: ['entityId', 'id'] }],
});

/** A token bucket per provider, in the database so every worker process shares the same limit. */
export const RateLimitBucket = defineEntity({
  name: 'RateLimitBucket',
  tableName: 'rate_limit_bucket',
  properties: {
    key: p.text().primary(),
    tokens: p.double(),
    refilledAt: p.datetime().defaultRaw('clock_timestamp()'),
  },
});

export const entities = [
  Run,
  RunSource,
  SourceState,
  RawPayload,
  RawPage,
  DataRecord,
  StageRecord,
  Quote,
  QuoteDaily,
  QuoteHorizon,
  Quarantine,
  FieldIssue,
  DriftEvent,
  Entity,
  EntityLink,
  EntityOverride,
  RateLimitBucket,
  RunAnomaly,
];

export type IRun = InferEntity<typeof Run>;
export type IRunSource = InferEntity<typeof RunSource>;
export type IDataRecord = InferEntity<typeof DataRecord>;
export type IRunAnomaly = InferEntity<typeof RunAnomaly>;
