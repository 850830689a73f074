import { Router } from 'express';
import { segmentMembers, segmentsOverview } from '../../operations/segments.js';
import type { DashboardOptions } from '../routes.js';
import { segmentMembersPage, segmentsPage } from '../views/segments.js';
import { idParam, PAGE_SIZE, pageHeaders, refusal, send, type PageKit } from './kit.js';

/** `/segments` (each segment's size and movements) and `/segments/:id` (its members, a page at a time). Read-only. */
export function segmentsPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  router.get('/segments', kit.session, pageHeaders, async (req, res) => {
    const { segments, stats } = await segmentsOverview(options);
    send(res, segmentsPage(kit.context(req, res), { file: options.config.file, segments, stats }));
  });
  router.get('/segments/:id', kit.session, pageHeaders, async (req, res) => {
    const after = idParam(req.query.after) ?? 0;
    try {
      const { segment, members } = await segmentMembers(options, {
        segmentId: String(req.params.id),
        after,
        limit: PAGE_SIZE,
      });
      const nextAfter = members.length === PAGE_SIZE ? members.at(-1)!.id : null;
      send(res, segmentMembersPage(kit.context(req, res), { segment, members, after, nextAfter }));
    } catch (error) {
      refusal(kit, req, res, 'No such segment', error);
    }
  });
  return router;
}
