import { suggestDuplicates } from '../../store/merge-suggestions.js';
import type { JobHandler } from './context.js';

/** `suggest-duplicates`: the duplicate finder's pass (`identity.suggest_duplicates`). */
export const handleSuggestDuplicates: JobHandler<'suggest-duplicates'> = async (_data, context) => {
  if (!context.config.duplicateFinder) return;
  const found = await suggestDuplicates(context.pool, { minScore: context.config.duplicateFinder.minScore });
  context.logger.info(found, 'duplicate finder: candidate pairs examined, suggestions added');
};
