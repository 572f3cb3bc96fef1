// What an operator needs without SQL: quarantined records, schema drift, the identity review queue (records
// left on their own that came close to another source's), overrides to decide them, and reprocessing a run.
import { randomUUID } from 'node:crypto';
import {
  createOverride,
  getQuarantined,
  listDriftEvents,
  listOverrides,
  listQuarantine,
  listReview,
  removeOverride,
  runSourceIds,
} from '../../db/queries.ts';
import { reprocess } from '../../workflows/index.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { ProblemError, badRequest, meta, notFound, send } from '../http.ts';
import type { Routes } from '../operations.ts';
import {
  DriftEventPage,
  DriftEventsQuery,
  IdParams,
  OverrideBody,
  OverridePage,
  OverrideResponse,
  OverridesQuery,
  QuarantineDetail,
  QuarantinePage,
  QuarantineQuery,
  ReprocessBody,
  ReprocessStarted,
  ReviewPage,
  ReviewQuery,
} from '../schemas.ts';
import { driftEventJson, overrideJson, quarantineJson, reviewJson, workflowUiUrl } from '../serialize.ts';
import type { Context } from './context.ts';
import { assertKnownSources } from './runs.ts';

/** Where a newest-first page continues (before the cursor's id), and the page's paging fields. */
function keyset(query: { limit: number; cursor?: string }, filters: Record<string, unknown>) {
  return {
    after: query.cursor === undefined ? undefined : decodeCursor(query.cursor, filters),
    fields: (page: { hasMore: boolean }, lastId: number | undefined) => ({
      limit: query.limit,
      next_cursor: page.hasMore && lastId !== undefined ? encodeCursor(lastId, filters) : null,
    }),
  };
}

