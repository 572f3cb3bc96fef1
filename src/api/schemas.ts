// Every request and response shape of the API, as zod schemas. Requests are parsed with them; responses are
// built to their types (the serializers return z.output of these); /openapi.json is generated from them.
import { z } from 'zod';
import {
  ANOMALY_RULES,
  DRIFT_ACTIONS,
  DRIFT_CHANGES,
  OVERRIDE_ACTIONS,
  PAYLOAD_STATUSES,
  RECORD_KINDS,
  RUN_STATUSES,
  SERIES_KINDS,
  SOURCE_RUN_STATUSES,
} from '../db/entities.ts';
import { INTERVALS } from '../db/queries/quotes.ts';
import { LIMITS } from '../normalize/limits.ts';
import { SOURCE_KINDS } from '../sources/config.ts';

/** Response schemas with an id: they become components/schemas in the OpenAPI document. */
export const components = z.registry<{ id: string; description?: string }>();
const named = <T extends z.ZodType>(id: string, schema: T, description?: string): T => {
  components.add(schema as z.ZodType, description ? { id, description } : { id });
  return schema;
};

// ---------------------------------------------------------------------------------------------- inputs

// PostgreSQL rejects NUL bytes in text and nothing legitimate has control characters, so refuse them up front
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is this rule's purpose
    .regex(/^[^\x00-\x1f\x7f]+$/, 'control characters are not allowed');
// digits only: Number() would also read 0x1, +1, 1e0 and ' 1' as 1
const positiveId = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'a positive integer in decimal digits')
  .transform(Number)
  .pipe(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER));
const sourceId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a source id: lower-case letters, digits and dashes, at most 63');
const booleanText = z.enum(['true', 'false']).transform((v) => v === 'true');
const timestampInput = z.iso
  .datetime({ offset: true })
  .transform((s) => new Date(s))
  .refine((d) => d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999, 'a year between 1 and 9999');
const limit = (max: number, byDefault: number) =>
  z.coerce.number().int().min(1).max(max).default(byDefault).describe(`page size, 1–${max}`);
/** Rows an offset may skip: PostgreSQL reads and throws away every skipped row, so deeper pages go by cursor. */
export const MAX_OFFSET = 10_000;
const offset = z.coerce
  .number()
  .int()
  .min(0)
  .max(MAX_OFFSET, `at most ${MAX_OFFSET}: page deeper with cursor (the next_cursor of the previous page)`)
  .default(0)
  .describe(`rows to skip, at most ${MAX_OFFSET} (deeper pages: cursor)`);
const cursor = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9_-]+$/, 'a next_cursor value from a previous page')
  .describe('opaque keyset cursor: the next_cursor of the previous page, requested with the same filters');

export const IdParams = z.object({ id: positiveId.describe('numeric id').meta({ examples: ['1'] }) }).strict();
/** Per app: the example is the configured schedule id, so generated requests reach the real schedule. */
export const scheduleParams = (scheduleId: string) =>
  z
    .object({
      scheduleId: text(200)
        .describe(`the ingest schedule id (ETL_SCHEDULE_ID, here ${scheduleId})`)
        .meta({ examples: [scheduleId] }),
    })
    .strict();

export const RECORD_SORTS = ['id', '-id'] as const;

export const DataQuery = z
  .object({
    limit: limit(1000, 50),
    offset,
    cursor: cursor.optional(),
    source: sourceId.optional().describe('only this source'),
    kind: z.enum(RECORD_KINDS).optional(),
    symbol: text(40).optional().describe('asset symbol, case-insensitive'),
    entity_id: positiveId.optional().describe('only records linked to this canonical entity'),
    updated_since: timestampInput
      .optional()
      .describe('only records written at or after this ISO 8601 timestamp (with offset or Z)'),
    include_deleted: booleanText.default(false).describe('also soft-deleted records'),
    sort: z.enum(RECORD_SORTS).default('id').describe('id ascending, or -id descending'),
  })
  .strict();
export type DataQuery = z.output<typeof DataQuery>;

export const EntitiesQuery = z
  .object({
    limit: limit(1000, 50),
    offset,
    cursor: cursor.optional(),
    kind: z.enum(RECORD_KINDS).optional(),
    symbol: text(40).optional().describe('entity symbol, case-insensitive'),
    min_sources: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('only entities described by live records of at least this many sources'),
  })
  .strict();
