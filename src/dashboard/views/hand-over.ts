import type { FormerAgent } from '../../operations/hand-over.js';
import type { AgentConfig } from '../../workflows/config-types.js';
import { hasRole } from '../auth.js';
import { html, type Html } from '../html.js';
import { layout, type PageContext } from './layout.js';

export interface HandOverPageData {
  agents: AgentConfig[];
  pools: string[];
  /** Owners no longer declared under `agents:`. */
  former: FormerAgent[];
  notice?: string;
}

/** Agents who left but still own customers, and the hand-over form (admins): one transaction, audited. */
export function handOverPage(context: PageContext, data: HandOverPageData): Html {
  const canHandOver = hasRole(context.session, 'admin');
  const former =
    data.former.length === 0
      ? html`<p class="muted" id="former-agents">Every owner of a customer or an open task is a declared agent.</p>`
      : html`<div class="notice warning" role="alert" id="former-agents"><p>Removed from workflows.yaml but still owning customers: hand them over.</p><ul>${data.former.map(
          (agent) =>
            html`<li data-former="${agent.agent_id}"><strong>${agent.agent_id}</strong>: ${agent.customers} customers, ${agent.open_tasks} open tasks</li>`,
        )}</ul></div>`;
  const from = [...data.former.map((agent) => agent.agent_id), ...data.agents.map((agent) => agent.id)];
  const form = canHandOver
    ? html`<form method="post" action="/hand-over" class="stack" id="hand-over-form">
<input type="hidden" name="_csrf" value="${context.csrf}">
<label>From <select name="from" required>${from.map((id) => html`<option value="${id}">${id}</option>`)}</select></label>
<label>To <select name="to" required>
${data.agents.map((agent) => html`<option value="agent:${agent.id}">${agent.name} (${agent.id})</option>`)}
${data.pools.map((pool) => html`<option value="pool:${pool}">pool ${pool} (dealt in turn)</option>`)}
</select></label>
<button type="submit">Hand over</button>
</form>`
    : html`<p class="muted">Handing over needs the admin role.</p>`;
  const body = html`
${data.notice ? html`<p class="notice" role="status">${data.notice}</p>` : ''}
${former}
<p class="muted">A hand-over moves every customer the agent owns, their open tasks, pending SLAs, open deals and active cases to another agent or pool in one transaction; each customer's assignment history records it and the audit log says who did it.</p>
${form}`;
  return layout(context, 'Hand-over', body);
}
