import { randomUUID } from 'node:crypto';
import { hasRole } from '../auth.js';
import { html, type Html } from '../html.js';
import type { PageContext } from './layout.js';

type Row = Record<string, any>;

/** The channels the customer can be reached on, from their identities. */
function reachable(customer: Row): string[] {
  const kinds = new Set((customer.identities as Row[]).map((identity) => identity.kind as string));
  return [
    ...(kinds.has('email') ? ['email'] : []),
    ...(kinds.has('phone') ? ['whatsapp', 'sms'] : []),
    ...(kinds.has('messenger_psid') ? ['messenger'] : []),
    ...(kinds.has('instagram_igsid') ? ['instagram'] : []),
  ];
}

/**
 * A support user's own contact with the customer: answer on a channel (sent as them, through the rules of workflow
 * replies) or log a call or note by hand. Each form carries a fresh key so a double submit sends once.
 */
export function customerContactForms(context: PageContext, customer: Row): Html {
  if (!hasRole(context.session, 'support')) return html``;
  const channels = reachable(customer);
  return html` <div class="columns">
    <section class="card" aria-labelledby="answer-h">
      <h2 id="answer-h">Answer the customer</h2>
      ${
        channels.length === 0
          ? html`<p class="muted">No address to reach the customer on.</p>`
          : html`<form method="post" action="/customers/${customer.id}/messages" aria-label="Answer the customer">
              <input type="hidden" name="_csrf" value="${context.csrf}" />
              <input type="hidden" name="idempotency_key" value="${randomUUID()}" />
              <label
                >Channel
                <select name="channel">
                  ${channels.map((channel) => html`<option>${channel}</option>`)}
                </select></label
              >
              <label>Subject (email) <input name="subject" maxlength="200" /></label>
              <label>Message <textarea name="text" rows="4" maxlength="4000" required></textarea></label>
              <button type="submit" class="primary">Send as ${context.session.user}</button>
            </form>`
      }
    </section>
    <section class="card" aria-labelledby="log-h">
      <h2 id="log-h">Log a call or note</h2>
      <form method="post" action="/customers/${customer.id}/contacts" aria-label="Log a call or note">
        <input type="hidden" name="_csrf" value="${context.csrf}" />
        <label
          >Kind
          <select name="kind">
            <option value="call">call</option>
            <option value="note">note</option>
          </select></label
        >
        <label>Minutes (calls) <input name="minutes" type="number" min="0" max="1440" inputmode="numeric" /></label>
        <label>What was said <textarea name="text" rows="3" maxlength="4000" required></textarea></label>
        <button type="submit">Log</button>
      </form>
    </section>
  </div>`;
}

/** What the customer page says after a contact form, by the code the form's redirect carries (never free text). */
export type ContactNotice = `${'sent' | 'uncertain'}-${string}` | `logged-${string}`;

export function contactNotice(code: string): string | undefined {
  const [what, detail] = code.split('-', 2);
  if (!detail || !/^[a-z]+$/.test(detail)) return undefined;
  if (what === 'sent') return `Sent on ${detail}.`;
  if (what === 'uncertain') return `Sent on ${detail}, but the vendor did not confirm it: check before resending.`;
  if (what === 'logged') return detail === 'call' ? 'Call logged.' : 'Note logged.';
  return undefined;
}
