import { createHmac, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { safeEqual } from '../connectors/shared/hmac.js';

/** viewer: read only; support: also retries runs; admin: everything, including raw queue operations. */
export type Role = 'viewer' | 'support' | 'admin';

export const ROLES: readonly Role[] = ['viewer', 'support', 'admin'];

export interface DashboardUser {
  name: string;
  role: Role;
  /** `scrypt$<salt>$<key>`, both base64url; see {@link hashPassword}. */
  passwordHash: string;
}

/** Who is signed in, as carried by the session cookie. */
export interface Session {
  user: string;
  role: Role;
  /** Random per sign-in; the CSRF token is derived from it. */
  nonce: string;
  /** Expiry, ms since the epoch. */
  expires: number;
}

export const SESSION_COOKIE = 'crmflow_session';
const SESSION_MS = 12 * 60 * 60 * 1000;
const KEY_LENGTH = 64;
/** The user a sign-in with the API token becomes. */
export const TOKEN_USER = 'api-token';
/** The audit log's actor for a failed sign-in with a name that is no user (the typed text is not kept). */
export const UNKNOWN_USER = '(unknown user)';
export const DEMO_USER = { name: 'admin', password: 'demo-admin-password' };

/** A password hash for `CRMFLOW_USERS`: scrypt (N=16384, r=8, p=1) with a random salt, as `scrypt$<salt>$<key>`. */
export function hashPassword(password: string, salt: Buffer = randomBytes(16)): string {
  return `scrypt$${salt.toString('base64url')}$${scryptSync(password, salt, KEY_LENGTH).toString('base64url')}`;
}

/** Constant-time check of a password against a {@link hashPassword} hash; false for a malformed hash. */
export function verifyPassword(password: string, hash: string): boolean {
  const [scheme, salt, key] = hash.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  if (expected.length === 0) return false;
  const actual = scryptSync(password, Buffer.from(salt, 'base64url'), expected.length);
  return timingSafeEqual(actual, expected);
}

/** A hash no password matches, checked for unknown user names so they take as long as known ones. */
const DUMMY_HASH = hashPassword(randomBytes(16).toString('hex'));

/**
 * Parses `CRMFLOW_USERS`: `name:role:hash` entries separated by commas. Throws one error naming every bad entry
 * (never echoing a hash).
 */
export function parseUsers(spec: string): DashboardUser[] {
  const users: DashboardUser[] = [];
  const problems: string[] = [];
  for (const [index, entry] of spec
    .split(',')
    .map((part) => part.trim())
    .entries()) {
    if (entry === '') continue;
    const [name, role, hash, ...extra] = entry.split(':');
    const label = name ? `"${name}"` : `#${index + 1}`;
    if (!name || !role || !hash || extra.length > 0) problems.push(`entry ${label} is not name:role:hash`);
    else if (!ROLES.includes(role as Role))
      problems.push(`user ${label} has role "${role}"; use one of ${ROLES.join(', ')}`);
    else if (!/^scrypt\$[\w-]+\$[\w-]+$/.test(hash))
      problems.push(`user ${label}: the hash is not scrypt$<salt>$<key> (see README, Dashboard)`);
    else if (users.some((user) => user.name === name) || name === TOKEN_USER)
      problems.push(`user ${label} is declared twice or uses a reserved name`);
    else users.push({ name, role: role as Role, passwordHash: hash });
  }
  if (problems.length > 0) throw new Error(`CRMFLOW_USERS: ${problems.join('; ')}`);
  return users;
}

/**
 * The dashboard users from `CRMFLOW_USERS`. Unset in demo mode: one admin `admin` / `demo-admin-password`, with a
 * warning to log. Unset in production: nobody signs in with a password (the API token still does).
 */
export function dashboardUsersFromEnv(env: Readonly<Record<string, string | undefined>>): {
  users: DashboardUser[];
  demo: boolean;
  warnings: string[];
} {
  const spec = env.CRMFLOW_USERS;
  if (spec !== undefined && spec.trim() !== '') return { users: parseUsers(spec), demo: false, warnings: [] };
  if (env.NODE_ENV === 'production') {
    return {
      users: [],
      demo: false,
      warnings: ['CRMFLOW_USERS is not set: only the API token signs in to the dashboard.'],
    };
  }
  return {
    users: [{ name: DEMO_USER.name, role: 'admin', passwordHash: hashPassword(DEMO_USER.password) }],
    demo: true,
    warnings: [
      `CRMFLOW_USERS is not set: the dashboard has the DEMO user "${DEMO_USER.name}" with password "${DEMO_USER.password}" (admin). Set CRMFLOW_USERS before real use.`,
    ],
  };
}

export interface DashboardAuthOptions {
  users: DashboardUser[];
  /** `CRMFLOW_SECRET_KEY`: signs session cookies (a key derived from it, never the key itself). */
  secretKey: string;
  apiToken: string;
}

export interface DashboardAuth {
  /** The user for a name and password, or undefined; always spends one scrypt. */
  checkPassword: (name: string, password: string) => DashboardUser | undefined;
  checkToken: (token: string) => boolean;
  /** True when `name` is a dashboard user (or the API token's name). */
  isUser: (name: string) => boolean;
  issue: (user: string, role: Role) => Session;
  /** The cookie value for a session. */
  seal: (session: Session) => string;
  /** The session in a request's cookie, if it is signed by us, unexpired, and its user still exists with that role. */
  read: (req: Request) => Session | undefined;
  /** The per-session CSRF token that POST forms carry. */
  csrfToken: (session: Session) => string;
  checkCsrf: (session: Session, given: unknown) => boolean;
}

export function createDashboardAuth(options: DashboardAuthOptions): DashboardAuth {
  const signingKey = createHmac('sha256', options.secretKey).update('crmflow dashboard session v1').digest();
  const byName = new Map(options.users.map((user) => [user.name, user]));
  const sign = (data: string) => createHmac('sha256', signingKey).update(data).digest('base64url');
  const roleOf = (name: string): Role | undefined => (name === TOKEN_USER ? 'admin' : byName.get(name)?.role);

  return {
    checkPassword(name, password) {
      const user = byName.get(name);
      const ok = verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      return ok ? user : undefined;
    },
    checkToken: (token) => safeEqual(options.apiToken, token),
    isUser: (name) => roleOf(name) !== undefined,
    issue: (user, role) => ({
      user,
      role,
      nonce: randomBytes(16).toString('base64url'),
      expires: Date.now() + SESSION_MS,
    }),
    seal(session) {
      const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
      return `${payload}.${sign(payload)}`;
    },
    read(req) {
      const value = readCookie(req, SESSION_COOKIE);
      if (!value) return undefined;
      const [payload, signature, ...rest] = value.split('.');
      if (!payload || !signature || rest.length > 0 || !safeEqual(sign(payload), signature)) return undefined;
      let session: Session;
      try {
        session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
      } catch {
        return undefined;
      }
      if (typeof session.expires !== 'number' || session.expires < Date.now()) return undefined;
      // A user removed from CRMFLOW_USERS, or given another role, is signed out.
      if (roleOf(session.user) !== session.role) return undefined;
      return session;
    },
    csrfToken: (session) => sign(`csrf:${session.nonce}`),
    checkCsrf(session, given) {
      return typeof given === 'string' && safeEqual(sign(`csrf:${session.nonce}`), given);
    },
  };
}

export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

/** Sets (or with `value` undefined, clears) the session cookie: HttpOnly, SameSite=Lax, Secure over https. */
export function setSessionCookie(req: Request, res: Response, value: string | undefined): void {
  const parts = [
    `${SESSION_COOKIE}=${value ?? ''}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    value === undefined ? 'Max-Age=0' : `Max-Age=${SESSION_MS / 1000}`,
  ];
  if (req.secure) parts.push('Secure');
  res.append('Set-Cookie', parts.join('; '));
}

export function hasRole(session: Session, role: Role): boolean {
  return ROLES.indexOf(session.role) >= ROLES.indexOf(role);
}

/** The session of a request that passed {@link requireSession}. */
export function sessionOf(res: Response): Session {
  return res.locals.session as Session;
}

/**
 * Lets only signed-in users through. Pages redirect to the login (302) and come back after it; streams, assets of
 * mounted tools and non-GET requests get 401.
 */
export function requireSession(auth: DashboardAuth) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const session = auth.read(req);
    if (session) {
      res.locals.session = session;
      return next();
    }
    const wantsPage = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
    if (wantsPage) return res.redirect(302, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    res.status(401).type('text/plain').send('sign in at /login');
  };
}

export function requireRole(role: Role) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    if (hasRole(sessionOf(res), role)) return next();
    res.status(403).type('text/plain').send(`this needs the ${role} role`);
  };
}

/**
 * For state-changing requests: the session's CSRF token in the `_csrf` field or `X-CSRF-Token` header, and an
 * Origin (when the browser sends one) that is this server.
 */
export function requireCsrf(auth: DashboardAuth) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = (req.body as Record<string, unknown> | undefined)?._csrf ?? req.headers['x-csrf-token'];
    if (!sameOrigin(req) || !auth.checkCsrf(sessionOf(res), given)) {
      res.status(403).type('text/plain').send('missing or wrong CSRF token; reload the page and try again');
      return;
    }
    next();
  };
}

/** False when the browser says the request comes from another origin. */
export function sameOrigin(req: Request): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** Only local paths are followed after the login (no `//host` or `/\host`: no open redirect). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : '/';
}
