import { hasRole } from '../auth.js';
import { html, time, type Html } from '../html.js';
import type { BoardColumn, DealListRow, Forecast, PipelineStats } from '../../operations/deals.js';
import type { AgentConfig } from '../../workflows/config-types.js';
import type { Pipeline } from '../../workflows/pipelines.js';
import { layout, type PageContext } from './layout.js';

function money(amount: number | null, currency: string | null): string {
  if (amount === null) return 'amount unknown';
  return `${amount.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency ?? ''}`.trim();
}

function ownerName(agents: ReadonlyMap<string, AgentConfig>, id: string | null): string {
  return id === null ? 'unassigned' : (agents.get(id)?.name ?? id);
}

/**
 * A card: customer, amount, owner, days in stage, stale mark. Support and admin get a plain form to move it (a select
 * and a button: works from the keyboard and without JavaScript); viewers get none.
 */
function dealCard(
  context: PageContext,
  pipeline: Pipeline,
  agents: ReadonlyMap<string, AgentConfig>,
  deal: BoardColumn['deals'][number],
): Html {
  const canMove = hasRole(context.session, 'support') && deal.status === 'open';
  const customer = deal.customer_name || `Customer #${deal.customer_id}`;
  return html`<li class="deal-card${deal.stale ? ' stale' : ''}" id="deal-${deal.id}" data-deal-id="${deal.id}" data-stage="${deal.stage}" aria-labelledby="deal-${deal.id}-name">
  <p class="deal-name" id="deal-${deal.id}-name"><a href="/customers/${deal.customer_id}">${customer}</a>${deal.name ? html` <span class="muted">${deal.name}</span>` : ''}</p>
  <p class="deal-amount">${money(deal.amount, deal.currency)}</p>
  <p class="muted">${ownerName(agents, deal.owner_agent_id)} · ${deal.days_in_stage} ${deal.days_in_stage === 1 ? 'day' : 'days'} in stage${deal.stale ? html` · <strong class="status status-stale">stale</strong>` : ''}</p>
  ${
    canMove
      ? html`<form class="move-deal" method="post" action="/deals/${deal.id}/stage">
    <input type="hidden" name="_csrf" value="${context.csrf}">
    <label for="stage-${deal.id}">Move ${customer} to</label>
    <select id="stage-${deal.id}" name="stage">${pipeline.stages.map((stage) => html`<option value="${stage.id}"${stage.id === deal.stage ? ' selected' : ''}>${stage.id}</option>`)}</select>
    <button type="submit">Move</button>
  </form>`
      : ''
  }
</li>`;
}

export function pipelinePage(
  context: PageContext,
  data: {
    pipeline: Pipeline;
    pipelines: string[];
    columns: BoardColumn[];
    forecast: Forecast;
    stats: PipelineStats;
    agents: ReadonlyMap<string, AgentConfig>;
    notice?: string;
  },
): Html {
  const { pipeline } = data;
  const body = html`
${data.notice ? html`<p class="notice" role="status">${data.notice}</p>` : ''}
${data.pipelines.length > 1 ? html`<nav aria-label="Pipelines"><ul class="inline-list">${data.pipelines.map((id) => html`<li><a href="/pipelines/${id}"${id === pipeline.id ? html` aria-current="page"` : ''}>${id}</a></li>`)}</ul></nav>` : ''}
<div class="board" role="region" aria-label="Deals by stage" tabindex="0">
${data.columns.map(
  (
    column,
  ) => html`<section class="board-column" data-stage="${column.stage.id}" aria-labelledby="col-${column.stage.id}">
  <h2 id="col-${column.stage.id}">${column.stage.id} <span class="muted">${column.count} · ${money(column.total, pipeline.currency)}</span></h2>
  <p class="muted">${column.stage.kind === 'open' ? `probability ${Math.round(column.stage.probability * 100)} %` : column.stage.kind}</p>
  ${column.deals.length === 0 ? html`<p class="empty">No deals.</p>` : html`<ul class="deal-cards">${column.deals.map((deal) => dealCard(context, pipeline, data.agents, deal))}</ul>`}
</section>`,
)}
</div>
<section aria-labelledby="forecast-h">
  <h2 id="forecast-h">Forecast by expected close month (${data.forecast.currency})</h2>
  ${forecastChart(data.forecast)}
  ${forecastTable(data.forecast)}
</section>
<section aria-labelledby="stats-h">
  <h2 id="stats-h">Win rate and time per stage</h2>
  <p>Win rate: ${data.stats.win_rate === null ? 'no deal closed yet' : `${Math.round(data.stats.win_rate * 1000) / 10} %`} <span class="muted">(${data.stats.won_deals} won, ${data.stats.lost_deals} lost)</span></p>
  <div class="table-wrap"><table class="stage-times">
    <thead><tr><th scope="col">Stage</th><th scope="col">Deals that entered it</th><th scope="col">Average days in it</th></tr></thead>
    <tbody>${data.stats.stages.map((row) => html`<tr><th scope="row" data-label="Stage">${row.stage}</th><td data-label="Deals">${row.deals}</td><td data-label="Average days">${row.average_days ?? '—'}</td></tr>`)}</tbody>
  </table></div>
</section>`;
  return layout(context, `Pipeline: ${pipeline.id}`, body);
}

