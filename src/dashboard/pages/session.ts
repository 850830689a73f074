import express, { Router } from 'express';
import { recordSession } from '../../operations/audit-log.js';
import {
  requireCsrf,
  safeNext,
  sameOrigin,
  sessionOf,
  setSessionCookie,
  TOKEN_USER,
  UNKNOWN_USER,
  type DashboardUser,
} from '../auth.js';
import { auditsFailure, createLoginThrottle } from '../login-throttle.js';
import { loginPage } from '../views/layout.js';
import type { DashboardOptions } from '../routes.js';
import { pageHeaders, send, type PageKit } from './kit.js';

/**
 * Sign-in (password or API token) and sign-out, each audited. Failed sign-ins are throttled in Redis per user name
 * and address (shared by every API process); names that are no user are audited as UNKNOWN_USER, repeated failures
 * are summarised.
 */
export function sessionPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  const { auth } = kit;
  const throttle = createLoginThrottle(options.redis, options.queue.opts.prefix ?? 'bull', {
    onError: (error) =>
      options.logger.warn({ err: error }, 'sign-in throttle unavailable (Redis): sign-ins are not throttled meanwhile'),
  });
  const form = express.urlencoded({ extended: false, limit: '10kb' });

  router.get('/login', pageHeaders, (req, res) => {
    const next = safeNext(req.query.next);
    if (auth.read(req)) return res.redirect(303, next);
    send(res, loginPage({ next, demo: options.demoUser }));
  });

  router.post('/login', pageHeaders, form, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    const ip = req.ip ?? 'unknown';
    const typed =
      typeof body.token === 'string' && body.token !== ''
        ? TOKEN_USER
        : typeof body.username === 'string'
          ? body.username.slice(0, 200)
          : '';
    if (!sameOrigin(req)) return send(res, loginPage({ next, error: 'This sign-in came from another site.' }), 403);
    if (await throttle.blocked(typed, ip))
      return send(
        res,
        loginPage({
          next,
          error: 'Too many failed sign-ins. Wait a few minutes and try again.',
          demo: options.demoUser,
        }),
        429,
      );
    let signedIn: { name: string; role: DashboardUser['role'] } | undefined;
    if (typeof body.token === 'string' && body.token !== '') {
      if (auth.checkToken(body.token)) signedIn = { name: TOKEN_USER, role: 'admin' };
    } else if (typeof body.username === 'string' && typeof body.password === 'string') {
      signedIn = auth.checkPassword(body.username, body.password);
    }
    if (!signedIn) {
      // A name that is no user is not stored: it may be a password typed in the wrong field, or an attacker's text.
      const tried = typed === TOKEN_USER || auth.isUser(typed) ? typed : UNKNOWN_USER;
      const failures = await throttle.fail(typed, ip, tried);
      options.logger.warn({ user: tried, ip: req.ip, failures }, 'dashboard sign-in failed');
      if (auditsFailure(failures)) {
        await recordSession(options, {
          action: 'login_failed',
          actor: tried,
          role: null,
          ip: req.ip ?? null,
          with: tried === TOKEN_USER ? 'token' : 'password',
          failuresInWindow: failures,
        });
      }
      return send(res, loginPage({ next, error: 'Wrong user name, password or token.', demo: options.demoUser }), 401);
    }
    await throttle.succeed(typed, ip);
    setSessionCookie(req, res, auth.seal(auth.issue(signedIn.name, signedIn.role)));
    options.logger.info({ user: signedIn.name, role: signedIn.role }, 'dashboard sign-in');
    await recordSession(options, {
      action: 'login',
      actor: signedIn.name,
      role: signedIn.role,
      ip: req.ip ?? null,
      with: signedIn.name === TOKEN_USER ? 'token' : 'password',
    });
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
