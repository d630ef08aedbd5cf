/**
 * The warehouse's time text. Records carry UTC epoch milliseconds; rows carry DateTime64(3, 'UTC') text,
 * 'YYYY-MM-DD hh:mm:ss.sss' (both the JSONEachRow rows of rows.ts and RowBinary's String fallback).
 */

/** Epoch milliseconds → DateTime64(3, 'UTC') text 'YYYY-MM-DD hh:mm:ss.sss'. */
export function dateTime64(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`not a timestamp: ${ms}`);
  // Every row has timestamps and a batch's cluster in time: format each second once, then add the millis.
  const second = Math.floor(ms / 1000);
  let prefix = secondText.get(second);
  if (prefix === undefined) {
    if (secondText.size >= 10_000) secondText.clear();
    prefix = new Date(second * 1000).toISOString().slice(0, 19).replace('T', ' ');
    secondText.set(second, prefix);
  }
  const millis = ms - second * 1000;
  return `${prefix}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}`;
}

/** A DateTime column's text (whole seconds, UTC), for the tables that keep one beside an epoch-ms column. */
export function dateTime(ms: number): string {
  return dateTime64(ms).slice(0, 19);
}

const secondText = new Map<number, string>();

/** DateTime64 text as the warehouse returns it ('YYYY-MM-DD hh:mm:ss[.fff]', UTC) → epoch milliseconds. */
export function parseDateTime64(text: string): number {
  const ms = Date.parse(text.replace(' ', 'T') + 'Z');
  if (Number.isNaN(ms)) throw new RangeError(`not a DateTime64 value: ${JSON.stringify(text)}`);
  return ms;
}