export type EntitiesQuery = z.output<typeof EntitiesQuery>;

export const RunsQuery = z
  .object({
    limit: limit(1000, 20),
    offset,
    source: sourceId.optional().describe('only runs that ingested this source'),
    status: z.enum(RUN_STATUSES).optional(),
  })
  .strict();
export type RunsQuery = z.output<typeof RunsQuery>;

export const CompareQuery = z
  .object({
    run_id_1: positiveId.describe('the reference run').meta({ examples: ['1'] }),
    run_id_2: positiveId.describe('the run checked against it').meta({ examples: ['2'] }),
  })
  .strict();

export const AnomaliesQuery = z
  .object({
    run_id: positiveId
      .optional()
      .describe('the run to check; the latest run when absent')
      .meta({ examples: ['2'] }),
  })
  .strict();

/** Asked of a series with interval=5m|1h|1d|1w: more buckets than this is a 400 (a wider interval, or a shorter span). */
export const MAX_BUCKETS = 2000;
export const SERIES_INTERVALS = ['raw', ...(Object.keys(INTERVALS) as (keyof typeof INTERVALS)[])] as const;
const seriesRange = {
  from: timestampInput
    .optional()
    .describe('observations at or after this ISO 8601 time (with offset or Z); buckets: aligned down to the interval'),
  to: timestampInput.optional().describe('observations before this time; default: just after the newest observation'),
  format: z
    .enum(['json', 'csv'])
    .optional()
    .describe(
      'csv is the same as Accept: text/csv (for tools that cannot set headers, e.g. a spreadsheet importing a URL)',
    ),
};
const seriesPage = {
  limit: limit(10_000, 1000),
  cursor: cursor.optional(),
};

export const QuotesQuery = z
  .object({
    interval: z
      .enum(SERIES_INTERVALS)
      .default('raw')
      .describe(
        `raw: observations, paged; 5m, 1h, 1d, 1w: OHLC buckets per source with the cross-source median and spread (at most ${MAX_BUCKETS})`,
      ),
    source: sourceId.optional().describe('only this source'),
    ...seriesRange,
    ...seriesPage,
  })
  .strict();
export type QuotesQuery = z.output<typeof QuotesQuery>;

export const HistoryQuery = z.object({ ...seriesRange, ...seriesPage }).strict();
export type HistoryQuery = z.output<typeof HistoryQuery>;

export const EmptyQuery = z.object({}).strict();

export const StartRunBody = z
  .object({
    source_ids: z
      .array(sourceId)
      .min(1)
      .max(100)
      .optional()
      .describe('ingest only these sources; every configured source when absent'),
  })
  .strict();
export const SourceParams = z
  .object({ id: sourceId.describe('a source id of the sources file').meta({ examples: ['a'] }) })
  .strict();
export const ApproveShrinkBody = z
  .object({ note: text(500).optional().describe('why the source shrank; kept in the logs') })
  .strict();
export const ScheduleNoteBody = z
  .object({ note: text(500).optional().describe('why; shown in the Temporal Web UI') })
  .strict();

// operator inputs: quarantine, drift, identity review and overrides, reprocessing

const keysetPage = (max: number, byDefault: number) => ({ limit: limit(max, byDefault), cursor: cursor.optional() });

export const QuarantineQuery = z
  .object({
    ...keysetPage(1000, 50),
    source: sourceId.optional().describe('only this source'),
    run_id: positiveId.optional().describe('only rows of this run'),
    reason: text(200).optional().describe('only rows whose reason contains this text (case-insensitive)'),
  })
  .strict();
export type QuarantineQuery = z.output<typeof QuarantineQuery>;

export const DriftEventsQuery = z
  .object({
    ...keysetPage(1000, 50),
    source: sourceId.optional().describe('only this source'),
    run_id: positiveId.optional().describe('only events of this run'),
  })
  .strict();
export type DriftEventsQuery = z.output<typeof DriftEventsQuery>;

export const ReviewQuery = z.object({ ...keysetPage(1000, 50), kind: z.enum(RECORD_KINDS).optional() }).strict();
export type ReviewQuery = z.output<typeof ReviewQuery>;

export const OverridesQuery = z
  .object({
    ...keysetPage(1000, 1000),
    kind: z.enum(RECORD_KINDS).optional(),
    include_removed: booleanText.default(false).describe('also overrides an operator removed (kept as history)'),
  })
  .strict();
