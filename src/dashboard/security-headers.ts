import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * The Content-Security-Policy of every response: the dashboard loads its script, style and icon from `/assets` and
 * talks only to this origin (live updates are server-sent events); nothing inline, no framing, no plugins. JSON and
 * webhook answers carry it too, harmlessly.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * helmet's headers on every response (HSTS, nosniff, frame denial, cross-origin policies, the CSP above).
 * `same-origin` referrers rather than helmet's `no-referrer`: under `no-referrer` browsers send `Origin: null` with
 * form posts, which the dashboard's same-origin check refuses.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    referrerPolicy: { policy: 'same-origin' },
    xFrameOptions: { action: 'deny' },
  });
}

/**
 * bull-board (`/admin/queues`) ships inline styles, a `<base href>` and Google Fonts: its own, looser policy, still
 * without inline script or framing. Replaces the app-wide header.
 */
export function bullBoardPolicy(): RequestHandler {
  return helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      ...CSP_DIRECTIVES,
      styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
      fontSrc: ["'self'", 'data:', 'https://fonts.gstatic.com'],
      baseUri: ["'self'"],
    },
  });
}
