// POST /sources/:id/approve-shrink: an operator says a source's loss of records is real, so its next snapshot
// deletes what it lacks without the delete guard's ratio (once); the guard's baseline starts again from there.
import { meta, notFound, send } from '../http.ts';
import type { Routes } from '../operations.ts';
import { ApproveShrinkBody, ShrinkApproved, SourceParams } from '../schemas.ts';
import { approveShrink } from '../../db/queries.ts';
import type { Context } from './context.ts';

export function sourceRoutes(routes: Routes, { db }: Context): void {
  routes.add(
    {
      method: 'post',
      path: '/sources/:id/approve-shrink',
      operationId: 'approveShrink',
      tag: 'sources',
      summary: "Approve a deliberate shrink: the source's next snapshot deletes what it lacks, once, without the delete guard's ratio",
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
