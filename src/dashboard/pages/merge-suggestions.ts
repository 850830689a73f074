import { Router } from 'express';
import { decideSuggestion, listSuggestions } from '../../operations/merge-suggestions.js';
import type { DashboardOptions } from '../routes.js';
import { suggestionsPage } from '../views/customers.js';
import { idParam, PAGE_SIZE, pageHeaders, refusal, send, text, type PageKit } from './kit.js';

const SUGGESTION_NOTICES: Record<string, string> = {
  accepted: 'Merged. The merge can be undone from the customer page.',
  rejected: 'Remembered as different people: never suggested nor merged by a rule again.',
};

/** Open merge suggestions; admins accept or reject them. */
export function mergeSuggestionsPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();

  router.get('/merge-suggestions', kit.session, pageHeaders, async (req, res) => {
    const suggestions = await listSuggestions(options, { status: 'open', limit: PAGE_SIZE });
    send(
      res,
      suggestionsPage(kit.context(req, res), { suggestions, notice: SUGGESTION_NOTICES[text(req.query.notice)] }),
    );
  });

  for (const [verb, decision] of [
    ['accept', 'accepted'],
    ['reject', 'rejected'],
  ] as const) {
    router.post(`/merge-suggestions/:id/${verb}`, ...kit.post('admin'), async (req, res) => {
      const id = idParam(req.params.id);
      if (id === undefined) return void res.status(404).type('text/plain').send('no such suggestion');
      try {
        await decideSuggestion(options, kit.actor(req, res), { suggestionId: id, decision });
        res.redirect(303, `/merge-suggestions?notice=${decision}`);
      } catch (error) {
        refusal(kit, req, res, 'Suggestion not decided', error);
      }
    });
  }

  return router;
}
