/** Event-time helpers. Everything is UTC epoch milliseconds: no time zones, no DST. */

export const MINUTE_MS = 60_000;
export const SLOT_MS = 15 * MINUTE_MS;
export const DAY_MS = 24 * 60 * MINUTE_MS;
export const SLOTS_PER_DAY = DAY_MS / SLOT_MS;

/** Start of the 15-minute UTC slot [t, t + 15 min) containing `ms`. A reading at exactly :15:00 opens the next slot. */
export function slotStart(ms: number): number {
  return Math.floor(ms / SLOT_MS) * SLOT_MS;
}

// ISO-8601 with an explicit UTC designator or offset; a local time without a zone is ambiguous and refused.
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Parses a contract timestamp: ISO-8601 with a zone, or epoch milliseconds. Returns epoch ms, or an error
 * message when the value is not a valid instant.
 */
export function parseTimestamp(value: string | number): number | string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) return `not a valid epoch-millisecond timestamp: ${value}`;
    return value;
  }
  const fast = canonicalUtc(value);
  if (fast === fast) return fast; // not NaN
  if (!ISO_WITH_ZONE.test(value)) return `not an ISO-8601 UTC timestamp: ${JSON.stringify(value)}`;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? `not a valid date: ${JSON.stringify(value)}` : ms;
}

/**
 * The instant of a timestamp in the form meters send (and toISOString() writes), `YYYY-MM-DDThh:mm:ss.sssZ`
 * or without the millis, read digit by digit; NaN for anything else, which then takes the general path (a
 * regular expression and Date.parse cost the MQTT bridge a microsecond a reading). Only values that are
 * plainly valid are taken here, so the result is Date.parse's; the rest, even a valid oddity such as
 * 24:00:00, goes the general way.
 */
function canonicalUtc(s: string): number {
  const n = s.length;
  if (n !== 24 && n !== 20) return Number.NaN;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c > 0x7f) return Number.NaN;
    chars[k] = c;
  }
  return canonicalUtcBytes(chars, 0, n);
}

const chars = new Uint8Array(24);

/**
 * canonicalUtc of the `n` ASCII bytes at `at` (the MQTT bridge reads a payload's timestamps in place,
 * ingest/telemetry-upload.ts): the instant, or NaN for anything but the plainly valid canonical forms.
 */
export function canonicalUtcBytes(b: Uint8Array, at: number, n: number): number {
  if (n !== 24 && n !== 20) return Number.NaN;
  if (
    b[at + 4] !== 45 || // -
    b[at + 7] !== 45 ||
    b[at + 10] !== 84 || // T
    b[at + 13] !== 58 || // :
    b[at + 16] !== 58 ||
    b[at + n - 1] !== 90 || // Z
    (n === 24 && b[at + 19] !== 46) // .
  )
    return Number.NaN;
  const year = digits(b, at, 4);
  const month = digits(b, at + 5, 2);
  const day = digits(b, at + 8, 2);
  const hour = digits(b, at + 11, 2);
  const minute = digits(b, at + 14, 2);
  const second = digits(b, at + 17, 2);
  const millis = n === 24 ? digits(b, at + 20, 3) : 0;
  // NaN (a non-digit) fails every comparison.
  if (!(year >= 1970 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59))
    return Number.NaN;
  if (!(millis >= 0) || day > daysInMonth(year, month)) return Number.NaN;
  const date = year * 10_000 + month * 100 + day;
  if (date !== lastDate) {
    lastDate = date;
    lastDateMs = Date.UTC(year, month - 1, day);
  }
  return lastDateMs + hour * 3_600_000 + minute * MINUTE_MS + second * 1000 + millis;
}

// The readings of one message share their date: its midnight is computed once.
let lastDate = -1;
let lastDateMs = 0;

function digits(b: Uint8Array, from: number, count: number): number {
  let value = 0;
  for (let k = from; k < from + count; k++) {
    const d = b[k]! - 48;
    if (!(d >= 0 && d <= 9)) return Number.NaN;
    value = value * 10 + d;
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
