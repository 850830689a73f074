import type { CompiledSegment } from '../../workflows/segments.js';
import { customerSegmentsSection } from './segments.js';
import { hasRole } from '../auth.js';
import { html, json, statusBadge, time, type Html } from '../html.js';
import { maskIdentity, maskSecrets } from '../mask.js';
import { readableError } from '../readable-error.js';
import { OUTBOX } from '../../operations/messages.js';
import type { CustomerSummary } from '../../customers/record.js';
import type { AgentConfig } from '../../workflows/config-types.js';
import { customerContactForms } from './customer-contacts.js';
import { caseRows, type CaseView } from './cases.js';
import { layout, type PageContext } from './layout.js';

type Row = Record<string, any>;

function agentName(agents: Map<string, AgentConfig>, id: string | null | undefined): Html {
  if (!id) return html`<span class="muted">unassigned</span>`;
  const agent = agents.get(id);
  return agent ? html`${agent.name} <span class="muted">(${id})</span>` : html`${id}`;
}

function displayName(customer: {
  id: number;
  name: string | null;
  first_name?: string | null;
  last_name?: string | null;
}): string {
  return (
    customer.name || [customer.first_name, customer.last_name].filter(Boolean).join(' ') || `Customer #${customer.id}`
  );
}

export function customersPage(
  context: PageContext,
  data: { q: string; customers: CustomerSummary[]; agents: Map<string, AgentConfig> },
): Html {
  const role = context.session.role;
  const body = html`
<form class="filters" method="get" action="/customers" role="search" aria-label="Find customers">
  <div class="grow"><label for="q">Name, email, phone, vendor id or customer id</label><input id="q" name="q" type="search" value="${data.q}" autofocus></div>
  <div class="actions"><button type="submit">Search</button></div>
</form>
${data.q === '' ? html`<p class="muted">Type a name (its beginning is enough), an email address, a phone number in any format, a vendor id or a customer number.</p>` : ''}
${data.q === '' && data.customers.length > 0 ? html`<h2>Newest customers</h2>` : ''}
${
  data.customers.length === 0
    ? html`<p class="empty">${data.q === '' ? 'No customers yet: they appear with the first webhook.' : html`No customer matches “${data.q}”.`}</p>`
    : html`<div class="table-wrap"><table class="customers">
  <thead><tr><th scope="col">Customer</th><th scope="col">Email</th><th scope="col">Phone</th><th scope="col">Owner</th><th scope="col">Stage</th></tr></thead>
  <tbody>${data.customers.map(
    (customer) => html`<tr>
    <td data-label="Customer"><a href="/customers/${customer.id}">${displayName(customer)}</a> <span class="muted">#${customer.id}</span></td>
    <td data-label="Email">${customer.email ? maskIdentity('email', customer.email, role) : '—'}</td>
    <td data-label="Phone">${customer.phone ? maskIdentity('phone', customer.phone, role) : '—'}</td>
    <td data-label="Owner">${agentName(data.agents, customer.owner_agent_id)}</td>
    <td data-label="Stage">${customer.lifecycle_stage}</td>
  </tr>`,
  )}</tbody></table></div>`
}`;
  return layout(context, 'Customers', body);
}

/** One merge in the customer's history: who, when, why, what linked them; an admin may undo a standing merge. */
function mergeItem(context: PageContext, customerId: number, merge: Row): Html {
  const linkedBy = (merge.linked_by as Row[] | null) ?? [];
  const undo =
    merge.unmerged_at === null && merge.kept_id === customerId && hasRole(context.session, 'admin')
      ? html` <form class="inline" method="post" action="/customers/${customerId}/unmerge"><input type="hidden" name="_csrf" value="${context.csrf}"><input type="hidden" name="merge_id" value="${merge.id}"><button type="submit">Undo merge</button></form>`
      : '';
  return html`<li>#${merge.merged_id} into #${merge.kept_id} ${time(merge.merged_at)}${merge.why ? html`: ${merge.why}` : ''}${linkedBy.length > 0 ? html` <span class="muted">(${linkedBy.map((identity) => `${identity.kind} ${maskIdentity(String(identity.kind), String(identity.value), context.session.role)}`).join(', ')}; ${merge.event})</span>` : ''}${merge.unmerged_at ? html` <strong>undone</strong> ${time(merge.unmerged_at)}` : ''}${undo}</li>`;
}

