import type { JobHandler } from './context.js';

/** `case`: a case target's check at its due time; the breach is emitted at most once (src/engine/case-services.ts). */
export const handleCaseCheck: JobHandler<'case'> = (data, context) =>
  context.cases.checkTarget(data.caseId, data.target);
