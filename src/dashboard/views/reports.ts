import { GROUP_KEYS } from '../../reports/facts.js';
import { KPI_DEFINITIONS, type KpiFigures, type KpiReport, type Spread } from '../../reports/kpis.js';
import type { ReportsOverview } from '../../operations/reports.js';
import { html, type Html } from '../html.js';
import { barChart, heatClass, horizontalBars } from './charts.js';
import { layout, type PageContext } from './layout.js';

const percent = (value: number | null) => (value === null ? null : `${Number((value * 100).toFixed(1))}%`);
const number = (value: number | null, unit = '') =>
  value === null ? null : `${Number(value.toFixed(2)).toLocaleString('en-US')}${unit}`;
const spread = (value: Spread, unit: string) =>
  value.median === null ? null : `${number(value.median, unit)} · p90 ${number(value.p90, unit)}`;
const money = (value: Record<string, number> | null) =>
  value === null || Object.keys(value).length === 0
    ? null
    : Object.entries(value)
        .map(([currency, amount]) => `${number(amount)} ${currency}`)
        .join(' · ');
const lifetime = (value: KpiFigures['lifetime_value']) =>
  Object.keys(value).length === 0
    ? null
    : Object.entries(value)
        .map(([currency, { mean, median }]) => `${number(mean)} ${currency} (median ${number(median)})`)
        .join(' · ');

interface Figure {
  key: keyof typeof KPI_DEFINITIONS;
  label: string;
  show: (report: KpiReport) => string | null;
  /** The number compared with the previous period (higher is better unless `lowerIsBetter`). */
  compare?: (report: KpiReport) => number | null;
  lowerIsBetter?: boolean;
}

const FIGURES: Figure[] = [
  { key: 'leads', label: 'Leads', show: (r) => number(r.leads), compare: (r) => r.leads },
  {
    key: 'customers_won',
    label: 'Customers won',
    show: (r) => number(r.customers_won),
    compare: (r) => r.customers_won,
  },
  {
    key: 'lead_conversion_rate',
    label: 'Lead conversion',
    show: (r) => percent(r.lead_conversion_rate),
    compare: (r) => r.lead_conversion_rate,
  },
  {
    key: 'speed_to_lead_minutes',
    label: 'Speed to lead',
    show: (r) => spread(r.speed_to_lead_minutes, ' min'),
    compare: (r) => r.speed_to_lead_minutes.median,
    lowerIsBetter: true,
  },
  {
    key: 'speed_to_lead_within_sla',
    label: 'Contacted within SLA',
    show: (r) => percent(r.speed_to_lead_within_sla),
    compare: (r) => r.speed_to_lead_within_sla,
  },
  {
    key: 'auto_reply_seconds',
    label: 'Auto-reply time',
    show: (r) => spread(r.auto_reply_seconds, ' s'),
    compare: (r) => r.auto_reply_seconds.median,
    lowerIsBetter: true,
  },
  {
    key: 'sales_cycle_days',
    label: 'Sales cycle',
    show: (r) => spread(r.sales_cycle_days, ' d'),
    compare: (r) => r.sales_cycle_days.median,
    lowerIsBetter: true,
  },
  {
    key: 'repeat_purchase_rate',
    label: 'Repeat purchase',
    show: (r) => percent(r.repeat_purchase_rate),
    compare: (r) => r.repeat_purchase_rate,
  },
  { key: 'average_order_value', label: 'Average order value', show: (r) => money(r.average_order_value) },
  { key: 'lifetime_value', label: 'Lifetime value', show: (r) => lifetime(r.lifetime_value) },
  { key: 'cost_per_lead', label: 'Cost per lead', show: (r) => money(r.cost_per_lead) },
  { key: 'customer_acquisition_cost', label: 'Acquisition cost', show: (r) => money(r.customer_acquisition_cost) },
  { key: 'csat', label: 'Customer satisfaction', show: (r) => percent(r.csat), compare: (r) => r.csat },
  { key: 'nps', label: 'Net promoter score', show: (r) => number(r.nps), compare: (r) => r.nps },
  { key: 'churned', label: 'Churned', show: (r) => number(r.churned), compare: (r) => r.churned, lowerIsBetter: true },
];

function delta(figure: Figure, current: KpiReport, previous: KpiReport): Html | string {
  const now = figure.compare?.(current) ?? null;
  const before = figure.compare?.(previous) ?? null;
  if (now === null || before === null)
    return html`<span class="muted">previous: ${figure.show(previous) ?? '—'}</span>`;
  const change = now - before;
  const better = change === 0 ? 'same' : change > 0 !== Boolean(figure.lowerIsBetter) ? 'up' : 'down';
  const arrow = change === 0 ? '=' : change > 0 ? '▲' : '▼';
  return html`<span class="delta delta-${better}">${arrow} previous: ${figure.show(previous) ?? '—'}</span>`;
}

function card(figure: Figure, current: KpiReport, previous: KpiReport): Html {
  const definition = KPI_DEFINITIONS[figure.key];
  return html`<div class="card figure" data-figure="${figure.key}">
  <dt title="${definition}">${figure.label}</dt>
  <dd class="figure-value">${figure.show(current) ?? html`<span class="muted" title="no data in the period">—</span>`}</dd>
  <dd>${delta(figure, current, previous)}</dd>
  <dd><details><summary>Definition</summary><p class="muted">${definition}</p></details></dd>
</div>`;
}

