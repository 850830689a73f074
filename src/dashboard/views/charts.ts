import { html, type Html } from '../html.js';

/**
 * Charts drawn on the server as inline SVG: no chart library, no build step, nothing for the CSP to allow. Each chart
 * scales to its container (viewBox), names itself for screen readers, and sits next to a table with the same numbers.
 */

const WIDTH = 640;
const ROW = 32;

const label = (value: number | null, unit = ''): string =>
  value === null ? '—' : `${Number(value.toFixed(2))}${unit}`;

export interface BarSeries {
  name: string;
  /** CSS class of its bars (`bar-a`, `bar-b`). */
  className: string;
  values: number[];
}

/** Grouped vertical bars: one group per category (e.g. a week), one bar per series. */
export function barChart(title: string, categories: readonly string[], series: readonly BarSeries[]): Html {
  const height = 220;
  const top = 12;
  const bottom = 36;
  const left = 36;
  const max = Math.max(1, ...series.flatMap((item) => item.values));
  const groupWidth = (WIDTH - left) / Math.max(1, categories.length);
  const barWidth = Math.max(2, (groupWidth * 0.8) / series.length);
  const y = (value: number) => top + (height - top - bottom) * (1 - value / max);
  const bars = categories.flatMap((category, i) =>
    series.map((item, s) => {
      const value = item.values[i] ?? 0;
      const x = left + i * groupWidth + groupWidth * 0.1 + s * barWidth;
      return html`<rect class="${item.className}" x="${x.toFixed(1)}" y="${y(value).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(height - bottom - y(value)).toFixed(1)}"><title>${category}: ${value} ${item.name}</title></rect>`;
    }),
  );
  const step = Math.ceil(categories.length / 8);
  const ticks = categories.map((category, i) =>
    i % step === 0
      ? html`<text class="axis" x="${(left + i * groupWidth + groupWidth / 2).toFixed(1)}" y="${height - 18}" text-anchor="middle">${category}</text>`
      : '',
  );
  const legend = series.map(
    (item, s) =>
      html`<rect class="${item.className}" x="${left + s * 120}" y="${height - 10}" width="10" height="10"></rect><text class="axis" x="${left + s * 120 + 14}" y="${height - 1}">${item.name}</text>`,
  );
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${height + 4}" role="img" aria-label="${title}"><title>${title}</title>
<line class="baseline" x1="${left}" x2="${WIDTH}" y1="${height - bottom}" y2="${height - bottom}"></line>
<text class="axis" x="0" y="${top + 4}">${max}</text><text class="axis" x="0" y="${height - bottom}">0</text>
${bars}${ticks}${legend}</svg>`;
}

export interface HorizontalBar {
  label: string;
  value: number | null;
  /** Shown after the value, e.g. "(12 leads)". */
  note?: string;
}

/** Horizontal bars with their values: speed to lead per agent, the funnel by stage. */
export function horizontalBars(title: string, rows: readonly HorizontalBar[], unit = ''): Html {
  const left = 130;
  const right = 150;
  const max = Math.max(1e-9, ...rows.map((row) => row.value ?? 0));
  const height = Math.max(1, rows.length) * ROW + 4;
  const body = rows.map((row, i) => {
    const width = row.value === null ? 0 : ((WIDTH - left - right) * row.value) / max;
    const y = i * ROW + 4;
    return html`<text class="axis" x="${left - 8}" y="${y + 18}" text-anchor="end">${row.label.slice(0, 18)}</text>
<rect class="bar-a" x="${left}" y="${y}" width="${width.toFixed(1)}" height="${ROW - 8}"><title>${row.label}: ${label(row.value, unit)}</title></rect>
<text class="value" x="${(left + width + 6).toFixed(1)}" y="${y + 18}">${label(row.value, unit)}${row.note ? ` ${row.note}` : ''}</text>`;
  });
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${title}"><title>${title}</title>${body}</svg>`;
}

/** A share 0..1 as one of ten heat classes (`heat-0`…`heat-9`): the page's stylesheet colours them. */
export function heatClass(share: number): string {
  return `heat-${Math.min(9, Math.max(0, Math.floor(share * 10)))}`;
}
