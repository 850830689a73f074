import { formatDuration } from '../../engine/business-time.js';
import type { CaseEntry, CaseFigures, CaseRow, FeedbackRow } from '../../operations/cases.js';
import type { AgentConfig } from '../../workflows/config-types.js';
import { hasRole } from '../auth.js';
import { html, statusBadge, time, type Html } from '../html.js';
import { layout, type PageContext } from './layout.js';

/** A case as the queue shows it: with the open time left on its targets (see CaseServices.view). */
export type CaseView = CaseRow & {
  first_response_time_left_ms: number | null;
  resolution_time_left_ms: number | null;
  overdue: boolean;
};

export const CASE_QUEUES = { mine: 'Mine', pool: 'My pool', all: 'All open' } as const;
export type CaseQueue = keyof typeof CASE_QUEUES;

/** `2h 15m left` or `overdue by 1h`, counted in the pool's business hours; nothing once the target no longer runs. */
function timeLeft(ms: number | null, paused: boolean): Html | string {
  if (ms === null) return '';
  if (ms < 0) return html`<strong class="overdue">overdue by ${formatDuration(ms)}</strong>`;
  return `${formatDuration(ms)} left${paused ? ' (paused)' : ''}`;
}

/** The target that matters now: the first response until someone answered, then the resolution. */
function nextTarget(row: CaseView): Html | string {
  const paused = row.status === 'waiting_on_customer';
  if (row.first_responded_at === null && row.first_response_time_left_ms !== null)
    return html`answer: ${timeLeft(row.first_response_time_left_ms, paused)}`;
  if (row.resolution_time_left_ms !== null && (row.status === 'open' || paused))
    return html`resolve: ${timeLeft(row.resolution_time_left_ms, paused)}`;
  return '';
}

const agentName = (agents: ReadonlyMap<string, AgentConfig>, id: string | null) =>
  id === null ? '—' : (agents.get(id)?.name ?? id);