function groupsTable(report: KpiReport): Html {
  if (report.groups.length === 0) return html`<p class="empty">Nothing in this period.</p>`;
  const rows = report.groups.map(
    (group) => html`<tr>
  <th scope="row" class="wrap">${group.key ?? html`<span class="muted">(none)</span>`}</th>
  <td>${group.leads}</td><td>${group.customers_won}</td><td>${percent(group.lead_conversion_rate) ?? '—'}</td>
  <td>${number(group.speed_to_lead_minutes.median, ' min') ?? '—'}</td><td>${number(group.sales_cycle_days.median, ' d') ?? '—'}</td>
  <td>${money(group.average_order_value) ?? '—'}</td><td>${money(group.cost_per_lead) ?? '—'}</td>
</tr>`,
  );
  return html`<div class="scroll"><table>
<thead><tr><th scope="col">${report.by}</th><th scope="col">Leads</th><th scope="col">Won</th><th scope="col">Conversion</th><th scope="col">Speed to lead</th><th scope="col">Sales cycle</th><th scope="col">Order value</th><th scope="col">Cost per lead</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

function cohortTable(overview: ReportsOverview): Html {
  const { cohorts } = overview.cohorts;
  if (cohorts.length === 0)
    return html`<p class="empty">No first purchases in the twelve months up to the period's end.</p>`;
  const months = Math.max(0, ...cohorts.map((cohort) => cohort.retention.length));
  const header = Array.from({ length: months }, (_, i) => html`<th scope="col">+${i + 1}</th>`);
  const rows = cohorts.map(
    (cohort) =>
      html`<tr><th scope="row">${cohort.cohort}</th><td>${cohort.size}</td>${cohort.retention.map(
        (share) =>
          html`<td class="heat ${heatClass(share)}" title="${percent(share)} of ${cohort.size} bought again">${percent(share)}</td>`,
      )}</tr>`,
  );
  return html`<div class="scroll"><table class="cohorts" aria-describedby="cohorts-definition">
<thead><tr><th scope="col">First purchase</th><th scope="col">Customers</th>${header}</tr></thead><tbody>${rows}</tbody></table></div>
<p id="cohorts-definition" class="muted">${KPI_DEFINITIONS.cohorts}</p>`;
}

export function reportsPage(context: PageContext, overview: ReportsOverview): Html {
  const { current, previous } = overview;
  const query = `from=${current.from}&to=${current.to}&by=${current.by ?? ''}`;
  const agents = overview.agents.groups.filter((group) => group.key !== null && group.leads > 0);
  const body = html`
<form class="filters" method="get" action="/reports">
  <label>From <input type="date" name="from" value="${current.from}" required></label>
  <label>To <input type="date" name="to" value="${current.to}" required></label>
  <label>Break down by <select name="by">${GROUP_KEYS.map((key) => html`<option value="${key}"${current.by === key ? html` selected` : ''}>${key}</option>`)}</select></label>
  <button type="submit" class="primary">Show</button>
  <a href="/reports/kpis.csv?${query}" download>KPIs as CSV</a>
  <a href="/reports/cohorts.csv?${query}" download>Cohorts as CSV</a>
</form>
<p class="muted">${current.from} – ${current.to} (${current.time_zone}), compared with ${previous.from} – ${previous.to}. Times are when things happened at the vendor.</p>
<dl class="figures">${FIGURES.map((figure) => card(figure, current, previous))}</dl>
<section class="charts">
  <div class="card"><h2>Leads and customers won per week</h2>
    ${barChart(
      'Leads and customers won per week',
      overview.weekly.map((week) => week.week.slice(5)),
      [
        { name: 'leads', className: 'bar-a', values: overview.weekly.map((week) => week.leads) },
        { name: 'won', className: 'bar-b', values: overview.weekly.map((week) => week.won) },
      ],
    )}</div>
  <div class="card"><h2>Funnel by lifecycle stage</h2>
    ${horizontalBars(
      'Leads of the period by lifecycle stage reached',
      overview.funnel.map((stage) => ({
        label: stage.stage,
        value: stage.customers,
        note: stage.median_days === null ? '' : `· median ${stage.median_days} d in stage`,
      })),
    )}
    <p class="muted">Customers among the period's leads who reached each stage, and the median days they stayed in it (crmflow's own stage history).</p></div>
  <div class="card"><h2>Speed to lead per agent</h2>
    ${
      agents.length === 0
        ? html`<p class="empty">No leads with an owner in this period.</p>`
        : horizontalBars(
            'Median minutes to the first contact by a person, per owner',
            agents.map((group) => ({
              label: group.key!,
              value: group.speed_to_lead_minutes.median,
              note: `(${group.leads} leads)`,
            })),
            ' min',
          )
    }</div>
</section>
<h2>By ${current.by}</h2>
${groupsTable(current)}
<h2>Cohort retention</h2>
${cohortTable(overview)}`;
  return layout(context, 'Reports', body);
}