export type OverridesQuery = z.output<typeof OverridesQuery>;

const recordRef = z
  .object({
    source: sourceId.describe('the source id of the record'),
    key: text(LIMITS.text.articleKey.chars).describe("the record's source key (source_key in GET /data)"),
  })
  .strict();
// the example names records of the API tests' seed (test/schemathesis/seed.ts), so a generated request reaches
// real ones; examples per field would be mixed into pairs of one record with itself
export const OverrideBody = z
  .object({
    kind: z.enum(RECORD_KINDS).describe('the kind both records are of'),
    action: z.enum(OVERRIDE_ACTIONS).describe('force: the two records are the same thing; forbid: never the same'),
    left: recordRef,
    right: recordRef,
    reason: text(500).optional().describe('why; kept with the override'),
  })
  .strict()
  .meta({
    examples: [
      {
        kind: 'asset',
        action: 'forbid',
        left: { source: 'a', key: 'key-6' },
        right: { source: 'b', key: 'key-3' },
        reason: 'two coins',
      },
    ],
  });
export type OverrideBody = z.output<typeof OverrideBody>;

export const ReprocessBody = z
  .object({
    run_id: z
      .number()
      .int()
      .min(1)
      .max(Number.MAX_SAFE_INTEGER)
      .describe('the run whose stored payloads are normalized again'),
    source_ids: z
      .array(sourceId)
      .min(1)
      .max(100)
      .optional()
      .describe('only these sources of the run; every source with a stored payload when absent'),
    dry_run: z.boolean().default(false).describe('report what the merge would change, write nothing'),
  })
  .strict();

// --------------------------------------------------------------------------------------------- outputs

const timestamp = z.iso.datetime();
const int = z.number().int();
const count = z.number().int().min(0);
const decimal = z.string().nullable().describe('exact decimal, as a string');
const metaShape = {
  request_id: z.string().describe('the X-Request-Id of this request'),
  api_latency_ms: z.number().min(0).describe('time spent serving this request'),
};

export const Problem = named(
  'Problem',
  z.object({
    type: z.string(),
    title: z.string(),
    status: int,
    detail: z.string(),
    invalid_params: z.array(z.object({ name: z.string(), reason: z.string() })).optional(),
    request_id: z.string(),
  }),
  'RFC 9457 problem details',
);

const recordCommon = {
  id: int,
  source: z.string(),
  source_key: z.string(),
  source_updated_at: timestamp.nullable(),
  run_id: int.describe('the run that last wrote the record'),
  first_run_id: int,
  raw_payload_id: int,
  raw_position: int.describe('position of the record in its raw payload'),
  created_at: timestamp,
  updated_at: timestamp,
  deleted_at: timestamp.nullable(),
};
export const AssetRecord = named(
  'AssetRecord',
  z.object({
    ...recordCommon,
    kind: z.literal('asset'),
    symbol: z.string().nullable(),
    name: z.string().nullable(),
    rank: int.nullable(),
    price_usd: decimal,
    market_cap_usd: decimal,
    volume_24h_usd: decimal,
    circulating_supply: decimal,
    total_supply: decimal,
    max_supply: decimal,
    percent_change_24h: decimal,
    open_usd: decimal,
    high_usd: decimal,
    low_usd: decimal,
    observed_at: timestamp.describe(
      'when the source said this (its timestamp, else the fetch time): the newest observation of the key',
    ),
  }),
);
export const ArticleRecord = named(
  'ArticleRecord',
  z.object({
    ...recordCommon,
    kind: z.literal('article'),
    title: z.string().nullable(),
    url: z.string().nullable(),
    summary: z.string().nullable(),
    author: z.string().nullable(),
    published_at: timestamp.nullable(),
  }),
);
export const DataRecord = named('DataRecord', z.discriminatedUnion('kind', [AssetRecord, ArticleRecord]));

const page = {
  total: count.describe('rows matching the filters: exact below 10,000, else the planner estimate (see total_exact)'),
  total_exact: z.boolean().describe('false when total is an estimate from table statistics'),
  limit: int,
  offset: count,
  next_cursor: z.string().nullable().describe('pass as cursor for the next page; null on the last page'),
};

export const DataPage = named('DataPage', z.object({ data: z.array(DataRecord), ...page, ...metaShape }));

