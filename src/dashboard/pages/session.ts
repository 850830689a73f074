import express, { Router } from 'express';
import { recordSession } from '../../operations/audit-log.js';
import { createLoginThrottle, requireCsrf, safeNext, sameOrigin, sessionOf, setSessionCookie, TOKEN_USER, type DashboardUser } from '../auth.js';
import { loginPage } from '../views/layout.js';
import type { DashboardOptions } from '../routes.js';
import { pageHeaders, send, type PageKit } from './kit.js';

/** Sign-in (password or API token, throttled per address) and sign-out, each audited. */
export function sessionPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  const { auth } = kit;
  const throttle = createLoginThrottle();
  const form = express.urlencoded({ extended: false, limit: '10kb' });

  router.get('/login', pageHeaders, (req, res) => {
    const next = safeNext(req.query.next);
    if (auth.read(req)) return res.redirect(303, next);
    send(res, loginPage({ next, demo: options.demoUser }));
  });

  router.post('/login', pageHeaders, form, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    const key = req.ip ?? 'unknown';
    if (!sameOrigin(req)) return send(res, loginPage({ next, error: 'This sign-in came from another site.' }), 403);
    if (throttle.blocked(key)) return send(res, loginPage({ next, error: 'Too many failed sign-ins. Wait a few minutes and try again.', demo: options.demoUser }), 429);
    let signedIn: { name: string; role: DashboardUser['role'] } | undefined;
    if (typeof body.token === 'string' && body.token !== '') {
      if (auth.checkToken(body.token)) signedIn = { name: TOKEN_USER, role: 'admin' };
    } else if (typeof body.username === 'string' && typeof body.password === 'string') {
      signedIn = auth.checkPassword(body.username, body.password);
    }
    if (!signedIn) {
      throttle.fail(key);
      const tried = typeof body.username === 'string' && body.token === undefined ? body.username.slice(0, 64) : TOKEN_USER;
      options.logger.warn({ user: tried, ip: req.ip }, 'dashboard sign-in failed');
      await recordSession(options, { action: 'login_failed', actor: tried, role: null, ip: req.ip ?? null, with: tried === TOKEN_USER ? 'token' : 'password' });
      return send(res, loginPage({ next, error: 'Wrong user name, password or token.', demo: options.demoUser }), 401);
    }
    throttle.succeed(key);
    setSessionCookie(req, res, auth.seal(auth.issue(signedIn.name, signedIn.role)));
    options.logger.info({ user: signedIn.name, role: signedIn.role }, 'dashboard sign-in');
    await recordSession(options, { action: 'login', actor: signedIn.name, role: signedIn.role, ip: req.ip ?? null, with: signedIn.name === TOKEN_USER ? 'token' : 'password' });
    res.redirect(303, next);
  });

  router.post('/logout', kit.session, form, requireCsrf(auth), async (req, res) => {
    const { user, role } = sessionOf(res);
    await recordSession(options, { action: 'logout', actor: user, role, ip: req.ip ?? null });
    setSessionCookie(req, res, undefined);
    res.redirect(303, '/login');
  });

  return router;
}
