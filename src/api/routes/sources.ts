// GET /sources: the configured sources and each one's last outcome. POST /sources/:id/approve-shrink: an
// operator says a source's loss of records is real, so its next snapshot deletes what it lacks without the
// delete guard's ratio (once); the guard's baseline starts again from there.
import { loadSourcesConfig, type SourceConfig } from '../../sources/config.ts';
import { meta, notFound, send, unavailable } from '../http.ts';
import type { Routes } from '../operations.ts';
import { ApproveShrinkBody, EmptyQuery, ShrinkApproved, SourceList, SourceParams } from '../schemas.ts';
import { sourceJson } from '../serialize.ts';
import { approveShrink, lastSourceRuns } from '../../db/queries.ts';
import type { Context } from './context.ts';

export function sourceRoutes(routes: Routes, { db, settings }: Context): void {
  routes.add(
    {
      method: 'get',
      path: '/sources',
      operationId: 'listSources',
      tag: 'sources',
      summary: "The configured sources (the sources file), each with its last run's outcome",
      description:
        'In the order of the sources file. last_run is the latest run that included the source, reprocess dry runs left out. A URL is shown without its query (which may carry a key). 503 when the API cannot read the sources file.',
      query: EmptyQuery,
      ok: { status: 200, description: 'The sources', schema: SourceList },
      errors: [503],
    },
    async (_input, req, res) => {
      let sources: SourceConfig[];
      try {
        sources = loadSourcesConfig(settings.ETL_SOURCES_FILE);
      } catch (error) {
        req.log.warn({ err: error }, 'cannot read the sources file');
        throw unavailable('the API cannot read its sources file (ETL_SOURCES_FILE); the server log says why');
      }
      const last = await lastSourceRuns(
        db.pool,
        sources.map((s) => s.id),
      );
      send(res, SourceList, { data: sources.map((s) => sourceJson(s, last.get(s.id))), ...meta(res) });
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/sources/:id/approve-shrink',
      operationId: 'approveShrink',
      tag: 'sources',
      summary:
        "Approve a deliberate shrink: the source's next snapshot deletes what it lacks, once, without the delete guard's ratio",
      description: 'The other guards (incomplete, empty or mostly quarantined snapshots) still hold. Needs X-API-Key.',
      params: SourceParams,
      body: ApproveShrinkBody,
      auth: true,
      ok: { status: 200, description: 'Approved', schema: ShrinkApproved },
      errors: [404],
    },
    async ({ params, body }, req, res) => {
      const approvedAt = await approveShrink(db.em(), params.id);
      if (!approvedAt) throw notFound(`no source ${params.id} has been merged yet`);
      req.log.info({ source: params.id, note: body.note }, 'shrink approved');
      send(res, ShrinkApproved, { source: params.id, shrink_approved_at: approvedAt.toISOString(), ...meta(res) });
    },
  );
}