/** The run's Temporal Web UI link, which works only while the namespace keeps its history. */
const historyShape = {
  ui_url: z
    .string()
    .nullable()
    .describe(
      "the workflow execution in the Temporal Web UI; null once its history is past the namespace's retention (history_expired)",
    ),
  history_expires_at: timestamp
    .nullable()
    .describe(
      "when Temporal deletes the run's history: finished_at plus the namespace's current retention (Temporal applies the retention in force when the run closed, so after a change this is an estimate for older runs); null while it runs or while Temporal does not say its retention",
    ),
  history_expired: z
    .boolean()
    .describe("the run is older than the namespace's retention: Temporal (and its Web UI) no longer has its history"),
};

export const RunRef = named(
  'RunRef',
  z.object({
    id: int,
    workflow_id: z.string(),
    temporal_run_id: z.string(),
    status: z.enum(RUN_STATUSES),
    started_at: timestamp,
    finished_at: timestamp.nullable(),
    ...historyShape,
  }),
);

export const EntityLinkInfo = named(
  'EntityLinkInfo',
  z.object({
    entity_id: int,
    rule: z.string(),
    confidence: z.number(),
    evidence: z.record(z.string(), z.unknown()),
    run_id: int,
    linked_at: timestamp,
  }),
);

export const RecordDetail = named(
  'RecordDetail',
  z.object({
    data: DataRecord,
    lineage: z.object({
      raw_payload: z
        .object({
          id: int,
          url: z.string(),
          fetched_at: timestamp,
          http_status: int.nullable(),
          content_type: z.string().nullable(),
          content_hash: z.string().nullable(),
          size_bytes: count,
          status: z.enum(PAYLOAD_STATUSES),
        })
        .nullable(),
      raw_position: int,
      run: RunRef.nullable(),
      first_run_id: int,
      deleted_run_id: int.nullable(),
    }),
    entity_link: EntityLinkInfo.nullable(),
    quarantine: z
      .array(
        z.object({
          id: int,
          run_id: int,
          reason: z.string(),
          raw_payload_id: int,
          raw_position: int,
          created_at: timestamp,
        }),
      )
      .describe('the latest quarantined rows with the same source and key, newest first (at most 10)'),
    field_issues: z
      .array(z.object({ run_id: int, field: z.string(), value: z.string(), reason: z.string() }))
      .describe(
        'the optional fields of the row the record was last written from that it could not keep (stored as null): the field, the value the source sent (JSON) and why',
      ),
    ...metaShape,
  }),
);

export const CanonicalEntity = named(
  'Entity',
  z.object({
    id: int,
    kind: z.enum(RECORD_KINDS),
    symbol: z.string().nullable(),
    name: z.string().nullable(),
    title: z.string().nullable(),
    url: z.string().nullable(),
    seed_record_id: int,
    created_at: timestamp,
    sources: z.array(z.string()).describe('sources with a live record linked to the entity'),
  }),
);
export const EntityPage = named('EntityPage', z.object({ data: z.array(CanonicalEntity), ...page, ...metaShape }));

export const Observation = named(
  'Observation',
  z.object({
    observed_at: z.iso.datetime({ precision: 6 }).describe('when the source said it (microseconds, UTC)'),
    source: z.string(),
    record_id: int,
    price_usd: decimal,
    market_cap_usd: decimal,
    volume_24h_usd: decimal,
    circulating_supply: decimal,
    total_supply: decimal,
    max_supply: decimal,
    percent_change_24h: decimal,
    rank: int.nullable(),
    open_usd: decimal,
    high_usd: decimal,
    low_usd: decimal,
    run_id: int.describe('the run that wrote it (GET /runs/:id has its Temporal Web UI link)'),
    raw_payload_id: int,
    raw_position: int,
  }),
);
const seriesMeta = {
  from: timestamp,
  to: timestamp,
  raw_from: timestamp.nullable().describe('observations before this exist only as daily rollups (null: all are raw)'),
};
export const ObservationPage = named(
  'ObservationPage',
  z.object({
    interval: z.literal('raw'),
    data: z.array(Observation),
    limit: int,
    next_cursor: z.string().nullable().describe('pass as cursor for the next page; null on the last page'),
    ...seriesMeta,
    ...metaShape,
  }),
);
export const Bucket = named(
  'Bucket',
  z.object({
    start: timestamp,
    end: timestamp,
    sources: z.array(
      z.object({
        source: z.string(),
        record_id: int,
        open_usd: decimal,
        high_usd: decimal,
        low_usd: decimal,
        close_usd: decimal,
        mean_usd: decimal,
        volume_24h_usd: decimal.describe("the bucket's last 24 h volume (a rolling figure, not a sum)"),
        observations: count,
      }),
    ),
    median_usd: decimal.describe("the median of the sources' closes; null below two sources"),
    spread: z.number().nullable().describe('(highest close − lowest close) / median; null below two sources'),
  }),
);
export const BucketSeries = named(
  'BucketSeries',
  z.object({
    interval: z.enum(Object.keys(INTERVALS) as [keyof typeof INTERVALS]),
    data: z.array(Bucket),
    ...seriesMeta,
    ...metaShape,
  }),
);
export const EntityQuotes = named('EntityQuotes', z.union([ObservationPage, BucketSeries]));
export const Anomaly = named(
  'Anomaly',
  z.object({
    rule: z.enum(ANOMALY_RULES),
    source: z.string().nullable(),
    message: z.string(),
    current: z.number().nullable(),
    reference: z.number().nullable(),
    entity_id: int.nullable().optional().describe('price_divergence: the entity'),
    details: z
      .record(z.string(), z.unknown())
      .nullable()
      .optional()
      .describe("price_divergence: each source's price and time, the median and the spread"),
  }),
);

