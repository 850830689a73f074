import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Pool } from '../../store/pool.js';
import { listSegmentMembers, segmentStats } from '../../store/segments.js';
import type { LoadedConfig } from '../../workflows/load.js';
import { messagePage, type PageContext } from '../views/layout.js';
import { segmentMembersPage, segmentsPage } from '../views/segments.js';

const PAGE_SIZE = 50;

export interface SegmentPagesOptions {
  pool: Pool;
  config: LoadedConfig;
  /** The dashboard's session check. */
  session: RequestHandler;
  context: (req: Request, res: Response) => PageContext;
}

function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.set('Cache-Control', 'no-store');
  next();
}

/** `/segments` (each segment's size and movements) and `/segments/:id` (its members, a page at a time). Read-only. */
export function segmentPages(options: SegmentPagesOptions): Router {
  const { pool, config, session, context } = options;
  const router = Router();
  router.get('/segments', session, noStore, async (req, res) => {
    const stats = await segmentStats(pool, config.segments.map((segment) => segment.id), new Date());
    res.type('html').send(segmentsPage(context(req, res), { file: config.file, segments: config.segments, stats }).value);
  });
  router.get('/segments/:id', session, noStore, async (req, res) => {
    const segment = config.segments.find((candidate) => candidate.id === req.params.id);
    if (!segment) return void res.status(404).type('html').send(messagePage(context(req, res), 'No such segment', `No segment "${req.params.id}" is declared.`).value);
    const after = typeof req.query.after === 'string' && /^\d{1,15}$/.test(req.query.after) ? Number(req.query.after) : 0;
    const members = await listSegmentMembers(pool, segment.id, after, PAGE_SIZE);
    const nextAfter = members.length === PAGE_SIZE ? members.at(-1)!.id : null;
    res.type('html').send(segmentMembersPage(context(req, res), { segment, members, after, nextAfter }).value);
  });
  return router;
}
