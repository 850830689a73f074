import {
  decideSuggestion as decideStoredSuggestion,
  listSuggestions as listStoredSuggestions,
  SUGGESTION_STATUSES,
  type SuggestionRow,
} from '../store/merge-suggestions.js';
import { audit, requireRole, type Actor, type OperationContext } from './context.js';
import { InvalidInputError } from './errors.js';
import { asOperationError } from './store-errors.js';

export { SUGGESTION_STATUSES, type SuggestionRow } from '../store/merge-suggestions.js';

export async function listSuggestions(
  ctx: OperationContext,
  query: { status?: string; before?: number; limit: number },
): Promise<SuggestionRow[]> {
  const status = query.status ?? 'open';
  if (!(SUGGESTION_STATUSES as readonly string[]).includes(status))
    throw new InvalidInputError(`status must be ${SUGGESTION_STATUSES.join(', ')}`);
  return listStoredSuggestions(ctx.pool, { ...query, status });
}

/**
 * Accepts (merges the two customers) or rejects (never suggested nor merged by a rule again) an open suggestion.
 * Admins only: a merge changes who a person is.
 */
export async function decideSuggestion(
  ctx: OperationContext,
  actor: Actor,
  input: { suggestionId: number; decision: 'accepted' | 'rejected' },
) {
  requireRole(actor, 'admin');
  const decided = await asOperationError(
    decideStoredSuggestion(ctx.pool, input.suggestionId, input.decision, actor.name),
  );
  const verb = input.decision === 'accepted' ? 'accept' : 'reject';
  await audit(ctx, actor, `merge_suggestion.${verb}`, `suggestion:${input.suggestionId}`, {
    customer_a: decided.customer_a,
    customer_b: decided.customer_b,
    ...(decided.merge_id ? { merge_id: decided.merge_id } : {}),
  });
  return decided;
}