export function customerDetailPage(
  context: PageContext,
  data: {
    customer: Row;
    agents: Map<string, AgentConfig>;
    segments?: CompiledSegment[];
    notice?: string;
    deals?: Html;
    cases?: CaseView[];
  },
): Html {
  const c = data.customer;
  const role = context.session.role;
  const identities = new Map<string, Row[]>();
  for (const identity of c.identities as Row[])
    identities.set(identity.kind, [...(identities.get(identity.kind) ?? []), identity]);
  const timeline = c.timeline as Row[];
  const messages = c.messages as Row[];
  const consentRows = Object.entries((c.consent ?? {}) as Record<string, Row[]>).flatMap(([channel, entries]) =>
    entries.map((entry) => [channel, entry] as const),
  );
  const body = html`
${c.resolved_from ? html`<p class="notice" role="status">Customer #${c.resolved_from} was merged into this one.</p>` : ''}
${data.notice ? html`<p class="notice" role="status">${data.notice}</p>` : ''}
<div class="columns">
<section class="card" aria-labelledby="profile-h">
  <h2 id="profile-h">Profile</h2>
  <dl class="facts">
    <div><dt>Owner</dt><dd>${agentName(data.agents, c.owner_agent_id)}</dd></div>
    <div><dt>Lifecycle stage</dt><dd>${c.lifecycle_stage}</dd></div>
    <div><dt>Score</dt><dd>${c.score ?? 0}${(c.score_history as Row[] | undefined)?.length ? html` <span class="muted">last change ${time((c.score_history as Row[])[0]!.changed_at)}</span>` : ''}</dd></div>
    <div><dt>Language</dt><dd>${c.language ?? '—'}</dd></div>
    <div><dt>Country</dt><dd>${c.country ?? '—'}</dd></div>
    <div><dt>Customer since</dt><dd>${time(c.created_at)}</dd></div>
    <div><dt>Runs</dt><dd><a href="/runs?customer=${c.id}">runs for this customer</a></dd></div>
  </dl>
</section>
<section class="card" aria-labelledby="identities-h">
  <h2 id="identities-h">Identities</h2>
  ${
    identities.size === 0
      ? html`<p class="muted">none</p>`
      : html`<dl class="identities">${[...identities].map(
          ([kind, values]) =>
            html`<div><dt>${kind}</dt>${values.map((identity) => html`<dd>${maskIdentity(String(identity.kind), String(identity.value), role)} ${identity.source ? html`<span class="muted">from ${identity.source}</span>` : ''}</dd>`)}</div>`,
        )}</dl>`
  }
</section>
</div>
${customerContactForms(context, c)}
${data.deals ?? ''}
${data.cases && data.cases.length > 0 ? html`<section aria-labelledby="cases-h"><h2 id="cases-h">Cases</h2>${caseRows(data.cases, data.agents)}</section>` : ''}
${customerSegmentsSection(c, data.segments ?? [])}
<section aria-labelledby="timeline-h">
  <h2 id="timeline-h">Timeline</h2>
  ${
    timeline.length === 0
      ? html`<p class="empty">Nothing on the timeline yet.</p>`
      : html`<ol class="timeline">${timeline.map(
          (entry) => html`<li>
      <div class="when">${time(entry.occurred_at)}</div>
      <div><strong class="event-type">${entry.type}</strong>${entry.data?.agent_id ? html` by ${agentName(data.agents, entry.data.agent_id)}` : ''} <span class="muted">${entry.source} ${entry.external_id}</span><br>${entry.summary ?? ''}
      <details><summary>Data</summary>${json(maskSecrets(entry.data, role))}</details></div>
    </li>`,
        )}</ol>`
  }
</section>
<section aria-labelledby="messages-h">
  <h2 id="messages-h">Messages and auto-replies</h2>
  ${
    messages.length === 0
      ? html`<p class="empty">No messages sent.</p>`
      : html`<div class="table-wrap"><table>
    <thead><tr><th scope="col">Sent</th><th scope="col">Channel</th><th scope="col">To</th><th scope="col">Subject</th><th scope="col">Status</th></tr></thead>
    <tbody>${messages.map(
      (message) => html`<tr>
      <td data-label="Sent">${time(message.sent_at ?? message.created_at)}</td>
      <td data-label="Channel">${message.channel} ${
        message.transport === OUTBOX
          ? html`<span class="status status-demo" title="Demo mode: kept in the local outbox, not delivered">demo outbox</span>`
          : html`<span class="muted">via ${message.transport}</span>`
      }${message.agent_id ? html` by ${agentName(data.agents, message.agent_id)}` : ''}</td>
      <td data-label="To">${maskIdentity(String(message.channel) === 'email' ? 'email' : 'phone', String(message.recipient), role)}</td>
      <td data-label="Subject">${message.subject ?? '—'}</td>
      <td data-label="Status">${statusBadge(message.status)}${message.status_reason ? html` <span class="muted" title="${message.status_reason}">${readableError(message.status_reason)}</span>` : ''}</td>
    </tr>`,
    )}</tbody></table></div>`
  }
</section>
<section aria-labelledby="tasks-h">
  <h2 id="tasks-h">Tasks</h2>
  ${
    ((c.tasks as Row[] | undefined) ?? []).length === 0
      ? html`<p class="muted">No follow-up tasks.</p>`
      : html`<ul class="plain">${(c.tasks as Row[]).map(
          (task) =>
            html`<li>${statusBadge(String(task.status))} <strong>${task.title}</strong> <span class="muted">for ${agentName(data.agents, task.agent_id as string | null)}, due ${time(task.due_at)}${task.completed_at ? html`, done ${time(task.completed_at)}` : ''}</span></li>`,
        )}</ul>`
  }
</section>
<section aria-labelledby="consent-h">
  <h2 id="consent-h">Consent</h2>
  ${
    consentRows.length === 0
      ? html`<p class="muted">No address to reach the customer on.</p>`
      : html`<ul class="plain">${consentRows.map(
          ([channel, entry]) =>
            html`<li><strong>${channel}</strong> ${maskIdentity(channel === 'email' ? 'email' : 'phone', String(entry.address), role)}: ${entry.granted === false ? html`<strong>opted out</strong>` : entry.granted ? 'consented' : html`<span class="muted">not stated (replies allowed)</span>`}${entry.source ? html` <span class="muted">(${entry.source}, ${time(entry.changed_at)})</span>` : ''}</li>`,
        )}</ul>`
  }
  ${
    consentRows.length > 0 && hasRole(context.session, 'support')
      ? html`<form class="filters" method="post" action="/customers/${c.id}/consent" aria-label="Record what the customer said">
    <input type="hidden" name="_csrf" value="${context.csrf}">
    <label>Channel <select name="channel">${[...new Set(consentRows.map(([channel]) => channel))].map((channel) => html`<option>${channel}</option>`)}</select></label>
    <label>Customer <select name="granted"><option value="false">opts out</option><option value="true">consents</option></select></label>
    <button type="submit">Record</button>
  </form>`
      : ''
  }
</section>
<div class="columns">
<section aria-labelledby="lifecycle-h">
  <h2 id="lifecycle-h">Lifecycle history</h2>
  ${
    (c.lifecycle_history as Row[]).length === 0
      ? html`<p class="muted">No changes.</p>`
      : html`<ol class="plain">${(c.lifecycle_history as Row[]).map(
          (change) =>
            html`<li>${time(change.changed_at)}: ${change.from_stage ?? 'new'} → <strong>${change.to_stage}</strong> ${change.source ? html`<span class="muted">(${change.source})</span>` : ''}</li>`,
        )}</ol>`
  }
</section>
<section aria-labelledby="assignments-h">
  <h2 id="assignments-h">Assignments</h2>
  ${
    (c.assignments as Row[]).length === 0
      ? html`<p class="muted">Never assigned.</p>`
      : html`<ol class="plain">${(c.assignments as Row[]).map(
          (assignment) =>
            html`<li>${time(assignment.assigned_at)}: ${agentName(data.agents, assignment.agent_id)} <span class="muted">pool ${assignment.pool}, ${assignment.strategy}${assignment.reason ? html` — ${assignment.reason}` : ''}</span></li>`,
        )}</ol>`
  }
  ${
    (c.merges as Row[]).length > 0
      ? html`<h3>Merges</h3><ul class="plain">${(c.merges as Row[]).map((merge) => mergeItem(context, c.id as number, merge))}</ul>`
      : ''
  }
</section>
</div>
${Object.keys(c.attributes ?? {}).length > 0 ? html`<section aria-labelledby="attributes-h"><h2 id="attributes-h">Attributes</h2>${json(maskSecrets(c.attributes, role))}</section>` : ''}`;
  return layout(context, displayName(c as { id: number; name: string | null }), body);
}

/** Open merge suggestions with their evidence; admins accept (merge) or reject (remembered) each. */
export function suggestionsPage(context: PageContext, data: { suggestions: Row[]; notice?: string }): Html {
  const decide = (suggestion: Row) =>
    hasRole(context.session, 'admin')
      ? html`${(['accept', 'reject'] as const).map(
          (verb) =>
            html`<form class="inline" method="post" action="/merge-suggestions/${suggestion.id}/${verb}"><input type="hidden" name="_csrf" value="${context.csrf}"><button type="submit"${verb === 'accept' ? html` class="primary"` : ''}>${verb === 'accept' ? 'Merge' : 'Different people'}</button></form>`,
        )}`
      : '';
  const body = html`
${data.notice ? html`<p class="notice" role="status">${data.notice}</p>` : ''}
<p class="muted">Customers that are probably one person: linked by an identifier that may not merge, held apart by a cap, or found by the duplicate finder (similar names with a shared email local part or phone suffix).${hasRole(context.session, 'admin') ? '' : ' Deciding needs the admin role.'}</p>
${
  data.suggestions.length === 0
    ? html`<p class="empty">No open suggestions.</p>`
    : html`<div class="table-wrap"><table>
  <thead><tr><th scope="col">Customers</th><th scope="col">Score</th><th scope="col">Evidence</th><th scope="col">Since</th><th scope="col"></th></tr></thead>
  <tbody>${data.suggestions.map(
    (suggestion) => html`<tr>
    <td data-label="Customers"><a href="/customers/${suggestion.customer_a}">#${suggestion.customer_a}</a> and <a href="/customers/${suggestion.customer_b}">#${suggestion.customer_b}</a></td>
    <td data-label="Score">${suggestion.score === null ? '—' : Number(suggestion.score).toFixed(2)}</td>
    <td data-label="Evidence">${json(suggestion.reason)}</td>
    <td data-label="Since">${time(suggestion.created_at)}</td>
    <td>${decide(suggestion)}</td>
  </tr>`,
  )}</tbody></table></div>`
}`;
  return layout(context, 'Duplicates', body);
}
