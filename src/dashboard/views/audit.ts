import type { AuditRow } from '../../operations/audit-log.js';
import { html, time, type Html } from '../html.js';
import { layout, type PageContext } from './layout.js';

export function auditPage(context: PageContext, data: { entries: AuditRow[]; nextBefore: number | null }): Html {
  const body = html`
<p class="muted">Every human action — sign-ins, retries, replays, cancellations, resends, polls, availability changes, CLI replays and backfills — newest first. Entries cannot be changed or deleted.</p>
${
  data.entries.length === 0
    ? html`<p class="empty">Nothing recorded yet.</p>`
    : html`<div class="table-wrap"><table id="audit-table">
<thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Role</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Details</th><th scope="col">From</th></tr></thead>
<tbody>${data.entries.map(
        (entry) => html`<tr data-audit-id="${entry.id}">
<td>${time(entry.at)}</td><td>${entry.actor}</td><td>${entry.role ?? ''}</td><td><code>${entry.action}</code></td><td>${entry.target ?? ''}</td><td><code>${Object.keys(entry.details).length > 0 ? JSON.stringify(entry.details) : ''}</code></td><td>${entry.ip ?? ''}</td>
</tr>`,
      )}</tbody>
</table></div>`
}
${data.nextBefore === null ? '' : html`<p><a href="/audit?before=${data.nextBefore}">Older entries</a></p>`}`;
  return layout(context, 'Audit log', body);
}
