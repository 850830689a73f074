import { html, statusBadge, time, type Html } from '../html.js';
import type { WorkflowStats } from '../../store/run-stats.js';
import type { CompiledWorkflow } from '../../workflows/load.js';
import { layout, type PageContext } from './layout.js';

function triggerText(trigger: Record<string, unknown>): string {
  const { type, ...rest } = trigger;
  const parts = Object.entries(rest).map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(', ') : typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  return `${String(type)}${parts.length ? ` — ${parts.join(' · ')}` : ''}`;
}

export function workflowsPage(context: PageContext, data: { file: string; workflows: CompiledWorkflow[]; stats: Map<string, WorkflowStats> }): Html {
  const body = html`
<p class="muted">From <code>${data.file}</code>. Success rates count finished runs of the last 24 hours.</p>
<ul class="workflows">${data.workflows.map((workflow) => {
    const stats = data.stats.get(workflow.id);
    return html`<li class="card" id="wf-${workflow.id}">
  <h2>${workflow.id} ${workflow.enabled ? html`<span class="status status-succeeded">enabled</span>` : html`<span class="status status-disabled">disabled</span>`}</h2>
  ${workflow.name && workflow.name !== workflow.id ? html`<p>${workflow.name}</p>` : ''}
  <dl class="facts">
    <div><dt>Trigger</dt><dd>${triggerText(workflow.config.trigger)}</dd></div>
    <div><dt>Last run</dt><dd>${stats?.lastRunId ? html`<a href="/runs/${stats.lastRunId}">#${stats.lastRunId}</a> ${statusBadge(stats.lastStatus!)} ${time(stats.lastRunAt)}` : html`<span class="muted">never</span>`}</dd></div>
    <div><dt>Success rate</dt><dd>${stats && stats.total > 0 ? `${((stats.succeeded / stats.total) * 100).toFixed(1)}% of ${stats.total}` : html`<span class="muted">no finished runs</span>`}${stats && stats.failed > 0 ? html` · <a href="/runs?workflow=${encodeURIComponent(workflow.id)}&status=failed">${stats.failed} failed</a>` : ''}</dd></div>
    <div><dt>Version</dt><dd><code>${workflow.version.slice(0, 12)}</code></dd></div>
  </dl>
  <h3>Steps</h3>
  <ol class="step-list">${workflow.steps.map(
    (step) => html`<li><strong>${step.id}</strong> <span class="muted">${step.definition.type}</span>${step.config.name ? html` — ${String(step.config.name)}` : ''}${step.config.if ? html` <span class="muted">if <code>${String(step.config.if)}</code></span>` : ''}</li>`,
  )}</ol>
  <p><a href="/runs?workflow=${encodeURIComponent(workflow.id)}">Runs of ${workflow.id}</a></p>
</li>`;
  })}</ul>`;
  return layout(context, 'Workflows', body);
}
