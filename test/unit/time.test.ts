import { describe, expect, it } from 'vitest';
import { parseTimestamp } from '../../core/time.js';

describe('parseTimestamp', () => {
  it('reads the meters’ canonical UTC form exactly as Date.parse does, with and without millis', () => {
    // A deterministic spread over 1970..2100, leap days and month ends included.
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const samples = [
      '2024-02-29T23:59:59.999Z',
      '2000-02-29T00:00:00Z',
      '1970-01-01T00:00:00.000Z',
      '2026-12-31T23:59:59Z',
      ...Array.from({ length: 5000 }, () => new Date(Math.floor(next() * Date.UTC(2100, 0))).toISOString()),
    ];
    samples.push(...samples.slice(4, 1004).map((s) => `${s.slice(0, 19)}Z`));
    for (const sample of samples) expect(parseTimestamp(sample), sample).toBe(Date.parse(sample));
  });

  it('takes the other ISO-8601 forms with a zone the general way', () => {
    expect(parseTimestamp('2026-07-01T12:00:00+02:00')).toBe(Date.UTC(2026, 6, 1, 10));
    expect(parseTimestamp('2026-07-01T12:00Z')).toBe(Date.UTC(2026, 6, 1, 12));
    expect(parseTimestamp('2026-07-01T12:00:00.5Z')).toBe(Date.UTC(2026, 6, 1, 12, 0, 0, 500));
    expect(parseTimestamp('2026-07-01T24:00:00Z')).toBe(Date.parse('2026-07-01T24:00:00Z'));
    expect(parseTimestamp('1969-12-31T23:59:59.000Z')).toBe(-1000);
    // Days past a month's end roll over, as V8's Date.parse has it (and did before the canonical fast path).
    expect(parseTimestamp('2026-02-29T00:00:00.000Z')).toBe(Date.UTC(2026, 2, 1));
    expect(parseTimestamp('2026-04-31T00:00:00Z')).toBe(Date.UTC(2026, 4, 1));
  });

  it('refuses what is not an instant, naming it', () => {
    for (const bad of [
      '2026-13-01T00:00:00.000Z',
      '2026-07-01T12:60:00.000Z',
      '2026-07-01 12:00:00.000Z',
      '2026-07-01T12:00:00.000',
      '2026-07-0xT12:00:00.000Z',
      '20260701T120000Z',
    ])
      expect(parseTimestamp(bad), bad).toMatch(/not an ISO-8601 UTC timestamp|not a valid date/);
    expect(parseTimestamp(-1)).toMatch(/not a valid epoch-millisecond timestamp/);
    expect(parseTimestamp(1.5)).toMatch(/not a valid epoch-millisecond timestamp/);
  });
});
