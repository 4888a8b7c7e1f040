/**
 * The counting behind the Audit screen's charts (no DOM; the SVG is drawn by
 * src/ui/audit-charts-view.ts): entries per UTC day by action, stacked (the
 * most frequent actions of the days shown, the rest as "Other actions"), and
 * failed authentication attempts per day (`auth.failed` entries; one that
 * sums a rate-limited window counts its `details.attempts`, on the day the
 * window's entry was written). Fed the entries of a verification, so the
 * charts show only a log that verified. Memory: one count per day and action.
 */

import type { AuditEntry } from '../audit/index.js';

const DAY_MS = 86_400_000;
/** The action of a failed authentication (protocol/src/audit.rs, `Action::AuthFailed`). */
export const FAILED_AUTH = 'auth.failed';
export const OTHER = 'Other actions';

export interface ChartSeries {
  /** The action (or {@link OTHER}). */
  readonly label: string;
  /** One count per day of {@link Activity.days}. */
  readonly counts: readonly number[];
  /** Its total over those days. */
  readonly total: number;
}

export interface Activity {
  /** Consecutive UTC days, `YYYY-MM-DD`, oldest first (at most `maxDays`, ending on the last day with an entry). */
  readonly days: readonly string[];
  /** Stacked series, the largest first; every day's counts add up to {@link totals}. */
  readonly series: readonly ChartSeries[];
  readonly totals: readonly number[];
  /** Failed authentication attempts per day. */
  readonly failedAuth: readonly number[];
  /** Entries counted in all (also those before the days shown). */
  readonly entries: number;
  /** Entries before the first day shown. */
  readonly earlier: number;
}

function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

export function dayText(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

export class ActivityCounter {
  private readonly perDay = new Map<number, Map<string, number>>();
  private readonly failed = new Map<number, number>();
  private count = 0;

  add(e: AuditEntry): void {
    this.count += 1;
    const d = dayOf(e.time_ms);
    let m = this.perDay.get(d);
    if (m === undefined) {
      m = new Map();
      this.perDay.set(d, m);
    }
    m.set(e.action, (m.get(e.action) ?? 0) + 1);
    if (e.action === FAILED_AUTH) {
      const a = e.details['attempts'];
      this.failed.set(d, (this.failed.get(d) ?? 0) + (typeof a === 'number' && a > 0 ? a : 1));
    }
  }

  get entries(): number {
    return this.count;
  }

  /** The charts' numbers: the last `maxDays` days up to the last entry, the `top` most frequent actions in them and the rest as one series. */
  activity(maxDays = 31, top = 6): Activity {
    const keys = [...this.perDay.keys()];
    if (keys.length === 0) return { days: [], series: [], totals: [], failedAuth: [], entries: 0, earlier: 0 };
    const last = Math.max(...keys);
    const first = Math.max(Math.min(...keys), last - maxDays + 1);
    const days: number[] = [];
    for (let d = first; d <= last; d++) days.push(d);
    const byAction = new Map<string, number>();
    let earlier = 0;
    for (const [d, m] of this.perDay) {
      for (const [action, n] of m) {
        if (d < first) earlier += n;
        else byAction.set(action, (byAction.get(action) ?? 0) + n);
      }
    }
    const ranked = [...byAction.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const shown = ranked.length <= top + 1 ? ranked : ranked.slice(0, top);
    const shownSet = new Set(shown.map(([a]) => a));
    const series: ChartSeries[] = shown.map(([action, total]) => ({ label: action, total, counts: days.map((d) => this.perDay.get(d)?.get(action) ?? 0) }));
    if (shown.length < ranked.length) {
      const counts = days.map((d) => {
        let n = 0;
        for (const [action, c] of this.perDay.get(d) ?? []) if (!shownSet.has(action)) n += c;
        return n;
      });
      series.push({ label: OTHER, counts, total: counts.reduce((a, b) => a + b, 0) });
    }
    const totals = days.map((_, i) => series.reduce((sum, s) => sum + (s.counts[i] as number), 0));
    return { days: days.map(dayText), series, totals, failedAuth: days.map((d) => this.failed.get(d) ?? 0), entries: this.count, earlier };
  }
}

const fmt = (n: number): string => n.toLocaleString('en-US');

function span(days: readonly string[]): string {
  if (days.length === 1) return `on ${days[0]}`;
  return `over ${days.length} days (${days[0]} to ${days.at(-1)})`;
}

/** The stacked chart in words (its description, and the screen reader's summary). */
export function describeEntries(a: Activity): string {
  if (a.days.length === 0) return 'No entries.';
  const shown = a.entries - a.earlier;
  let busiest = 0;
  a.totals.forEach((t, i) => {
    if (t > (a.totals[busiest] as number)) busiest = i;
  });
  const top = a.series[0];
  const parts = [
    `${fmt(shown)} entries ${span(a.days)}`,
    a.days.length > 1 ? `the busiest day ${a.days[busiest]} with ${fmt(a.totals[busiest] as number)}` : '',
    top ? `the most frequent action ${top.label} (${fmt(top.total)})` : '',
    a.earlier > 0 ? `${fmt(a.earlier)} earlier entries not shown` : '',
  ].filter((p) => p !== '');
  return `${parts.join('; ')}.`;
}

/** The failed-authentication chart in words. */
export function describeFailedAuth(a: Activity): string {
  const total = a.failedAuth.reduce((x, y) => x + y, 0);
  if (a.days.length === 0 || total === 0) return `No failed authentication attempts ${a.days.length === 0 ? 'recorded' : span(a.days)}.`;
  let worst = 0;
  a.failedAuth.forEach((t, i) => {
    if (t > (a.failedAuth[worst] as number)) worst = i;
  });
  const most = a.days.length > 1 ? `; the most on ${a.days[worst]} (${fmt(a.failedAuth[worst] as number)})` : '';
  return `${fmt(total)} failed authentication attempt${total === 1 ? '' : 's'} ${span(a.days)}${most}.`;
}
