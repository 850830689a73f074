import type { NextFunction, Request, Response } from 'express';
import { unstorableReason } from '../connectors/shared/storable.js';
import { sendError } from './errors.js';

/**
 * Refuses a query string PostgreSQL cannot compare with (a NUL, an unpaired surrogate: `?q=%00`) with a 400 that says
 * why, before any search reaches the database and fails there as a 500.
 */
export function refuseUnstorableQuery() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const reason = unstorableReason(req.query, 'query');
    if (!reason) return next();
    sendError(res, 400, 'bad_query', `the query string cannot be searched: ${reason}`);
  };
}
