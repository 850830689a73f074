import type { Request, RequestHandler, Response } from 'express';
import type { OperationContext } from '../../operations/context.js';
import type { Html } from '../html.js';
import type { PageContext } from '../views/layout.js';

/** What a page module needs from the dashboard: the operations' context, the session check and a renderer. */
export interface PageDeps {
  operations: OperationContext;
  /** Signed in (any role). */
  session: RequestHandler;
  /**
   * Runs `page` for a signed-in request and sends what it returns as an uncached page (or nothing, when it answered
   * itself); an operation's refusal (bad input, not found…) becomes a message page with its status.
   */
  render: (req: Request, res: Response, page: (context: PageContext) => Promise<Html | void>) => Promise<void>;
}
