import type { AgentStatus } from '../../operations/agents.js';
import type { AgentConfig } from '../../workflows/config-types.js';
import { hasRole } from '../auth.js';
import { html, type Html } from '../html.js';
import { layout, type PageContext } from './layout.js';

/** Agents from workflows.yaml with their open leads; admins switch availability for new leads here. */
export function agentsPage(
  context: PageContext,
  data: { agents: AgentConfig[]; status: Map<string, AgentStatus>; notice?: string },
): Html {
  const canChange = hasRole(context.session, 'admin');
  const body = html`
${data.notice ? html`<p class="notice" role="status">${data.notice}</p>` : ''}
<p class="muted">Declared in workflows.yaml. An unavailable agent gets no new leads until switched back; the change is immediate for every worker and is audited.${canChange ? '' : ' Changing availability needs the admin role.'}</p>
<div class="table-wrap"><table id="agents-table">
<thead><tr><th scope="col">Agent</th><th scope="col">Email</th><th scope="col">Time zone</th><th scope="col">Working hours</th><th scope="col">Capacity</th><th scope="col">Languages</th><th scope="col">Open leads</th><th scope="col">Availability</th></tr></thead>
<tbody>${data.agents.map((agent) => {
    const available = data.status.get(agent.id)?.available ?? agent.available ?? true;
    const hours = agent.working_hours;
    return html`<tr data-agent="${agent.id}">
<td data-label="Agent">${agent.name} <span class="muted">${agent.id}</span></td>
<td data-label="Email">${agent.email ?? ''}</td>
<td data-label="Time zone">${agent.time_zone ?? ''}</td>
<td data-label="Working hours">${hours ? `${hours.days.join(', ')} ${hours.from}–${hours.to}` : html`<span class="muted">any time</span>`}</td>
<td data-label="Capacity">${agent.capacity ?? html`<span class="muted">no limit</span>`}</td>
<td data-label="Languages">${(agent.languages ?? []).join(', ')}</td>
<td data-label="Open leads">${data.status.get(agent.id)?.open_leads ?? 0}</td>
<td data-label="Availability">${available ? html`<span class="status status-succeeded">available</span>` : html`<span class="status status-failed">unavailable</span>`}
${
  canChange
    ? html`<form method="post" action="/agents/${agent.id}/availability" class="inline"><input type="hidden" name="_csrf" value="${context.csrf}"><input type="hidden" name="available" value="${available ? 'false' : 'true'}"><button type="submit" aria-label="${available ? 'Make unavailable' : 'Make available'}: ${agent.name}">${available ? 'Make unavailable' : 'Make available'}</button></form>`
    : ''
}</td>
</tr>`;
  })}</tbody>
</table></div>`;
  return layout(context, 'Agents', body);
}
