/** Times, days and sizes as the views show them (the user's locale). */

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const date = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const shortDate = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

function dayStart(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function clock(ms: number): string {
  return time.format(ms);
}

/** Today, Yesterday or the date: for day separators. */
export function dayLabel(ms: number, now = Date.now()): string {
  const days = Math.round((dayStart(now) - dayStart(ms)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return date.format(ms);
}

export function sameDay(a: number, b: number): boolean {
  return dayStart(a) === dayStart(b);
}

/** A list's last-message time: the clock today, else the date. */
export function when(ms: number, now = Date.now()): string {
  return sameDay(ms, now) ? clock(ms) : shortDate.format(ms);
}

export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
