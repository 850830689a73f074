import { Router } from 'express';
import { decideSuggestion, listSuggestions } from '../../operations/merge-suggestions.js';
import type { ApiOptions } from '../api.js';
import { apiActor, idParam, intParam, limitParam, page, text } from './params.js';

export function mergeSuggestionsApi(options: ApiOptions): Router {
  const router = Router();

  router.get('/merge-suggestions', async (req, res) => {
    const suggestions = await listSuggestions(options, {
      status: text(req.query.status),
      before: intParam(req.query.before, 'before'),
      limit: limitParam(req.query.limit),
    });
    res.json(page('suggestions', suggestions));
  });

  for (const [verb, decision] of [
    ['accept', 'accepted'],
    ['reject', 'rejected'],
  ] as const) {
    router.post(`/merge-suggestions/:id/${verb}`, async (req, res) => {
      res.json(await decideSuggestion(options, apiActor(req), { suggestionId: idParam(req), decision }));
    });
  }

  return router;
}
