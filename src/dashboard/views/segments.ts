import { html, time, type Html, type HtmlValue } from '../html.js';
import type { SegmentMember, SegmentStats } from '../../operations/segments.js';
import type { CompiledSegment } from '../../workflows/segments.js';
import { layout, type PageContext } from './layout.js';

/** The Segments page: each declared segment with its size and its entries and exits of the last 30 days. */
export function segmentsPage(
  context: PageContext,
  data: { file: string; segments: CompiledSegment[]; stats: Map<string, SegmentStats> },
): Html {
  const body = html`
<p class="muted">Declared under <code>segments:</code> in <code>${data.file}</code>; members change with every change to a customer, and by the sweep for conditions that read the clock.</p>
${
  data.segments.length === 0
    ? html`<p class="empty">No segments declared.</p>`
    : html`<div class="table-wrap"><table>
  <thead><tr><th scope="col">Segment</th><th scope="col">Members</th><th scope="col">Entered (30 days)</th><th scope="col">Left (30 days)</th><th scope="col">Condition</th></tr></thead>
  <tbody>${data.segments.map((segment) => {
    const stats = data.stats.get(segment.id);
    return html`<tr id="segment-${segment.id}">
    <td><a href="/segments/${encodeURIComponent(segment.id)}"><strong>${segment.name}</strong></a> <span class="muted">${segment.id}</span>
      ${segment.description ? html`<br><span class="muted">${segment.description}</span>` : ''}</td>
    <td class="num">${stats?.members ?? 0}</td>
    <td class="num">${stats?.entered_30d ?? 0}</td>
    <td class="num">${stats?.exited_30d ?? 0}</td>
    <td><code>${segment.when.source}</code>${segment.timeBased ? html` <span class="muted">(time-based)</span>` : ''}</td>
  </tr>`;
  })}</tbody>
</table></div>`
}`;
  return layout(context, 'Segments', body);
}

/** One page of a segment's members, by customer id, with a link to the next page and to the CSV export. */
export function segmentMembersPage(
  context: PageContext,
  data: { segment: CompiledSegment; members: SegmentMember[]; after: number; nextAfter: number | null },
): Html {
  const { segment } = data;
  const money = (traits: Record<string, unknown>): HtmlValue =>
    traits.currency
      ? `${String(traits.lifetime_value)} ${String(traits.currency)}`
      : String(traits.lifetime_value ?? '—');
  const body = html`
<p><a href="/segments">All segments</a> · <code>${segment.when.source}</code></p>
<p class="muted">Export every member as CSV: <code>GET /api/segments/${segment.id}/members</code> with <code>Accept: text/csv</code> (API token).</p>
${
  data.members.length === 0
    ? html`<p class="empty">${data.after > 0 ? 'No more members.' : 'No members.'}</p>`
    : html`<div class="table-wrap"><table>
  <thead><tr><th scope="col">Customer</th><th scope="col">Since</th><th scope="col">Orders</th><th scope="col">Lifetime value</th><th scope="col">Owner</th></tr></thead>
  <tbody>${data.members.map(
    (member) => html`<tr>
    <td><a href="/customers/${member.id}">${member.name ?? member.email ?? `#${member.id}`}</a></td>
    <td>${time(member.entered_at)}</td>
    <td class="num">${String(member.traits.orders_count ?? 0)}</td>
    <td class="num">${money(member.traits)}</td>
    <td>${member.owner_agent_id ?? '—'}</td>
  </tr>`,
  )}</tbody>
</table></div>`
}
<nav class="pager" aria-label="Pages">
  ${data.after > 0 ? html`<a href="/segments/${encodeURIComponent(segment.id)}">First page</a> ` : ''}
  ${data.nextAfter !== null ? html`<a href="/segments/${encodeURIComponent(segment.id)}?after=${data.nextAfter}" rel="next">Next page</a>` : ''}
</nav>`;
  return layout(context, `Segment: ${segment.name}`, body);
}

/** The customer page's section: their segments now, their traits and their segment history. */
export function customerSegmentsSection(
  customer: { traits?: Record<string, unknown>; segments?: string[]; segment_history?: Array<Record<string, unknown>> },
  segments: CompiledSegment[],
): Html {
  const names = new Map(segments.map((segment) => [segment.id, segment.name]));
  const traits = Object.entries(customer.traits ?? {});
  const show = (value: unknown): string =>
    value === null || value === undefined ? '—' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return html`<section class="card" aria-labelledby="segments-h">
  <h2 id="segments-h">Segments and traits</h2>
  <p>${
    (customer.segments ?? []).length === 0
      ? html`<span class="muted">In no segment.</span>`
      : (customer.segments ?? []).map(
          (id) =>
            html`<a class="status status-succeeded" href="/segments/${encodeURIComponent(id)}">${names.get(id) ?? id}</a> `,
        )
  }</p>
  ${traits.length === 0 ? '' : html`<dl class="facts">${traits.map(([name, value]) => html`<div><dt>${name}</dt><dd>${show(value)}</dd></div>`)}</dl>`}
  ${
    (customer.segment_history ?? []).length === 0
      ? ''
      : html`<details><summary>Segment history</summary><ul>${(customer.segment_history ?? []).map(
          (
            stay,
          ) => html`<li>${names.get(String(stay.segment_id)) ?? String(stay.segment_id)}: ${time(stay.entered_at as Date)} (${String(stay.entered_by)})
          ${stay.exited_at ? html` → ${time(stay.exited_at as Date)} (${String(stay.exited_by)})` : html` → now`}</li>`,
        )}</ul></details>`
  }
</section>`;
}
