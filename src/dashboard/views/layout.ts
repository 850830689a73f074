import { hasRole, type Session } from '../auth.js';
import { html, type Html, type HtmlValue } from '../html.js';

export interface PageContext {
  session: Session;
  csrf: string;
  /** Path of the current page, for the navigation's `aria-current`. */
  path: string;
}

const NAV: Array<{ href: string; label: string; admin?: boolean }> = [
  { href: '/', label: 'Overview' },
  { href: '/runs', label: 'Runs' },
  { href: '/cases', label: 'Cases' },
  { href: '/customers', label: 'Customers' },
  { href: '/segments', label: 'Segments' },
  { href: '/pipelines', label: 'Pipeline' },
  { href: '/merge-suggestions', label: 'Duplicates' },
  { href: '/workflows', label: 'Workflows' },
  { href: '/agents', label: 'Agents' },
  { href: '/hand-over', label: 'Hand-over' },
  { href: '/reports', label: 'Reports' },
  { href: '/audit', label: 'Audit log', admin: true },
  { href: '/admin/queues', label: 'Queues', admin: true },
];

function current(path: string, href: string): boolean {
  return href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`);
}

export function layout(context: PageContext, title: string, body: HtmlValue, options: { live?: boolean } = {}): Html {
  const { session } = context;
  const links = NAV.filter((item) => !item.admin || hasRole(session, 'admin')).map(
    (item) =>
      html`<li><a href="${item.href}"${current(context.path, item.href) ? html` aria-current="page"` : ''}>${item.label}</a></li>`,
  );
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${context.csrf}">
<title>${title} · crmflow</title>
<link rel="stylesheet" href="/assets/dashboard.css">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<script src="/assets/dashboard.js" defer></script>
</head>
<body${options.live ? html` data-live="1"` : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">crmflow</a>
  <nav aria-label="Main"><ul>${links}</ul></nav>
  <form class="signout" method="post" action="/logout">
    <span class="who">${session.user} <span class="role">(${session.role})</span></span>
    <input type="hidden" name="_csrf" value="${context.csrf}">
    <button type="submit">Sign out</button>
  </form>
</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

export function loginPage(options: { next: string; error?: string; demo?: boolean }): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · crmflow</title>
<link rel="stylesheet" href="/assets/dashboard.css">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
</head>
<body class="login">
<main id="main">
<h1>crmflow</h1>
${options.error ? html`<p class="notice error" role="alert">${options.error}</p>` : ''}
${options.demo ? html`<p class="notice warn">Demo mode: sign in as <code>admin</code> / <code>demo-admin-password</code>. Set <code>CRMFLOW_USERS</code> before real use.</p>` : ''}
<form method="post" action="/login" class="card">
  <h2>Sign in</h2>
  <input type="hidden" name="next" value="${options.next}">
  <label for="username">User name</label>
  <input id="username" name="username" autocomplete="username" required autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>
<form method="post" action="/login" class="card">
  <h2>Or with the API token</h2>
  <input type="hidden" name="next" value="${options.next}">
  <label for="token">API token (<code>CRMFLOW_API_TOKEN</code>)</label>
  <input id="token" name="token" type="password" autocomplete="off" required>
  <button type="submit">Sign in with token</button>
</form>
</main>
</body>
</html>`;
}

/** Plain page for errors (404, 403) inside the layout. */
export function messagePage(context: PageContext, title: string, message: string): Html {
  return layout(context, title, html`<p>${message}</p><p><a href="/">Back to the overview</a></p>`);
}
