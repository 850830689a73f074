import { html, statusBadge, time, type Html } from '../html.js';
import type { ConnectorSignalSummary } from '../../observability/connector-signals.js';
import type { ConnectorHealth, FailedRun, MinuteCount } from '../../operations/overview.js';
import type { WorkflowStats } from '../../operations/workflows.js';
import { readableError } from '../readable-error.js';
import { layout, type PageContext } from './layout.js';

export const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const;

/** Bars of runs per minute, oldest left; the failed part of each bar stacked on top in the failure colour. */
export function runsChart(counts: MinuteCount[], now: Date, minutes = 60): Html {
  const byMinute = new Map(counts.map((count) => [new Date(count.minute).getTime(), count]));
  const thisMinute = Math.floor(now.getTime() / 60_000) * 60_000;
  const series = Array.from({ length: minutes }, (_, index) => {
    const at = thisMinute - (minutes - 1 - index) * 60_000;
    return { ago: minutes - 1 - index, total: byMinute.get(at)?.total ?? 0, failed: byMinute.get(at)?.failed ?? 0 };
  });
  const peak = Math.max(1, ...series.map((point) => point.total));
  const total = series.reduce((sum, point) => sum + point.total, 0);
  const failed = series.reduce((sum, point) => sum + point.failed, 0);
  const [width, height, bar] = [600, 120, 10];
  const bars = series.map((point, index) => {
    if (point.total === 0) return '';
    const h = Math.max(2, (point.total / peak) * (height - 4));
    const fh = point.failed === 0 ? 0 : Math.max(2, (point.failed / peak) * (height - 4));
    const x = index * bar + 1;
    const label = `${point.ago === 0 ? 'this minute' : `${point.ago} min ago`}: ${point.total} runs, ${point.failed} failed`;
    return html`<g><title>${label}</title><rect class="bar-ok" x="${x}" y="${(height - h).toFixed(1)}" width="${bar - 2}" height="${h.toFixed(1)}"></rect>${
      fh > 0
        ? html`<rect class="bar-failed" x="${x}" y="${(height - fh).toFixed(1)}" width="${bar - 2}" height="${fh.toFixed(1)}"></rect>`
        : ''
    }</g>`;
  });
  const summary = `${total} runs in the last hour, ${failed} failed; at most ${total === 0 ? 0 : peak} in one minute.`;
  return html`<figure class="chart">
  <svg viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" aria-label="${summary}">
    <line class="axis" x1="0" y1="${height - 0.5}" x2="${width}" y2="${height - 0.5}"></line>
    ${bars}
  </svg>
  <div class="chart-axis" aria-hidden="true"><span>60 min ago</span><span>30 min ago</span><span>now</span></div>
  <figcaption>${summary} <span class="legend"><span class="key key-ok"></span> runs <span class="key key-failed"></span> failed</span></figcaption>
</figure>`;
}

function rate(stats: WorkflowStats): Html {
  if (stats.total === 0) return html`<span class="muted">no finished runs</span>`;
  const percent = (stats.succeeded / stats.total) * 100;
  const tone = percent >= 99 ? 'good' : percent >= 90 ? 'warn' : 'bad';
  return html`<span class="rate rate-${tone}">${percent.toFixed(percent === 100 ? 0 : 1)}%</span> <span class="muted">(${stats.succeeded}/${stats.total})</span>`;
}

export function overviewPage(
  context: PageContext,
  data: {
    queue: { name: string; counts: Record<string, number> } | { name: string; error: string };
    perMinute: MinuteCount[];
    now: Date;
    workflows: WorkflowStats[];
    failures: FailedRun[];
    connectors: ConnectorHealth[];
    /** Undefined when Redis did not answer. */
    signals: Map<string, ConnectorSignalSummary> | undefined;
    /** Runs with a reply whose delivery is unknown. */
    needsPerson?: number;
  },
): Html {
  const { queue } = data;
  // The same runs as the failures listed: failed, of these workflows, over the same 24 hours.
  const failedCount = data.workflows.reduce((sum, stats) => sum + stats.failed, 0);
  const body = html`
<section aria-labelledby="attention-h">
  <h2 id="attention-h">Needs a person</h2>
  ${
    data.needsPerson
      ? html`<p class="notice warning" role="status" id="needs-person"><a href="/runs?status=needs_person"><strong>${data.needsPerson}</strong> ${data.needsPerson === 1 ? 'run has' : 'runs have'} a reply that may not have arrived</a>: check with the customer, then resend it from the run's page.</p>`
      : html`<p class="muted" id="needs-person">No run needs a person: every reply's delivery is known.</p>`
  }
</section>
<section aria-labelledby="queues-h">
  <h2 id="queues-h">Queue</h2>
  ${
    'error' in queue
      ? html`<p class="notice error" role="alert">Redis did not answer: ${queue.error}</p>`
      : html`<ul class="counts" aria-label="Jobs in the ${queue.name} queue">${QUEUE_STATES.map(
          (state) =>
            html`<li class="count count-${state}"><span class="n">${queue.counts[state] ?? 0}</span> <span class="label">${state}</span></li>`,
        )}</ul>`
  }