export const EntityDetail = named(
  'EntityDetail',
  z.object({
    data: CanonicalEntity,
    records: z.array(z.object({ record: DataRecord, link: EntityLinkInfo })),
    anomalies: z
      .array(Anomaly.extend({ run_id: int }))
      .describe('the latest price divergences across its sources (newest first, at most 20)'),
    ...metaShape,
  }),
);

export const RunSourceInfo = named(
  'RunSource',
  z.object({
    source: z.string(),
    status: z.enum(SOURCE_RUN_STATUSES),
    started_at: timestamp,
    finished_at: timestamp.nullable(),
    duration_ms: count.nullable(),
    payload_id: int.nullable(),
    fetched_bytes: count,
    fetched_pages: count,
    parsed: count,
    staged: count,
    inserted: count,
    updated: count,
    unchanged: count,
    duplicates: count,
    quarantined: count,
    field_issues: count.describe(
      'values of optional fields the staged records could not keep: stored as null, with the value and the reason in GET /data/{id}',
    ),
    warnings: z
      .array(z.string())
      .describe(
        'what the source run should tell an operator although it succeeded: a payload with no records, times without a zone read as UTC',
      ),
    soft_deleted: count,
    restored: count,
    drift_events: count,
    entities_linked: count,
    entities_created: count,
    series: z.enum(SERIES_KINDS).nullable().describe('assets: read as a snapshot of current quotes or as a history'),
    quotes_appended: count.describe('observations added to the time series'),
    quotes_revised: count.describe('observations corrected: the source re-sent their time with other values'),
    quotes_rolled_up: count.describe('observations older than the raw retention, added to the daily rollup'),
    delete_guard: z.string().nullable(),
    error: z.string().nullable(),
    attempts: z
      .record(z.string(), count)
      .describe('attempts per stage, e.g. {"fetchSource": 2}: more than 1 means it was retried'),
    attempt_errors: z
      .array(z.object({ stage: z.string(), attempt: count, error: z.string(), at: z.string() }))
      .describe('failures of attempts that were retried or gave up (latest 20)'),
  }),
);
const runShape = {
  id: int,
  workflow_id: z.string(),
  temporal_run_id: z.string(),
  status: z.enum(RUN_STATUSES),
  started_at: timestamp,
  finished_at: timestamp.nullable(),
  duration_ms: count.nullable(),
  error: z.string().nullable(),
  ...historyShape,
  reprocess_of: int.nullable().describe('a reprocess: the run whose stored payloads it normalized again'),
  dry_run: z
    .boolean()
    .describe('a reprocess dry run: it changed nothing, and lists, statistics, metrics and baselines leave it out'),
};
export const RunBrief = named('RunBrief', z.object(runShape));
export const RunInfo = named('Run', z.object({ ...runShape, sources: z.array(RunSourceInfo) }));
export const RunPage = named(
  'RunPage',
  z.object({ data: z.array(RunInfo), total: count, limit: int, offset: count, ...metaShape }),
);
export const RunDetail = named(
  'RunDetail',
  z.object({
    data: RunInfo,
    errors: z
      .array(z.object({ source: z.string().nullable(), message: z.string() }))
      .describe('the run error and each failed source, and delete guards that held'),
    anomalies: z
      .array(Anomaly)
      .describe(
        'what the run showed against the recent history of its sources, and prices that diverge across sources, stored when it finished',
      ),
    progress: z
      .array(
        z.object({
          source: z.string(),
          stage: z
            .string()
            .describe(
              "the source's current stage (fetch, store raw, normalize, dedupe, soft-delete orphans, link entities) or its outcome",
            ),
          records: count
            .nullable()
            .describe(
              'records (or pages, while fetching) the running stage has got through so far; null when it has not said yet',
            ),
          attempt: int.nullable(),
        }),
      )
      .nullable()
      .describe(
        "while the run runs: each source's stage and how far it is, from the workflow and its running activities (null once it has ended or when Temporal is unreachable)",
      ),
    ...metaShape,
  }),
);

