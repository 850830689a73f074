import { html, statusBadge, time, type Html } from '../html.js';
import type { WorkflowStats } from '../../operations/workflows.js';
import type { ConfigFileState } from '../../workflows/file-check.js';
import type { CompiledWorkflow } from '../../workflows/load.js';
import { layout, type PageContext } from './layout.js';

function triggerText(trigger: Record<string, unknown>): string {
  const { type, ...rest } = trigger;
  const parts = Object.entries(rest).map(
    ([key, value]) =>
      `${key}: ${Array.isArray(value) ? value.join(', ') : typeof value === 'object' ? JSON.stringify(value) : String(value)}`,
  );
  return `${String(type)}${parts.length ? ` — ${parts.join(' · ')}` : ''}`;
}

/** What the file on disk says next to the running configuration: nothing when they are the same. */
function onDiskNotice(file: string, onDisk: ConfigFileState | undefined): Html | '' {
  if (!onDisk || onDisk.state === 'in_force') return '';
  if (onDisk.state === 'changed') {
    return html`<p class="notice" role="status"><code>${file}</code> was edited and is valid (${onDisk.workflows} workflows). It takes effect when crmflow's processes restart; until then the workflows below run.</p>`;
  }
  return html`<section class="notice error" role="alert" aria-labelledby="broken-h">
  <h2 id="broken-h"><code>${file}</code> on disk has ${onDisk.issues.length} error${onDisk.issues.length === 1 ? '' : 's'}</h2>
  <p>The workflows below stay in force; a restart with this file would fail. Fix these (also <code>npx crmflow validate</code>):</p>
  <ul class="config-issues">${onDisk.issues.map((issue) => html`<li><code>${issue}</code></li>`)}</ul>
</section>`;
}

export function workflowsPage(
  context: PageContext,
  data: { file: string; workflows: CompiledWorkflow[]; stats: Map<string, WorkflowStats>; onDisk?: ConfigFileState },
): Html {
  const body = html`
${onDiskNotice(data.file, data.onDisk)}
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
    (step) =>
      html`<li><strong>${step.id}</strong> <span class="muted">${step.definition.type}</span>${step.config.name ? html` — ${String(step.config.name)}` : ''}${step.config.if ? html` <span class="muted">if <code>${String(step.config.if)}</code></span>` : ''}</li>`,
  )}</ol>
  <p><a href="/runs?workflow=${encodeURIComponent(workflow.id)}">Runs of ${workflow.id}</a></p>
</li>`;
  })}</ul>`;
  return layout(context, 'Workflows', body);
}