</section>
<section aria-labelledby="chart-h">
  <h2 id="chart-h">Runs per minute, last hour</h2>
  ${runsChart(data.perMinute, data.now)}
</section>
<div class="columns">
<section aria-labelledby="rates-h">
  <h2 id="rates-h">Success rate per workflow <span class="muted">(last 24 h)</span></h2>
  <div class="table-wrap"><table>
    <thead><tr><th scope="col">Workflow</th><th scope="col">Success</th><th scope="col">Failed</th><th scope="col">Last run</th></tr></thead>
    <tbody>${data.workflows.map(
      (stats) => html`<tr>
      <td data-label="Workflow"><a href="/runs?workflow=${encodeURIComponent(stats.workflow)}">${stats.workflow}</a></td>
      <td data-label="Success">${rate(stats)}</td>
      <td data-label="Failed">${stats.failed > 0 ? html`<a href="/runs?workflow=${encodeURIComponent(stats.workflow)}&status=failed">${stats.failed}</a>` : '0'}</td>
      <td data-label="Last run">${stats.lastRunId === null ? html`<span class="muted">never</span>` : html`<a href="/runs/${stats.lastRunId}">#${stats.lastRunId}</a> ${statusBadge(stats.lastStatus!)} ${time(stats.lastRunAt)}`}</td>
    </tr>`,
    )}</tbody>
  </table></div>
</section>
<section aria-labelledby="failures-h">
  <h2 id="failures-h">Failed runs <span class="muted">(last 24 h)</span>: <span id="failed-count">${failedCount}</span></h2>
  ${
    data.failures.length === 0
      ? html`<p class="empty">No failed runs.</p>`
      : html`${failedCount > data.failures.length ? html`<p class="muted">The latest ${data.failures.length}; <a href="/runs?status=failed&period=24h">all of them</a>.</p>` : ''}<ul class="failures">${data.failures.map(
          (run) =>
            html`<li><a href="/runs/${run.id}">#${run.id} ${run.workflow}</a> ${time(run.finishedAt)}<br><span class="error-text">${readableError(run.error ?? '')}</span></li>`,
        )}</ul>`
  }
</section>
</div>
<section aria-labelledby="health-h">
  <h2 id="health-h">Connector health</h2>
  <div class="table-wrap"><table>
    <thead><tr><th scope="col">Connector</th><th scope="col">Last webhook</th><th scope="col">Webhooks, last hour</th><th scope="col">Signature failures, last hour</th><th scope="col">Pull cursors</th><th scope="col">Last failed event</th><th scope="col">Last error</th></tr></thead>
    <tbody>${data.connectors.map(
      (health) => html`<tr>
      <td data-label="Connector">${health.connector}</td>
      <td data-label="Last webhook">${health.lastWebhookAt ? time(health.lastWebhookAt) : html`<span class="muted">none yet</span>`}</td>
      <td data-label="Webhooks, last hour">${health.webhooksLastHour}</td>
      <td data-label="Signature failures, last hour">${signalCell(data.signals, health.connector, (signal) => (signal.signatureFailuresLastHour > 0 ? html`<span class="status status-failed">${signal.signatureFailuresLastHour}</span>` : html`0`))}</td>
      <td data-label="Pull cursors">${
        health.cursors.length === 0
          ? html`<span class="muted">no pulls</span>`
          : health.cursors.map(
              (cursor) =>
                html`<div><strong>${cursor.resource}</strong>: <code>${JSON.stringify(cursor.cursor).slice(0, 80)}</code> ${time(cursor.updatedAt)}</div>`,
            )
      }</td>
      <td data-label="Last failed event">${
        health.lastFailedEvent
          ? html`<span class="status status-failed">failed</span> ${health.lastFailedEvent.type} #${health.lastFailedEvent.id} ${time(health.lastFailedEvent.receivedAt)}`
          : html`<span class="muted">none</span>`
      }</td>
      <td data-label="Last error">${signalCell(data.signals, health.connector, (signal) =>
        signal.lastError
          ? html`<span title="${signal.lastError.message}">${readableError(signal.lastError.message)}</span> <span class="muted">${time(new Date(signal.lastError.at))}</span>`
          : html`<span class="muted">none</span>`,
      )}</td>
    </tr>`,
    )}</tbody>
  </table></div>
</section>`;
  return layout(context, 'Overview', body);
}

function signalCell(
  signals: Map<string, ConnectorSignalSummary> | undefined,
  connector: string,
  render: (signal: ConnectorSignalSummary) => Html,
): Html {
  const signal = signals?.get(connector);
  return signal ? render(signal) : html`<span class="muted">unknown (Redis did not answer)</span>`;
}