export const RunHistory = named(
  'RunHistory',
  z.object({
    data: z.object({
      run_id: int,
      workflow_id: z.string(),
      temporal_run_id: z.string(),
      workflow_type: z.string().nullable(),
      status: z.enum(['running', 'completed', 'failed', 'canceled', 'terminated', 'continued_as_new', 'timed_out']),
      started_at: timestamp.nullable(),
      closed_at: timestamp.nullable(),
      duration_ms: count.nullable(),
      event_count: count,
      failure: z.string().nullable(),
      activities: z.array(
        z.object({
          type: z.string(),
          scheduled: count,
          completed: count,
          failed: count,
          timed_out: count,
          canceled: count,
          running: count,
          attempts: count.describe('attempts summed over every scheduled activity of this type'),
          retries: count.describe('attempts beyond the first'),
          total_duration_ms: count.describe('scheduled to closed, summed, retries and backoff included'),
          max_duration_ms: count,
          failures: z.array(z.string()).describe('distinct failure messages, including those of retried attempts'),
        }),
      ),
      ui_url: z.string(),
    }),
    ...metaShape,
  }),
);

const delta = int.nullable();
export const CompareRuns = named(
  'CompareRuns',
  z.object({
    run_1: RunBrief,
    run_2: RunBrief,
    duration_ms_delta: int.nullable(),
    sources: z.array(
      z.object({
        source: z.string(),
        run_1: RunSourceInfo.nullable(),
        run_2: RunSourceInfo.nullable(),
        delta: z.object({
          parsed: delta,
          inserted: delta,
          updated: delta,
          unchanged: delta,
          duplicates: delta,
          quarantined: delta,
          soft_deleted: delta,
          fetched_bytes: delta,
          duration_ms: delta,
        }),
        anomalies: z.array(Anomaly),
      }),
    ),
    anomalies: z.array(Anomaly),
    ...metaShape,
  }),
);

const facts = z.object({
  records: count.nullable(),
  quarantine_share: z.number().nullable(),
  duration_ms: count.nullable(),
});
export const RunAnomalies = named(
  'RunAnomalies',
  z.object({
    run: RunBrief.nullable(),
    window: int.describe('completed runs per source the baseline is the median of (at most)'),
    sources: z.array(
      z.object({
        source: z.string(),
        status: z.enum(SOURCE_RUN_STATUSES),
        current: facts,
        baseline: facts.extend({ runs: count }),
        anomalies: z.array(Anomaly),
      }),
    ),
    anomalies: z.array(Anomaly),
    ...metaShape,
  }),
);

const durationStats = z.object({
  avg: z.number().nullable(),
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  max: z.number().nullable(),
});
export const Stats = named(
  'Stats',
  z.object({
    sources: z.array(
      z.object({
        source: z.string(),
        runs: z.object({ total: count, succeeded: count, unchanged: count, failed: count, running: count }),
        records_processed: count.describe('records parsed over all runs'),
        inserted: count,
        updated: count,
        unchanged: count,
        quarantined: count,
        soft_deleted: count,
        drift_events: count,
        duration_ms: durationStats,
        last_success: z.object({ run_id: int, finished_at: timestamp.nullable() }).nullable(),
        last_failure: z
          .object({ run_id: int, finished_at: timestamp.nullable(), error: z.string().nullable() })
          .nullable(),
      }),
    ),
    totals: z.object({
      records: z.object({ live: count, deleted: count }),
      records_by_source: z.array(
        z.object({ source: z.string(), kind: z.enum(RECORD_KINDS), live: count, deleted: count }),
      ),
      entities: z.object({ total: count, by_kind: z.array(z.object({ kind: z.enum(RECORD_KINDS), count })) }),
      quarantine: z.object({ total: count, by_source: z.array(z.object({ source: z.string(), count })) }),
      drift_events: z.object({
        total: count,
        by_source: z.array(
          z.object({ source: z.string(), change: z.enum(DRIFT_CHANGES), action: z.enum(DRIFT_ACTIONS), count }),
        ),
      }),
      runs: z.object({ total: count, by_status: z.array(z.object({ status: z.enum(RUN_STATUSES), count })) }),
    }),
    ...metaShape,
  }),
);

