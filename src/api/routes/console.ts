// The web console at / (src/console: plain HTML, CSS and ES modules served as they are, no build step) and
// the few reads it needs that no other endpoint gives: each source's recent runs for the overview's
// sparklines, entity search by symbol or name, and where the Temporal Web UI is. The chart library (uPlot)
// is served from its npm package, so the console works offline.
import express from 'express';
import { createRequire } from 'node:module';
import path from 'node:path';
import { searchEntities, sourceTrends } from '../../db/queries/console.ts';
import { projectRoot } from '../../settings.ts';
import { loadSourcesConfig } from '../../sources/config.ts';
import { EntitySearch, EntitySearchQuery, SourceTrends, SourceTrendsQuery, TemporalLinks } from '../console-schemas.ts';
import { meta, send, unavailable } from '../http.ts';
import type { Routes } from '../operations.ts';
import type { Context } from './context.ts';

const CONSOLE_DIR = path.join(projectRoot, 'src', 'console');
const UPLOT_DIR = path.dirname(createRequire(import.meta.url).resolve('uplot'));

/** GET / (the console's page) and its assets under /console/. Mounted before the 404 handler. */
export function consoleAssets(app: express.Express): void {
  const label =
    (route: string): express.RequestHandler =>
    (_req, res, next) => {
      res.locals.route = route;
      next();
    };
  app.get('/', label('/'), (_req, res) => {
    // the page is tiny and changes with the code: always asked again, never a stale shell
    res.set('Cache-Control', 'no-cache');
    res.sendFile(path.join(CONSOLE_DIR, 'index.html'));
  });
  app.use('/console/vendor', label('/console'), express.static(UPLOT_DIR, { index: false, maxAge: '1d' }));
  app.use('/console', label('/console'), express.static(CONSOLE_DIR, { index: false, maxAge: 0 }));
}

export function consoleRoutes(routes: Routes, { db, settings, links }: Context): void {
  routes.add(
    {
      method: 'get',
      path: '/sources/trends',
      operationId: 'sourceTrends',
      tag: 'sources',
      summary: "Each configured source's latest runs, newest first: outcome, duration, records and quarantined share",
      description:
        'In the order of the sources file; reprocess dry runs left out. What the console draws as sparklines. 503 when the API cannot read the sources file.',
      query: SourceTrendsQuery,
      ok: { status: 200, description: 'The runs of each source', schema: SourceTrends },
      errors: [503],
    },
    async ({ query }, req, res) => {
      let ids: string[];
      try {
        ids = loadSourcesConfig(settings.ETL_SOURCES_FILE).map((s) => s.id);
      } catch (error) {
        req.log.warn({ err: error }, 'cannot read the sources file');
        throw unavailable('the API cannot read its sources file (ETL_SOURCES_FILE); the server log says why');
      }
      const rows = await sourceTrends(db.pool, ids, query.runs);
      const data = ids.map((source) => ({
        source,
        runs: rows
          .filter((r) => r.source_id === source)
          .map((r) => ({
            run_id: Number(r.run_id),
            status: r.status,
            started_at: r.started_at,
            duration_ms: r.duration_ms === null ? null : Math.max(0, r.duration_ms),
            parsed: r.parsed,
            quarantined: r.quarantined,
            quarantine_share: r.parsed > 0 ? r.quarantined / r.parsed : null,
            live_records: r.live_after,
          })),
      }));
      send(res, SourceTrends, { data, ...meta(res) });
    },
  );

  // before /entities/:id, which would take "search" for an id
  routes.add(
    {
      method: 'get',
      path: '/entities/search',
      operationId: 'searchEntities',
      tag: 'entities',
      summary: 'Entities by symbol (exact, any case) or by part of their name or title',
      description: 'Exact symbols first, then the entities described by the most sources.',
      query: EntitySearchQuery,
      ok: { status: 200, description: 'The matches', schema: EntitySearch },
      // names are matched row by row
      costly: () => true,
    },
    async ({ query }, _req, res) => {
      const rows = await searchEntities(db.pool, query.q, query.limit);
      send(res, EntitySearch, { data: rows.map((r) => ({ ...r, id: Number(r.id) })), ...meta(res) });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/temporal-links',
      operationId: 'temporalLinks',
      tag: 'system',
      summary: "Where the Temporal Web UI shows this deployment's ingest schedule and workflows",
      ok: { status: 200, description: 'The links', schema: TemporalLinks },
    },
    (_input, _req, res) => {
      const base = (links.uiBase as string | null | undefined)?.replace(/\/+$/, '') || null;
      const namespace = encodeURIComponent(links.namespace);
      send(res, TemporalLinks, {
        ui_url: base,
        namespace: links.namespace,
        schedule_url:
          base && `${base}/namespaces/${namespace}/schedules/${encodeURIComponent(settings.ETL_SCHEDULE_ID)}`,
        workflows_url: base && `${base}/namespaces/${namespace}/workflows`,
        ...meta(res),
      });
    },
  );
}