const SERIES = [
  { key: 'open_amount', label: 'Open', className: 'bar-open' },
  { key: 'weighted_amount', label: 'Weighted', className: 'bar-weighted' },
  { key: 'won_amount', label: 'Won', className: 'bar-won' },
] as const;

/** Grouped bars per month, drawn on the server as SVG: no chart library, nothing to load. The table below has the figures. */
export function forecastChart(forecast: Forecast): Html {
  const width = 640;
  const height = 220;
  const top = 16;
  const bottom = 40;
  const left = 8;
  const plot = height - top - bottom;
  const max = Math.max(1, ...forecast.months.flatMap((month) => SERIES.map((series) => month[series.key])));
  const group = (width - left * 2) / Math.max(1, forecast.months.length);
  const bar = Math.min(28, (group - 12) / SERIES.length);
  return html`<svg class="forecast-chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="forecast-title" preserveAspectRatio="xMidYMid meet">
  <title id="forecast-title">Open, weighted and won amounts per month; the same figures are in the table below.</title>
  <line x1="${left}" y1="${top + plot}" x2="${width - left}" y2="${top + plot}" class="axis"></line>
  ${forecast.months.map((month, i) => {
    const x0 = left + i * group + (group - bar * SERIES.length) / 2;
    return html`<g data-month="${month.month}">${SERIES.map((series, s) => {
      const value = month[series.key];
      const h = Math.round((value / max) * plot);
      return html`<rect class="${series.className}" x="${(x0 + s * bar).toFixed(1)}" y="${top + plot - h}" width="${(bar - 2).toFixed(1)}" height="${h}"><title>${series.label} ${month.month}: ${money(value, forecast.currency)}</title></rect>`;
    })}<text x="${(left + i * group + group / 2).toFixed(1)}" y="${height - bottom + 18}" text-anchor="middle">${month.month}</text></g>`;
  })}
  ${SERIES.map((series, s) => html`<g class="legend"><rect class="${series.className}" x="${left + s * 110}" y="${height - 14}" width="12" height="12"></rect><text x="${left + s * 110 + 16}" y="${height - 4}">${series.label}</text></g>`)}
</svg>`;
}

function forecastTable(forecast: Forecast): Html {
  return html`<div class="table-wrap"><table class="forecast">
  <thead><tr><th scope="col">Month</th><th scope="col">Open</th><th scope="col">Weighted</th><th scope="col">Won</th></tr></thead>
  <tbody>${forecast.months.map(
    (month) => html`<tr data-month="${month.month}">
    <th scope="row" data-label="Month">${month.month}</th>
    <td data-label="Open">${money(month.open_amount, forecast.currency)} <span class="muted">(${month.open_deals})</span></td>
    <td data-label="Weighted">${money(month.weighted_amount, forecast.currency)}</td>
    <td data-label="Won">${money(month.won_amount, forecast.currency)} <span class="muted">(${month.won_deals})</span></td>
  </tr>`,
  )}</tbody></table></div>
<p class="muted">${forecast.unscheduled.deals} open ${forecast.unscheduled.deals === 1 ? 'deal' : 'deals'} (${money(forecast.unscheduled.amount, forecast.currency)}) with no expected close date in this range${forecast.other_currency_deals > 0 ? `; ${forecast.other_currency_deals} in other currencies left out` : ''}.</p>`;
}

/** The customer page's deals section. */
export function customerDeals(deals: DealListRow[], agents: ReadonlyMap<string, AgentConfig>): Html {
  return html`<section aria-labelledby="deals-h">
  <h2 id="deals-h">Deals</h2>
  ${
    deals.length === 0
      ? html`<p class="empty">No deals.</p>`
      : html`<div class="table-wrap"><table class="deals">
    <thead><tr><th scope="col">Deal</th><th scope="col">Pipeline</th><th scope="col">Stage</th><th scope="col">Amount</th><th scope="col">Owner</th><th scope="col">Since</th></tr></thead>
    <tbody>${deals.map(
      (deal) => html`<tr data-deal-id="${deal.id}">
      <td data-label="Deal">#${deal.id} ${deal.name ?? ''}</td>
      <td data-label="Pipeline"><a href="/pipelines/${deal.pipeline}#deal-${deal.id}">${deal.pipeline}</a></td>
      <td data-label="Stage">${deal.stage}${deal.status !== 'open' ? html` <span class="muted">${deal.close_reason ?? ''}</span>` : ''}</td>
      <td data-label="Amount">${money(deal.amount, deal.currency)}</td>
      <td data-label="Owner">${ownerName(agents, deal.owner_agent_id)}</td>
      <td data-label="Since">${time(deal.stage_entered_at)}</td>
    </tr>`,
    )}</tbody></table></div>`
  }
</section>`;
}