export const ScheduleState = named(
  'ScheduleState',
  z.object({
    id: z.string(),
    paused: z.boolean(),
    note: z.string().nullable(),
    next_action_times: z.array(timestamp),
  }),
);
export const ScheduleResponse = named('ScheduleResponse', z.object({ data: ScheduleState, ...metaShape }));

export const SupervisedProcesses = z
  .array(
    z.object({
      name: z.string(),
      pid: int.nullable(),
      restarts: count,
      last_exit: z.string().nullable(),
      started_at: timestamp,
    }),
  )
  .nullable()
  .describe(
    "make dev's processes: pid (null while it is being restarted), restarts and how the last one ended; null when not under make dev",
  );

export const Health = named(
  'Health',
  z.object({
    status: z.enum(['ok', 'degraded']),
    database: z.enum(['up', 'down']),
    temporal: z.enum(['up', 'down']),
    schedule: ScheduleState.extend({ found: z.literal(true) })
      .or(z.object({ id: z.string(), found: z.literal(false) }))
      .nullable()
      .describe('null when Temporal is down'),
    last_run: z
      .object({
        id: int,
        workflow_id: z.string(),
        status: z.enum(RUN_STATUSES),
        started_at: timestamp,
        finished_at: timestamp.nullable(),
        sources: z.array(
          z.object({
            source: z.string(),
            status: z.enum(SOURCE_RUN_STATUSES),
            inserted: count,
            updated: count,
            unchanged: count,
            quarantined: count,
          }),
        ),
      })
      .nullable(),
    sources: z
      .array(
        z.object({
          source: z.string(),
          run_id: int,
          status: z.enum(SOURCE_RUN_STATUSES),
          started_at: timestamp,
          finished_at: timestamp.nullable(),
          parsed: count,
          inserted: count,
          updated: count,
          unchanged: count,
          quarantined: count,
          error: z.string().nullable(),
        }),
      )
      .describe("each source's latest run"),
    processes: SupervisedProcesses,
    ...metaShape,
  }),
);

export const RunStarted = named(
  'RunStarted',
  z.object({
    workflow_id: z.string(),
    temporal_run_id: z.string(),
    source_ids: z.array(z.string()).nullable(),
    ui_url: z.string(),
    ...metaShape,
  }),
);

export const ShrinkApproved = named(
  'ShrinkApproved',
  z.object({
    source: z.string(),
    shrink_approved_at: timestamp.describe(
      "the next snapshot of the source may delete what it lacks without the delete guard's ratio, once",
    ),
    ...metaShape,
  }),
);

// ------------------------------------------------------------------------------------------- operator

const keysetFields = {
  limit: int,
  next_cursor: z.string().nullable().describe('pass as cursor for the next page; null on the last page'),
};

const sourceRunOutcome = z.object({
  run_id: int,
  status: z.enum(SOURCE_RUN_STATUSES),
  started_at: timestamp,
  finished_at: timestamp.nullable(),
  parsed: count,
  staged: count,
  quarantined: count,
  inserted: count,
  updated: count,
  unchanged: count,
  soft_deleted: count,
  error: z.string().nullable(),
});
export const SourceInfo = named(
  'Source',
  z.object({
    id: z.string(),
    kind: z.enum(SOURCE_KINDS),
    record_kind: z.enum(RECORD_KINDS).describe('what its records are'),
    delete_policy: z.enum(['snapshot', 'never']),
    series: z
      .enum(['auto', 'snapshot', 'history'])
      .optional()
      .describe('asset sources: read as a snapshot of current quotes, a history, or decided from the payload (auto)'),
    url: z
      .string()
      .describe(
        'where it is fetched from: scheme, host and path of a URL (never its query or credentials), or the file path as the sources file names it',
      ),
    last_run: sourceRunOutcome
      .nullable()
      .describe(
        "the source's outcome in the latest run that included it (reprocess dry runs left out); null when none has",
      ),
  }),
);
export const SourceList = named('SourceList', z.object({ data: z.array(SourceInfo), ...metaShape }));

