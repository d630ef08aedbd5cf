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
  if (!ISO_WITH_ZONE.test(value)) return `not an ISO-8601 UTC timestamp: ${JSON.stringify(value)}`;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? `not a valid date: ${JSON.stringify(value)}` : ms;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