export function operatorRoutes(routes: Routes, { db, temporal, settings, links }: Context): void {
  routes.add(
    {
      method: 'get',
      path: '/quarantine',
      operationId: 'listQuarantine',
      tag: 'operator',
      summary: 'Quarantined records, newest first: the reason and the fields as the source sent them',
      description:
        'Rows of reprocess dry runs are left out. Page with cursor (the next_cursor of the previous page, same filters); a page also stops at about 4 MB of fields.',
      query: QuarantineQuery,
      ok: { status: 200, description: 'A page of quarantined records', schema: QuarantinePage },
      // a reason is matched in every row's text
      costly: ({ query }) => query.reason !== undefined,
    },
    async ({ query }, _req, res) => {
      const filter = { source: query.source, runId: query.run_id, reason: query.reason };
      const page = keyset(query, { ...filter, reason: filter.reason?.toLowerCase() });
      const found = await listQuarantine(db.pool, filter, { limit: query.limit, after: page.after });
      const data = found.rows.map(quarantineJson);
      send(res, QuarantinePage, { data, ...page.fields(found, data.at(-1)?.id), ...meta(res) });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/quarantine/:id',
      operationId: 'getQuarantined',
      tag: 'operator',
      summary: 'One quarantined record',
      params: IdParams,
      ok: { status: 200, description: 'The quarantined record', schema: QuarantineDetail },
      errors: [404],
    },
    async ({ params }, _req, res) => {
      const row = await getQuarantined(db.pool, params.id);
      if (!row) throw notFound(`no quarantined record ${params.id}`);
      send(res, QuarantineDetail, { data: quarantineJson(row), ...meta(res) });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/drift-events',
      operationId: 'listDriftEvents',
      tag: 'operator',
      summary:
        'Schema drift, newest first: fields added, removed, renamed or of another type, and what the drift policy did',
      description:
        'Events of reprocess dry runs are left out. Page with cursor (the next_cursor of the previous page, same filters).',
      query: DriftEventsQuery,
      ok: { status: 200, description: 'A page of drift events', schema: DriftEventPage },
    },
    async ({ query }, _req, res) => {
      const filter = { source: query.source, runId: query.run_id };
      const page = keyset(query, filter);
      const found = await listDriftEvents(db.pool, filter, { limit: query.limit, after: page.after });
      const data = found.rows.map(driftEventJson);
      send(res, DriftEventPage, { data, ...page.fields(found, data.at(-1)?.id), ...meta(res) });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/entities/review',
      operationId: 'reviewEntities',
      tag: 'operator',
      summary: 'Near misses of identity resolution, to decide with an override',
      description:
        'Records left on their own (a new entity) whose best candidate of another source scored between the review floor and the link threshold (near_miss), scored alike with another entity (ambiguous), or lost its entity to another record of the same source (lost_to). Newest record first; a pair an override has decided is left out. Page with cursor.',
      query: ReviewQuery,
      ok: { status: 200, description: 'A page of records to review, each with its best candidate', schema: ReviewPage },
      // reads the links of every entity until it has a page of records left alone
      costly: () => true,
    },
    async ({ query }, _req, res) => {
      const filter = { kind: query.kind };
      const page = keyset(query, filter);
      const found = await listReview(db.pool, filter, { limit: query.limit, after: page.after });
      const data = found.rows.map(reviewJson);
      send(res, ReviewPage, { data, ...page.fields(found, data.at(-1)?.record.id), ...meta(res) });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/overrides',
      operationId: 'listOverrides',
      tag: 'operator',
      summary: "Operators' identity decisions, newest first: two records forced together or forbidden to be one",
      description: 'Live overrides; with include_removed=true also removed ones (kept as history). Page with cursor.',
      query: OverridesQuery,
      ok: { status: 200, description: 'A page of overrides', schema: OverridePage },
    },
    async ({ query }, _req, res) => {
      const filter = { kind: query.kind, includeRemoved: query.include_removed };
      const page = keyset(query, filter);
      const found = await listOverrides(db.pool, filter, { limit: query.limit, after: page.after });
      const data = found.rows.map(overrideJson);
      send(res, OverridePage, { data, ...page.fields(found, data.at(-1)?.id), ...meta(res) });
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/overrides',
      operationId: 'createOverride',
      tag: 'operator',
      summary: 'Decide that two records are the same thing (force) or never the same (forbid)',
      description:
        "Applied at each source's next identity resolution (the next run, even when nothing changed). Both records must exist (404 naming which), be of `kind` and be two records (400); a force needs records of two sources (400). 409 when a live override says otherwise: the opposite decision about the pair (either way round), or a force of one of the records with another record of the other's source. The same decision again answers 200 with the override in force; deciding a pair whose override was removed makes it again (201). Needs X-API-Key.",
      body: OverrideBody,
      auth: true,
      ok: { status: 201, description: 'Made (or made again after its removal)', schema: OverrideResponse },
      also: {
        200: {
          description: 'The same decision about the pair was in force already: nothing changed',
          schema: OverrideResponse,
        },
      },
      errors: [404, 409],
    },
    async ({ body }, req, res) => {
      const result = await createOverride(db.pool, body);
      const name = (which: 'left' | 'right') => `${body[which].source}/${body[which].key}`;
      switch (result.outcome) {
        case 'missing':
          throw notFound(`${result.side}: no record ${name(result.side)}`);
        case 'wrong_kind':
          throw badRequest([
            {
              name: 'kind',
              reason: `${result.side} (${name(result.side)}) is an ${result.kind} record, not an ${body.kind}`,
            },
          ]);
        case 'same_record':
          throw badRequest([{ name: 'right', reason: 'the same record as left' }]);
        case 'same_source':
          throw badRequest([
            {
              name: 'right.source',
              reason:
                'an entity takes one record per source: force needs records of two sources (forbid two records of one source is allowed)',
            },
          ]);
        case 'contradicts': {
          const o = overrideJson(result.override);
          throw new ProblemError(
            409,
            `override ${o.id} says otherwise: ${o.action} ${o.left.source}/${o.left.key} with ${o.right.source}/${o.right.key}; remove it first (DELETE /overrides/${o.id})`,
          );
        }
        case 'exists':
          return send(res, OverrideResponse, { data: overrideJson(result.override), ...meta(res) }, 200);
        case 'created':
          req.log.info(
            { override: result.override.id, action: body.action, left: name('left'), right: name('right') },
            'override made',
          );
          return send(res, OverrideResponse, { data: overrideJson(result.override), ...meta(res) }, 201);
      }
    },
  );

  routes.add(
    {
      method: 'delete',
      path: '/overrides/:id',
      operationId: 'removeOverride',
      tag: 'operator',
      summary: 'Remove an override: its records are resolved by the rules again at the next run',
      description:
        'The override is kept as history (removed_at; GET /overrides?include_removed=true). 404 when there is no live override with this id. Needs X-API-Key.',
      params: IdParams,
      auth: true,
      ok: { status: 200, description: 'Removed', schema: OverrideResponse },
      errors: [404],
    },
    async ({ params }, req, res) => {
      const removed = await removeOverride(db.pool, params.id);
      if (!removed) throw notFound(`no live override ${params.id}`);
      req.log.info({ override: params.id }, 'override removed');
      send(res, OverrideResponse, { data: overrideJson(removed), ...meta(res) });
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/reprocess',
      operationId: 'startReprocess',
      tag: 'operator',
      summary:
        "Normalize a past run's stored payloads again with the current code (dry_run: only report what would change)",
      description: `Starts the reprocess workflow with id etl-reprocess-<uuid> on task queue ${settings.ETL_TASK_QUEUE}; the sources are not called. It gets a run of its own (GET /runs). 404 for an unknown run, 400 for source ids the run did not ingest or the sources file does not have. Needs X-API-Key.`,
      body: ReprocessBody,
      auth: true,
      ok: {
        status: 202,
        description: 'Started; follow it in the Temporal Web UI, or in GET /runs once its first activity ran',
        schema: ReprocessStarted,
      },
      errors: [404, 503],
    },
    async ({ body }, _req, res) => {
      const sourceIds = body.source_ids && [...new Set(body.source_ids)];
      const ingested = await runSourceIds(db.pool, body.run_id);
      if (!ingested) throw notFound(`no run ${body.run_id}`);
      if (sourceIds) {
        const notInRun = sourceIds.filter((id) => !ingested.includes(id));
        if (notInRun.length)
          throw badRequest([
            {
              name: 'source_ids',
              reason: `run ${body.run_id} did not ingest ${notInRun.join(', ')} (it ingested: ${ingested.join(', ') || 'nothing'})`,
            },
          ]);
        assertKnownSources(settings.ETL_SOURCES_FILE, sourceIds, 'no longer configured');
      }
      const workflowId = `etl-reprocess-${randomUUID()}`;
      const handle = await temporal.call(
        'start reprocess workflow',
        (client) =>
          client.workflow.start(reprocess, {
            taskQueue: settings.ETL_TASK_QUEUE,
            workflowId,
            args: [{ runId: body.run_id, sourceIds, dryRun: body.dry_run }],
            staticSummary: `${body.dry_run ? 'Dry run: what reprocessing' : 'Reprocess'} run ${body.run_id}${sourceIds ? ` (${sourceIds.join(', ')})` : ''}${body.dry_run ? ' would change' : ''}`,
          }),
        { timeoutMs: 5000 },
      );
      const runId = handle.firstExecutionRunId;
      send(
        res,
        ReprocessStarted,
        {
          workflow_id: workflowId,
          temporal_run_id: runId,
          run_id: body.run_id,
          source_ids: sourceIds ?? null,
          dry_run: body.dry_run,
          ui_url: workflowUiUrl(links.uiBase, links.namespace, workflowId, runId),
          ...meta(res),
        },
        202,
      );
    },
  );
}