export const QuarantineItem = named(
  'QuarantinedRecord',
  z.object({
    id: int,
    run_id: int,
    source: z.string(),
    source_key: z.string().nullable().describe('null when the record was refused before its key could be read'),
    raw_payload_id: int,
    raw_position: int.describe('position of the record in its raw payload'),
    reason: z.string(),
    fields: z.unknown().describe('the fields as the source sent them'),
    created_at: timestamp,
  }),
);
export const QuarantinePage = named(
  'QuarantinePage',
  z.object({ data: z.array(QuarantineItem), ...keysetFields, ...metaShape }),
);
export const QuarantineDetail = named('QuarantineDetail', z.object({ data: QuarantineItem, ...metaShape }));

export const DriftEventInfo = named(
  'DriftEvent',
  z.object({
    id: int,
    run_id: int,
    source: z.string(),
    field: z.string().describe('the field (for a rename: its new name)'),
    change: z.enum(DRIFT_CHANGES),
    action: z
      .enum(DRIFT_ACTIONS)
      .describe('what the drift policy did: applied (a rename followed), reported, quarantined'),
    previous_field: z.string().nullable().describe('renamed: the name it had'),
    previous_type: z.string().nullable().describe('the value type the previous run saw'),
    current_type: z.string().nullable().describe('the value type this run saw'),
    confidence: z.number().nullable().describe('renamed: how sure the rename is'),
    created_at: timestamp,
  }),
);
export const DriftEventPage = named(
  'DriftEventPage',
  z.object({ data: z.array(DriftEventInfo), ...keysetFields, ...metaShape }),
);

const reviewSide = {
  source: z.string(),
  source_key: z.string(),
  symbol: z.string().nullable(),
  name: z.string().nullable(),
  title: z.string().nullable(),
};
export const ReviewItem = named(
  'IdentityReview',
  z.object({
    record: z.object({ id: int.describe('the record left on its own (GET /data/{id})'), ...reviewSide }),
    candidate: z.object({
      entity_id: int.describe("the candidate's entity now"),
      record_id: int.describe('the record of another source it came closest to'),
      ...reviewSide,
    }),
    reason: z
      .enum(['near_miss', 'ambiguous', 'lost_to'])
      .describe(
        'near_miss: the best candidate scored below the link threshold; ambiguous: two entities scored alike; lost_to: another record of the same source took the entity',
      ),
    confidence: z.number().describe("the candidate's score (near misses are below the link threshold)"),
    evidence: z
      .record(z.string(), z.unknown())
      .describe(
        'what the score is made of (symbols, names and their similarity, market, titles and time apart), and for ambiguous the tied entities, for lost_to the record that took it',
      ),
  }),
);
export const ReviewPage = named(
  'IdentityReviewPage',
  z.object({ data: z.array(ReviewItem), ...keysetFields, ...metaShape }),
);

const overrideSide = z.object({ source: z.string(), key: z.string() });
export const OverrideInfo = named(
  'Override',
  z.object({
    id: int,
    kind: z.enum(RECORD_KINDS),
    action: z.enum(OVERRIDE_ACTIONS),
    left: overrideSide,
    right: overrideSide,
    reason: z.string().nullable(),
    created_at: timestamp.describe('when it was made (or made again after a removal)'),
    removed_at: timestamp.nullable().describe('when an operator removed it: no longer applied, kept as history'),
  }),
);
export const OverridePage = named(
  'OverridePage',
  z.object({ data: z.array(OverrideInfo), ...keysetFields, ...metaShape }),
);
export const OverrideResponse = named('OverrideResponse', z.object({ data: OverrideInfo, ...metaShape }));

export const ReprocessStarted = named(
  'ReprocessStarted',
  z.object({
    workflow_id: z.string(),
    temporal_run_id: z.string(),
    run_id: int.describe('the run whose payloads are reprocessed (the reprocess gets a run of its own)'),
    source_ids: z.array(z.string()).nullable(),
    dry_run: z.boolean(),
    ui_url: z.string(),
    ...metaShape,
  }),
);
