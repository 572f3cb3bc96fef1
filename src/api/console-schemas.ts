// Request and response shapes of the few endpoints the web console needs beyond the rest of the API: each
// source's recent runs, entity search by symbol or name, and where the Temporal Web UI is.
import { z } from 'zod';
import { RECORD_KINDS, SOURCE_RUN_STATUSES } from '../db/entities.ts';
import { components } from './schemas.ts';

const named = <T extends z.ZodType>(id: string, schema: T): T => {
  components.add(schema as z.ZodType, { id });
  return schema;
};
const int = z.number().int();
const count = z.number().int().min(0);
const metaShape = {
  request_id: z.string().describe('the X-Request-Id of this request'),
  api_latency_ms: z.number().min(0).describe('time spent serving this request'),
};

/** Runs a trend may cover: a sparkline wider than this says nothing more. */
export const MAX_TREND_RUNS = 100;

export const SourceTrendsQuery = z
  .object({
    runs: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_TREND_RUNS)
      .default(30)
      .describe(`runs per source, newest first, 1–${MAX_TREND_RUNS}`),
  })
  .strict();

export const SourceTrends = named(
  'SourceTrends',
  z.object({
    data: z.array(
      z.object({
        source: z.string(),
        runs: z.array(
          z.object({
            run_id: int,
            status: z.enum(SOURCE_RUN_STATUSES),
            started_at: z.iso.datetime(),
            duration_ms: count.nullable().describe('null while it runs'),
            parsed: count,
            quarantined: count,
            quarantine_share: z.number().nullable().describe('quarantined / parsed; null when nothing was parsed'),
            live_records: count.nullable().describe("the source's live records after the run (null: not recorded)"),
          }),
        ),
      }),
    ),
    ...metaShape,
  }),
);

export const EntitySearchQuery = z
  .object({
    q: z
      .string()
      .trim()
      .min(1)
      .max(100)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is this rule's purpose
      .regex(/^[^\x00-\x1f\x7f]+$/, 'control characters are not allowed')
      .describe('a symbol (exact, any case) or part of a name or title'),
    limit: z.coerce.number().int().min(1).max(50).default(20).describe('matches to return, 1–50'),
  })
  .strict();

export const EntitySearch = named(
  'EntitySearch',
  z.object({
    data: z.array(
      z.object({
        id: int,
        kind: z.enum(RECORD_KINDS),
        symbol: z.string().nullable(),
        name: z.string().nullable(),
        title: z.string().nullable(),
        live_sources: count.describe('sources with a live record linked to the entity'),
      }),
    ),
    ...metaShape,
  }),
);

export const TemporalLinks = named(
  'TemporalLinks',
  z.object({
    ui_url: z.string().nullable().describe('the Temporal Web UI (TEMPORAL_UI_URL); null when none is configured'),
    namespace: z.string(),
    schedule_url: z.string().nullable().describe('the ingest schedule in the Web UI'),
    workflows_url: z.string().nullable().describe("the namespace's workflow list in the Web UI"),
    ...metaShape,
  }),
);