export function caseRows(cases: CaseView[], agents: ReadonlyMap<string, AgentConfig>): Html {
  if (cases.length === 0) return html`<p class="muted">No cases here.</p>`;
  return html`<div class="table-wrap">
    <table id="cases-table">
      <thead>
        <tr>
          <th scope="col">Case</th>
          <th scope="col">Subject</th>
          <th scope="col">Status</th>
          <th scope="col">Priority</th>
          <th scope="col">Owner</th>
          <th scope="col">Time left (business hours)</th>
        </tr>
      </thead>
      <tbody>
        ${cases.map(
          (row) =>
            html`<tr data-case="${row.id}" ${row.overdue ? html` class="overdue"` : ''}>
              <td data-label="Case"><a href="/cases/${row.id}">#${row.id}</a> <span class="muted">${row.channel ?? ''}</span></td>
              <td data-label="Subject">${row.subject} <a class="muted" href="/customers/${row.customer_id}">customer #${row.customer_id}</a></td>
              <td data-label="Status">${statusBadge(row.status)}</td>
              <td data-label="Priority">${row.priority}</td>
              <td data-label="Owner">${agentName(agents, row.owner_agent_id)}</td>
              <td data-label="Time left">${nextTarget(row)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** The support queue: mine, my pool or all open cases, overdue first, then soonest due. */
/** The reports' figures of the period: unknown figures (nothing measured) read "—", never 0. */
function figuresSection(figures: CaseFigures): Html {
  const duration = (ms: number | null) => (ms === null ? '—' : formatDuration(ms));
  const share = (rate: number | null) => (rate === null ? '—' : `${Math.round(rate * 100)}%`);
  return html`<section class="card" aria-labelledby="figures-h">
    <h2 id="figures-h">Since ${time(figures.from)}</h2>
    <dl class="facts" id="case-figures">
      <div>
        <dt>Open now</dt>
        <dd>${figures.active_now}</dd>
      </div>
      <div>
        <dt>Opened</dt>
        <dd>${figures.opened}</dd>
      </div>
      <div>
        <dt>Median first response</dt>
        <dd>${duration(figures.median_first_response_ms)} <span class="muted">business hours</span></dd>
      </div>
      <div>
        <dt>Median resolution</dt>
        <dd>${duration(figures.median_resolution_ms)} <span class="muted">business hours, waits included</span></dd>
      </div>
      <div>
        <dt>First-response breaches</dt>
        <dd>${share(figures.first_response_breach_rate)}</dd>
      </div>
      <div>
        <dt>Resolution breaches</dt>
        <dd>${share(figures.resolution_breach_rate)}</dd>
      </div>
      <div>
        <dt>CSAT (resolved)</dt>
        <dd>${figures.csat_average === null ? '—' : `${figures.csat_average.toFixed(1)}/5`} <span class="muted">${figures.csat_answers} answers</span></dd>
      </div>
    </dl>
  </section>`;
}

export function casesPage(
  context: PageContext,
  data: {
    queue: CaseQueue;
    agentId: string | undefined;
    cases: CaseView[];
    agents: ReadonlyMap<string, AgentConfig>;
    figures: CaseFigures;
  },
): Html {
  const tabs = (Object.keys(CASE_QUEUES) as CaseQueue[]).map(
    (queue) =>
      html`<li><a href="/cases?queue=${queue}" ${queue === data.queue ? html` aria-current="page"` : ''}>${CASE_QUEUES[queue]}</a></li>`,
  );
  const body = html` <nav aria-label="Case queues" class="tabs">
      <ul>
        ${tabs}
      </ul>
    </nav>
    ${data.agentId === undefined && data.queue !== 'all' ? html`<p class="notice warn">Your user name is no agent id or email in workflows.yaml: showing every open case.</p>` : ''}
    <p class="muted">
      Open and waiting cases, overdue first. Time left is counted in each pool’s business hours and paused while a case waits on the customer.
    </p>
    ${caseRows(data.cases, data.agents)} ${figuresSection(data.figures)}`;
  return layout(context, 'Cases', body);
}

const KIND_LABEL: Record<CaseEntry['kind'], string> = {
  inbound: 'Customer',
  reply: 'Reply',
  auto_reply: 'Automatic message',
  note: 'Note',
  status: 'Status',
  assignment: 'Assigned',
  feedback: 'Rating',
};

function entryText(entry: CaseEntry): Html | string {
  const data = entry.data as { from?: string | null; to?: string; status?: string };
  if (entry.kind === 'status')
    return html`${data.from ?? ''} → ${data.to ?? ''}${entry.body ? html` <span class="muted">${entry.body}</span>` : ''}`;
  if (entry.kind === 'assignment') return `${data.from ?? 'nobody'} → ${data.to ?? ''}`;
  return html`${entry.body ?? ''}${data.status && data.status !== 'sent' ? html` <span class="muted">(${data.status})</span>` : ''}`;
}

/** One case: facts, the thread oldest first, and (for support users) reply, note, status and assignment forms. */
export function caseDetailPage(
  context: PageContext,
  data: {
    case: CaseView & { thread: CaseEntry[]; feedback: FeedbackRow[] };
    agents: ReadonlyMap<string, AgentConfig>;
    requestId: string;
    notice?: string;
  },
): Html {
  const row = data.case;
  const canAct = hasRole(context.session, 'support');
  const csrf = html`<input type="hidden" name="_csrf" value="${context.csrf}" />`;
  const body = html` ${data.notice ? html`<p class="notice" role="status">${data.notice}</p>` : ''}
    <div class="columns">
      <section class="card" aria-labelledby="case-h">
        <h2 id="case-h">${row.subject}</h2>
        <dl class="facts">
          <div>
            <dt>Status</dt>
            <dd id="case-status">${statusBadge(row.status)}</dd>
          </div>
          <div>
            <dt>Priority</dt>
            <dd>${row.priority}</dd>
          </div>
          <div>
            <dt>Customer</dt>
            <dd><a href="/customers/${row.customer_id}">#${row.customer_id}</a> <span class="muted">via ${row.channel ?? 'email'}</span></dd>
          </div>
          <div>
            <dt>Owner</dt>
            <dd>${agentName(data.agents, row.owner_agent_id)} <span class="muted">pool ${row.pool}</span></dd>
          </div>
          <div>
            <dt>First response</dt>
            <dd id="first-response">
              ${row.first_responded_at ? html`answered ${time(row.first_responded_at)} by ${row.first_responded_by ?? ''}` : html`${timeLeft(row.first_response_time_left_ms, row.status === 'waiting_on_customer')}${row.first_response_due_at ? html` <span class="muted">due ${time(row.first_response_due_at)}</span>` : ''}`}
            </dd>
          </div>
          <div>
            <dt>Resolution</dt>
            <dd>${row.resolved_at ? html`resolved ${time(row.resolved_at)}` : timeLeft(row.resolution_time_left_ms, row.status === 'waiting_on_customer')}</dd>
          </div>
          <div>
            <dt>Opened</dt>
            <dd>${time(row.opened_at)}</dd>
          </div>
          ${
            row.feedback.length > 0
              ? html`<div>
                  <dt>Satisfaction</dt>
                  <dd id="case-csat">${row.feedback[0]!.score}/5</dd>
                </div>`
              : ''
          }
        </dl>
      </section>
      ${
        canAct
          ? html`<section class="card" aria-labelledby="act-h">
              <h2 id="act-h">Act</h2>
              <form method="post" action="/cases/${row.id}/reply">
                ${csrf}<input type="hidden" name="request_id" value="${data.requestId}" />
                <label for="reply-body">Reply to the customer (${row.channel ?? 'email'})</label
                ><textarea id="reply-body" name="body" rows="3" required></textarea> <button type="submit">Send reply</button>
              </form>
              <form method="post" action="/cases/${row.id}/note">
                ${csrf} <label for="note-body">Internal note</label><textarea id="note-body" name="body" rows="2" required></textarea>
                <button type="submit">Add note</button>
              </form>
              <form method="post" action="/cases/${row.id}/status">
                ${csrf}
                <label for="status">Status</label>
                <select id="status" name="status">
                  ${['open', 'waiting_on_customer', 'resolved', 'closed'].map((status) => html`<option value="${status}" ${status === row.status ? ' selected' : ''}>${status.replaceAll('_', ' ')}</option>`)}
                </select>
                <label class="check"><input type="checkbox" name="ask_feedback" value="1" checked /> On resolve, ask the customer to rate the help (1–5)</label>
                <button type="submit">Set status</button>
              </form>
              <form method="post" action="/cases/${row.id}/assign">
                ${csrf}
                <label for="agent">Owner</label>
                <select id="agent" name="agent_id">
                  ${[...data.agents.values()].map((agent) => html`<option value="${agent.id}" ${agent.id === row.owner_agent_id ? ' selected' : ''}>${agent.name}</option>`)}
                </select>
                <button type="submit">Assign</button>
              </form>
            </section>`
          : ''
      }
    </div>
    <section class="card" aria-labelledby="thread-h">
      <h2 id="thread-h">Thread</h2>
      <ol class="thread" id="case-thread">
        ${row.thread.map(
          (entry) =>
            html`<li data-kind="${entry.kind}">
              <span class="muted"
                >${time(entry.at)} · ${KIND_LABEL[entry.kind]}${entry.author ? ` · ${entry.author}` : ''}${entry.channel ? ` · ${entry.channel}` : ''}</span
              ><br />${entryText(entry)}
            </li>`,
        )}
      </ol>
    </section>`;
  return layout(context, `Case #${row.id}`, body);
}
