/**
 * The Audit screen's charts, inline SVG built with DOM APIs (no markup from
 * strings, no inline styles: colours are app.css classes): entries per day
 * by action as stacked bars, and failed authentication attempts per day.
 * Each is an image with a title and a description in words (the summary a
 * screen reader reads), a legend, and the numbers as a table beside it.
 * The counting is src/app/audit-charts.ts.
 */

import { describeEntries, describeFailedAuth, OTHER, type Activity } from '../app/index.js';
import { h, svg, uid } from './dom.js';

const W = 640;
const H = 240;
const LEFT = 84;
const RIGHT = 12;
const TOP = 12;
const BOTTOM = 36;
const fmt = (n: number): string => n.toLocaleString('en-US');

interface Series {
  readonly label: string;
  readonly counts: readonly number[];
  readonly cls: string;
}

/** A round number at least `n` (at least 1) whose half is whole when it can be: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten. */
function niceCeil(n: number): number {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    const top = m * p;
    if (top >= n && Number.isInteger(top)) return top;
  }
  return 10 * p;
}

function text(x: number, y: number, words: string, attrs: Record<string, string | number> = {}): SVGElement {
  const t = svg('text', { x, y, class: 'chart-axis', ...attrs });
  t.textContent = words;
  return t;
}

/** A bar chart (stacked when several series) of counts per day, as an accessible SVG image with its table. */
function barChart(title: string, desc: string, days: readonly string[], series: readonly Series[], unit: string): HTMLElement {
  const id = uid('chart');
  const totals = days.map((_, i) => series.reduce((s, x) => s + (x.counts[i] ?? 0), 0));
  const top = niceCeil(Math.max(0, ...totals));
  const plotW = W - LEFT - RIGHT;
  const plotH = H - TOP - BOTTOM;
  const y = (v: number): number => TOP + plotH - (v / top) * plotH;
  const titleEl = svg('title', { id: `${id}-title` });
  titleEl.textContent = title;
  const descEl = svg('desc', { id: `${id}-desc` });
  descEl.textContent = desc;
  const image = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}-title ${id}-desc`, class: 'chart-image', focusable: 'false' }, titleEl, descEl);
  // The value axis: 0, half and the top, with grid lines.
  for (const v of [0, top / 2, top]) {
    if (!Number.isInteger(v)) continue;
    image.append(svg('line', { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: v === 0 ? 'chart-baseline' : 'chart-grid' }), text(LEFT - 6, y(v) + 4, fmt(v), { 'text-anchor': 'end' }));
  }
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, Math.min(56, slot * 0.7));
  const every = Math.max(1, Math.ceil(days.length / 8));
  days.forEach((day, i) => {
    const x = LEFT + i * slot + (slot - barW) / 2;
    let base = 0;
    series.forEach((s) => {
      const n = s.counts[i] ?? 0;
      if (n === 0) return;
      const rect = svg('rect', { x: x.toFixed(1), y: y(base + n).toFixed(1), width: barW.toFixed(1), height: Math.max(0.5, y(base) - y(base + n)).toFixed(1), class: s.cls });
      const tip = svg('title');
      tip.textContent = `${day}: ${series.length > 1 ? `${s.label} ` : ''}${fmt(n)}`;
      rect.append(tip);
      image.append(rect);
      base += n;
    });
    if (i % every === 0 || i === days.length - 1) image.append(text(LEFT + i * slot + slot / 2, H - BOTTOM + 18, day.slice(5), { 'text-anchor': 'middle' }));
  });
  image.append(text(LEFT, H - 4, 'UTC day (month-day)', { 'text-anchor': 'start', class: 'chart-axis chart-axis-title' }));

  const legend =
    series.length > 1
      ? h(
          'ul',
          { class: 'chart-legend', 'aria-label': `${title}: legend` },
          ...series.map((s) => h('li', {}, h('span', { class: `chart-swatch ${s.cls}`, 'aria-hidden': 'true' }), `${s.label} (${fmt(s.counts.reduce((a, b) => a + b, 0))})`)),
        )
      : null;
  const table = h(
    'table',
    { class: 'chart-table' },
    h('caption', {}, `${title}, ${unit} per UTC day`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Day'), ...(series.length > 1 ? series.map((s) => h('th', { scope: 'col' }, s.label)) : []), h('th', { scope: 'col' }, series.length > 1 ? 'Total' : unit))),
    h(
      'tbody',
      {},
      ...days.map((day, i) => h('tr', {}, h('th', { scope: 'row' }, day), ...(series.length > 1 ? series.map((s) => h('td', {}, fmt(s.counts[i] ?? 0))) : []), h('td', {}, fmt(totals[i] ?? 0)))),
    ),
  );
  return h(
    'figure',
    { class: 'chart' },
    h('figcaption', { class: 'chart-caption' }, title),
    image,
    h('p', { class: 'hint chart-summary' }, desc),
    legend,
    h('details', { class: 'chart-details' }, h('summary', {}, `${title}: the numbers as a table`), h('div', { class: 'admin-scroll', tabindex: 0, role: 'region', 'aria-label': `${title}: table` }, table)),
  );
}

/** Both charts of a verified log. */
export function activityCharts(a: Activity): HTMLElement[] {
  const series = a.series.map((s, i) => ({ label: s.label, counts: s.counts, cls: s.label === OTHER ? 'chart-other' : `chart-s${i}` }));
  return [
    barChart('Entries per day by action', describeEntries(a), a.days, series, 'entries'),
    barChart('Failed authentication attempts per day', describeFailedAuth(a), a.days, [{ label: 'auth.failed', counts: a.failedAuth, cls: 'chart-fail' }], 'attempts'),
  ];
}
