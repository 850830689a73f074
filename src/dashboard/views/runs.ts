import { hasRole } from '../auth.js';
import { html, json, statusBadge, time, type Html } from '../html.js';
import { maskSecrets } from '../mask.js';
import { readableError } from '../readable-error.js';
import type { MessageRow } from '../../operations/messages.js';
import {
  CANCELLABLE_RUN_STATUSES,
  RUN_STATUSES,
  type InboxEvent,
  type RunRow,
  type StepRecord,
} from '../../operations/runs.js';
import { layout, type PageContext } from './layout.js';

/** The runs filter's extra choice: runs with an uncertain reply, which need a person whatever their status says. */
export const NEEDS_PERSON = 'needs_person';

export const PERIODS: Record<string, { label: string; ms?: number }> = {
  '': { label: 'Any time' },
  '15m': { label: 'Last 15 minutes', ms: 15 * 60_000 },
  '1h': { label: 'Last hour', ms: 3_600_000 },
  '24h': { label: 'Last 24 hours', ms: 86_400_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 86_400_000 },
  '30d': { label: 'Last 30 days', ms: 30 * 86_400_000 },
};

/** The runs page's filter, as typed into its form (also the query of its live stream). */
export interface RunsQuery {
  workflow: string;
  status: string;
  connector: string;
  customer: string;
  period: string;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

function runDuration(run: RunRow): number | null {
  return run.startedAt && run.finishedAt
    ? new Date(run.finishedAt).getTime() - new Date(run.startedAt).getTime()
    : null;
}

function trigger(run: RunRow): string {
  const t = run.trigger as { connector?: string; type?: string; tick?: string };
  if (t.connector) return `${t.connector} ${t.type ?? ''}`.trim();
  if (t.tick) return `schedule ${t.tick}`;
  return run.triggerKey;
}

/**
 * A run's status; a run that succeeded past failed steps (`on_error: continue`) says so, and a run with an uncertain
 * reply shows that it needs a person, whatever status its steps ended with.
 */
export function runStatusBadge(run: RunRow, needsPerson = false): Html {
  if (needsPerson) return html`<span class="status status-needs_person">needs a person</span>`;
  if (run.status === 'succeeded' && run.error)
    return html`<span class="status status-partial" title="Some steps failed and the run went on (on_error: continue)">succeeded, steps failed</span>`;
  // A failed run that will run again (the job's next attempt, or a person's retry) is queued with its last error.
  if (run.status === 'queued' && run.error)
    return html`<span class="status status-retrying" title="The last attempt failed; the run is queued to run again">retrying</span>`;
  return statusBadge(run.status);
}

/** The run's error for people: a readable reason; the raw text (vendor URLs, bodies) under Details where there is room. */
function runError(error: string, details: boolean): Html {
  const readable = readableError(error);
  if (!details || readable === error) return html`${readable}`;
  return html`${readable}<details class="raw-error"><summary>Details</summary><code>${error}</code></details>`;
}

/** One row of the runs table; the live stream sends the same HTML for new and changed runs. */
export function runRow(run: RunRow, needsPerson = false): Html {
  return html`<tr data-run-id="${run.id}" data-status="${run.status}" data-attempts="${run.attempts}"${needsPerson ? html` data-needs-person="1"` : ''}>
  <td data-label="Run"><a href="/runs/${run.id}">#${run.id}</a></td>
  <td data-label="Workflow">${run.workflow}</td>
  <td data-label="Status">${runStatusBadge(run, needsPerson)}</td>
  <td data-label="Trigger">${trigger(run)}</td>
  <td data-label="Customer">${run.customerId === null ? html`<span class="muted">—</span>` : html`<a href="/customers/${run.customerId}">#${run.customerId}</a>`}</td>
  <td data-label="Created">${time(run.createdAt)}</td>
  <td data-label="Duration">${duration(runDuration(run))}</td>
  <td data-label="Error" class="error-cell">${run.status === 'waiting' ? html`<span class="muted">resumes ${time(run.resumeAt)}</span>` : run.error ? runError(run.error, false) : ''}</td>
</tr>`;
}

function options(values: readonly string[], selected: string, all: string, labels: Record<string, string> = {}): Html {
  return html`<option value="">${all}</option>${values.map((value) => html`<option value="${value}"${value === selected ? html` selected` : ''}>${labels[value] ?? value}</option>`)}`;
}

export function runsPage(
  context: PageContext,
  data: {
    query: RunsQuery;
    runs: RunRow[];
    workflows: string[];
    connectors: string[];
    nextBefore: number | null;
    before?: number;
    notice?: string;
    needsPerson?: Set<number>;
  },
): Html {
  const { query } = data;
  const params = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== '')).toString();
  const body = html`
<form class="filters" method="get" action="/runs" role="search" aria-label="Filter runs">
  <div><label for="f-workflow">Workflow</label><select id="f-workflow" name="workflow">${options(data.workflows, query.workflow, 'All workflows')}</select></div>
  <div><label for="f-status">Status</label><select id="f-status" name="status">${options([...RUN_STATUSES, NEEDS_PERSON], query.status, 'Any status', { [NEEDS_PERSON]: 'needs a person' })}</select></div>
  <div><label for="f-connector">Connector</label><select id="f-connector" name="connector">${options(data.connectors, query.connector, 'Any connector')}</select></div>
  <div><label for="f-customer">Customer</label><input id="f-customer" name="customer" value="${query.customer}" placeholder="email, phone or id"></div>
  <div><label for="f-period">Time</label><select id="f-period" name="period">${Object.entries(PERIODS).map(
    ([value, period]) =>
      html`<option value="${value}"${value === query.period ? html` selected` : ''}>${period.label}</option>`,
  )}</select></div>
  <div class="actions"><button type="submit">Filter</button> <a href="/runs">Clear</a></div>
</form>
${data.notice ? html`<p class="notice error" role="alert">${data.notice}</p>` : ''}
<p class="live-state" aria-live="polite">${data.before === undefined ? html`<span class="live-dot" aria-hidden="true"></span> New runs appear here as they start.` : 'Older runs (live updates only on the first page).'}</p>
<div class="table-wrap">
<table class="runs" id="runs-table" data-live-query="${data.before === undefined ? params : ''}">
  <caption class="sr-only">Workflow runs, newest first</caption>
  <thead><tr><th scope="col">Run</th><th scope="col">Workflow</th><th scope="col">Status</th><th scope="col">Trigger</th><th scope="col">Customer</th><th scope="col">Created</th><th scope="col">Duration</th><th scope="col">Error</th></tr></thead>
  <tbody>${data.runs.map((run) => runRow(run, data.needsPerson?.has(run.id)))}</tbody>
</table>
</div>
${data.runs.length === 0 ? html`<p class="empty">No runs match.</p>` : ''}
<nav class="pager" aria-label="Pages">
  ${data.before !== undefined ? html`<a href="/runs${params ? `?${params}` : ''}">Newest</a>` : ''}
  ${data.nextBefore !== null ? html`<a href="/runs?${params ? `${params}&` : ''}before=${data.nextBefore}">Older runs</a>` : ''}
</nav>`;
  return layout(context, 'Runs', body, { live: data.before === undefined });
}

export function runDetailPage(
  context: PageContext,
  data: {
    run: RunRow;
    steps: StepRecord[];
    plannedSteps: Array<{ id: string; type: string }>;
    event: InboxEvent | undefined;
    replayable: boolean;
    notice?: string;
    /** The run's replies whose delivery is unknown: the run needs a person. */
    uncertain?: MessageRow[];
  },
): Html {
  const { run, event } = data;
  const canAct = hasRole(context.session, 'support');
  const recorded = new Map(data.steps.map((step) => [step.stepIndex, step]));
  const stepCount = Math.max(data.plannedSteps.length, ...data.steps.map((step) => step.stepIndex + 1));
  const steps = Array.from({ length: stepCount }, (_, index) => {
    const record = recorded.get(index);
    const planned = data.plannedSteps[index];
    const name = record?.stepId ?? planned?.id ?? `step ${index + 1}`;
    const type = record?.type ?? planned?.type ?? '?';
    if (!record) {
      return html`<li class="step not-run"><h3><span class="step-name">${name}</span> <span class="step-type">(${type})</span> <span class="status status-not_run">not run</span></h3></li>`;
    }
    return html`<li class="step" data-step="${name}">
  <h3><span class="step-name">${name}</span> <span class="step-type">(${type})</span> ${statusBadge(record.status)} <span class="muted">${duration(record.durationMs)} · attempt ${record.attempt} · started ${time(record.startedAt)}</span></h3>
  ${record.error ? html`<div class="step-error"><strong>Error:</strong> ${runError(record.error, true)}</div>` : ''}
  <details><summary>Input</summary>${json(maskSecrets(record.input, context.session.role))}</details>
  <details${record.status === 'succeeded' ? html` open` : ''}><summary>Output</summary>${json(maskSecrets(record.output, context.session.role))}</details>
</li>`;
  });
  const payload = run.payload ?? event?.payload ?? run.trigger;
  const pruned = run.stepsPrunedAt
    ? html`<p class="notice" id="run-pruned">Step records and payload removed by retention on ${time(run.stepsPrunedAt)} (runs finished more than <code>CRMFLOW_RUN_RETENTION_DAYS</code> ago keep only this summary).</p>`
    : '';
  const body = html`
${data.notice ? html`<p class="notice" role="status">${data.notice}</p>` : ''}
<section class="card run-summary" aria-labelledby="summary-h" data-run-id="${run.id}" data-status="${run.status}" data-attempts="${run.attempts}"${run.status === 'queued' || run.status === 'running' || data.notice ? html` data-watch="1"` : ''}>
  <h2 id="summary-h" class="sr-only">Summary</h2>
  <dl class="facts">
    <div><dt>Status</dt><dd id="run-status">${runStatusBadge(run, (data.uncertain ?? []).length > 0)}</dd></div>
    <div><dt>Workflow</dt><dd><a href="/runs?workflow=${encodeURIComponent(run.workflow)}">${run.workflow}</a> <span class="muted">version ${run.workflowVersion.slice(0, 12)}</span></dd></div>
    <div><dt>Customer</dt><dd>${run.customerId === null ? '—' : html`<a href="/customers/${run.customerId}">#${run.customerId}</a>`}</dd></div>
    <div><dt>Attempts</dt><dd>${run.attempts}</dd></div>
    <div><dt>Created</dt><dd>${time(run.createdAt)}</dd></div>
    <div><dt>Started</dt><dd>${time(run.startedAt)}</dd></div>
    <div><dt>Finished</dt><dd>${time(run.finishedAt)}</dd></div>
    ${run.status === 'waiting' ? html`<div><dt>Resumes</dt><dd>${time(run.resumeAt)}</dd></div>` : ''}
    <div><dt>Duration</dt><dd>${duration(runDuration(run))}</dd></div>
  </dl>
  ${run.error ? html`<div class="step-error"><strong>${run.status === 'queued' ? 'Last attempt failed:' : 'Error:'}</strong> ${runError(run.error, true)}</div>` : ''}
  ${canAct ? runActions(run, context.csrf, data.replayable) : html`<p class="muted">Retry, replay and cancel need the support or admin role.</p>`}
</section>
${(data.uncertain ?? []).length > 0 ? uncertainReplies(data.uncertain!, canAct ? context.csrf : undefined) : ''}
<section aria-labelledby="steps-h">
  <h2 id="steps-h">Steps</h2>
  ${pruned}
  ${run.stepsPrunedAt ? '' : html`<ol class="steps">${steps}</ol>`}
</section>
<section aria-labelledby="trigger-h">
  <h2 id="trigger-h">Trigger event</h2>
  ${
    event
      ? html`<dl class="facts">
    <div><dt>Connector</dt><dd>${event.connector}</dd></div>
    <div><dt>Type</dt><dd>${event.type}</dd></div>
    <div><dt>Vendor id</dt><dd>${event.externalId}</dd></div>
    <div><dt>Origin</dt><dd>${event.origin}</dd></div>
    <div><dt>Occurred</dt><dd>${time(event.occurredAt)}</dd></div>
    <div><dt>Received</dt><dd>${time(event.receivedAt)}</dd></div>
  </dl>`
      : html`<p class="muted">${run.triggerKey}</p>`
  }
  ${
    event?.payloadPrunedAt
      ? html`<p class="muted">The event's payload was removed by retention on ${time(event.payloadPrunedAt)}.</p>`
      : html`<p class="muted">Values of keys that look like secrets, tokens or passwords are masked.</p>
  ${json(maskSecrets(payload, context.session.role))}`
  }
</section>`;
  return layout(context, `Run #${run.id}`, body);
}

/** Replies whose delivery is unknown, each with a resend button for support staff (after checking it did not arrive). */
function uncertainReplies(messages: MessageRow[], csrf: string | undefined): Html {
  return html`<section aria-labelledby="uncertain-h" class="card" id="uncertain-replies">
  <h2 id="uncertain-h">Needs a person: a reply may not have arrived</h2>
  <p class="muted">The vendor gave no clear answer after the send (a timeout or a reset), so crmflow does not know whether the customer got it and never sends it again by itself. Check with the customer or the vendor's log; resend only if it did not arrive.</p>
  <ul>${messages.map(
    (
      message,
    ) => html`<li data-message-id="${message.id}">${statusBadge(message.status)} ${message.channel} to ${message.recipient}${message.statusReason ? html` <span class="muted">${message.statusReason}</span>` : ''}
    ${csrf ? html`<form method="post" action="/messages/${message.id}/resend" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Resend</button></form>` : html`<span class="muted">Resending needs the support or admin role.</span>`}</li>`,
  )}</ul>
</section>`;
}

/** Retry (failed runs), replay (runs of a stored event whose workflow still exists) and cancel with a reason. */
function runActions(run: RunRow, csrf: string, replayable: boolean): Html {
  const csrfField = html`<input type="hidden" name="_csrf" value="${csrf}">`;
  const retry =
    run.status === 'failed' && !run.stepsPrunedAt
      ? html`<form method="post" action="/runs/${run.id}/retry">${csrfField}<button type="submit" class="primary">Retry run</button> <span class="muted">Runs again from the failed step; earlier steps are not repeated.</span></form>`
      : '';
  const replay = replayable
    ? html`<form method="post" action="/runs/${run.id}/replay">${csrfField}<button type="submit">Replay event</button> <span class="muted">Runs the original event through the current version of the workflow, as a new run (replies are sent again).</span></form>`
    : '';
  const cancel = CANCELLABLE_RUN_STATUSES.includes(run.status)
    ? html`<form method="post" action="/runs/${run.id}/cancel" class="cancel-run">${csrfField}<label for="cancel-reason">Reason for cancelling</label> <input id="cancel-reason" name="reason" required maxlength="500" placeholder="e.g. stuck after the vendor outage; handled by hand"> <button type="submit" class="danger">Cancel run</button></form>`
    : '';
  return html`<div class="run-actions">${retry}${replay}${cancel}</div>`;
}
