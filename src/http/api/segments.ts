import { Router, type Response } from 'express';
import { segmentMembers, segmentOf, segmentsOverview } from '../../operations/segments.js';
import type { OperationContext } from '../../operations/context.js';
import { csvRows } from '../../reports/csv.js';
import type { ApiOptions } from '../api.js';
import { intParam, limitParam } from './params.js';

const CSV_COLUMNS = ['id', 'name', 'email', 'lifecycle_stage', 'owner_agent_id', 'entered_at'] as const;
const CSV_PAGE = 1000;

/** `GET /api/segments` and `GET /api/segments/:id/members` (JSON pages, or a CSV export of every member). */
export function segmentsApi(options: ApiOptions): Router {
  const router = Router();

  router.get('/segments', async (_req, res) => {
    const { segments, stats } = await segmentsOverview(options);
    res.json({
      segments: segments.map((segment) => ({
        id: segment.id,
        name: segment.name,
        description: segment.description ?? null,
        when: segment.when.source,
        time_based: segment.timeBased,
        members: stats.get(segment.id)?.members ?? 0,
        entered_30d: stats.get(segment.id)?.entered_30d ?? 0,
        exited_30d: stats.get(segment.id)?.exited_30d ?? 0,
      })),
    });
  });

  router.get('/segments/:id/members', async (req, res) => {
    const segmentId = segmentOf(options, req.params.id!).id;
    const after = intParam(req.query.after, 'after', 0)!;
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') return exportCsv(res, options, segmentId, after);
    const limit = limitParam(req.query.limit);
    const { members: customers } = await segmentMembers(options, { segmentId, after, limit });
    res.json({ customers, next_after: customers.length === limit && limit > 0 ? customers.at(-1)!.id : null });
  });

  return router;
}

/** Streams every member from `after` on, a page at a time, so a large segment never sits in memory. */
async function exportCsv(res: Response, ctx: OperationContext, segmentId: string, after: number): Promise<void> {
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="segment-${segmentId}.csv"`);
  res.write(`${CSV_COLUMNS.join(',')}\r\n`);
  for (let from = after; ;) {
    const { members } = await segmentMembers(ctx, { segmentId, after: from, limit: CSV_PAGE });
    if (members.length > 0) res.write(csvRows(CSV_COLUMNS, members));
    if (members.length < CSV_PAGE) break;
    from = members.at(-1)!.id;
  }
  res.end();
}
