/** How the console writes numbers and times; the browser tests format the API's figures the same way. */

export const DASH = '–';

export function num(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A probability 0..1 as a percentage with one decimal. */
export function pct(value: number | null | undefined): string {
  return value === null || value === undefined ? DASH : `${num(value * 100, 1)} %`;
}

/** A percentage already in 0..100. */
export function pct100(value: number | null | undefined): string {
  return value === null || value === undefined ? DASH : `${num(value, 1)} %`;
}

/** Minutes of loss of life in the unit that reads best: minutes, hours, days, years (past a million years, as a power of ten). */
export function lossOfLife(minutes: number | null | undefined): string {
  if (minutes === null || minutes === undefined || !Number.isFinite(minutes)) return DASH;
  if (minutes < 60) return `${num(minutes, 1)} min`;
  const hours = minutes / 60;
  if (hours < 48) return `${num(hours, 1)} h`;
  const days = hours / 24;
  if (days < 730) return `${num(days, 1)} days`;
  const years = days / 365.25;
  return years < 1e6 ? `${num(years, 1)} years` : `${years.toExponential(1)} years`;
}

/** A time in the DT's zone (the browser's when unknown): `2026-12-06 18:45`. */
export function dateTime(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return DASH;
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(iso));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}`;
}

/** Just the time of day, in the DT's zone. */
export function timeOfDay(iso: string, timeZone?: string): string {
  return dateTime(iso, timeZone).slice(11);
}
