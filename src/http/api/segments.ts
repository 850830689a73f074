import { Router, type Response } from 'express';
import { listSegmentMembers, segmentStats, type SegmentMember } from '../../store/segments.js';
import type { ApiOptions } from '../api.js';
import { HttpError } from '../errors.js';

function intParam(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new HttpError(400, 'bad_request', `${name} must be a non-negative integer`);
  return number;
}

const CSV_COLUMNS = ['id', 'name', 'email', 'lifecycle_stage', 'owner_agent_id', 'entered_at'] as const;

/** RFC 4180 field; a leading formula character is quoted away so a spreadsheet does not run it. */
function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** `GET /api/segments` and `GET /api/segments/:id/members` (JSON pages, or a CSV export of every member). */
export function segmentsApi(options: ApiOptions): Router {
  const { pool, config } = options;
  const router = Router();

  router.get('/segments', async (_req, res) => {
    const stats = await segmentStats(pool, config.segments.map((segment) => segment.id), new Date());
    res.json({
      segments: config.segments.map((segment) => ({
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
    const segment = config.segments.find((candidate) => candidate.id === req.params.id);
    if (!segment) throw new HttpError(404, 'not_found', `no segment ${req.params.id}`);
    const after = intParam(req.query.after, 'after', 0);
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') return exportCsv(res, (from, limit) => listSegmentMembers(pool, segment.id, from, limit), after, segment.id);
    const limit = Math.min(intParam(req.query.limit, 'limit', 50), 500);
    const customers = await listSegmentMembers(pool, segment.id, after, limit);
    res.json({ customers, next_after: customers.length === limit && limit > 0 ? customers.at(-1)!.id : null });
  });

  return router;
}

/** Streams every member from `after` on, a page at a time, so a large segment never sits in memory. */
async function exportCsv(res: Response, page: (after: number, limit: number) => Promise<SegmentMember[]>, after: number, segmentId: string): Promise<void> {
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="segment-${segmentId}.csv"`);
  res.write(`${CSV_COLUMNS.join(',')}\r\n`);
  for (let from = after; ; ) {
    const members = await page(from, 1000);
    if (members.length > 0) res.write(members.map((member) => `${CSV_COLUMNS.map((column) => csvField(member[column])).join(',')}\r\n`).join(''));
    if (members.length < 1000) break;
    from = members.at(-1)!.id;
  }
  res.end();
}
