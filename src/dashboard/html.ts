/**
 * HTML for the dashboard, built with one tagged template. Every interpolated value is escaped unless it is already
 * {@link Html} (the result of another `html` template), so user-controlled text can never become markup.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** The single escaping helper: text safe inside element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

/** What a template placeholder may hold: text (escaped), Html (kept), a list of these, or nothing (empty). */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  values.forEach((value, index) => {
    out += render(value) + strings[index + 1]!;
  });
  return new Html(out);
}

/** A `<time>` with the ISO instant; the dashboard script shows it in the viewer's time zone. */
export function time(value: Date | string | null | undefined): Html {
  if (!value) return html`<span class="muted">—</span>`;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return html`${String(value)}`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.replace('T', ' ').slice(0, 19)} UTC</time>`;
}

/** Run and message statuses as a text badge; the colour only repeats what the text says. */
export function statusBadge(status: string): Html {
  return html`<span class="status status-${status.replace(/[^a-z_]/g, '')}">${status}</span>`;
}

/** Pretty JSON in a `<pre>`. */
export function json(value: unknown): Html {
  return html`<pre class="json">${JSON.stringify(value, null, 2) ?? 'null'}</pre>`;
}
