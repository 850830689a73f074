import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Actor } from '../../operations/context.js';
import { HTTP_STATUS_OF, OperationError } from '../../operations/errors.js';
import { requireCsrf, requireRole, requireSession, sessionOf, type DashboardAuth, type Role } from '../auth.js';
import type { Html } from '../html.js';
import { messagePage, type PageContext } from '../views/layout.js';

/**
 * What every page router shares: the session check, the form body parser, CSRF and role checks for POSTs, the page
 * context and the actor of the signed-in user. Built once by `dashboardRouter`.
 */
export interface PageKit {
  auth: DashboardAuth;
  session: RequestHandler;
  /** A POST from a page: signed in, form body, CSRF token, at least `role`. */
  post: (role: Role) => RequestHandler[];
  context: (req: Request, res: Response) => PageContext;
  actor: (req: Request, res: Response) => Actor;
}

export const PAGE_SIZE = 50;

export function createPageKit(auth: DashboardAuth): PageKit {
  const session = requireSession(auth);
  const form = express.urlencoded({ extended: false, limit: '10kb' });
  return {
    auth,
    session,
    post: (role) => [session, form, requireCsrf(auth), requireRole(role)],
    context: (req, res) => {
      const current = sessionOf(res);
      return { session: current, csrf: auth.csrfToken(current), path: req.path };
    },
    actor: (req, res) => {
      const { user, role } = sessionOf(res);
      return { name: user, role, ip: req.ip ?? null, via: 'dashboard' };
    },
  };
}

/** Dashboard pages are never cached (the app's helmet sets the other security headers, CSP included). */
export function pageHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set('Cache-Control', 'no-store');
  next();
}

export function send(res: Response, page: Html, status = 200): void {
  res.status(status).type('html').send(page.value);
}

/** A form or query value, trimmed and at most 200 characters. */
export function text(value: unknown): string {
  return typeof value === 'string' ? value.trim().slice(0, 200) : '';
}

export function idParam(value: unknown): number | undefined {
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/** An operation's refusal (400, 403, 404, 409) as a message page titled `title`; other errors go on to the app's error handler. */
export function refusal(kit: PageKit, req: Request, res: Response, title: string, error: unknown): void {
  if (!(error instanceof OperationError)) throw error;
  send(res, messagePage(kit.context(req, res), title, error.message), HTTP_STATUS_OF[error.kind]);
}
