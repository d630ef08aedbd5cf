import { describe, expect, it } from 'vitest';
import { dateTime, lossOfLife, num, pct, pct100, timeOfDay } from '../../console/src/format.js';

/** The console writes figures this way; the browser tests compare the page with the API through it. */
describe("the console's formats", () => {
  it('writes numbers with thousands separators and fixed decimals, a dash for no value', () => {
    expect(num(1234.567, 1)).toBe('1,234.6');
    expect(num(0.125, 2)).toBe('0.13');
    expect(num(-3, 0)).toBe('-3');
    expect(num(null)).toBe('–');
    expect(num(Number.NaN)).toBe('–');
  });

  it('writes probabilities and percentages with one decimal', () => {
    expect(pct(0.2773)).toBe('27.7 %');
    expect(pct(1)).toBe('100.0 %');
    expect(pct(null)).toBe('–');
    expect(pct100(6.7)).toBe('6.7 %');
  });

  it('writes loss of life in minutes, hours, days or years, whichever reads best', () => {
    expect(lossOfLife(11.84)).toBe('11.8 min');
    expect(lossOfLife(90)).toBe('1.5 h');
    expect(lossOfLife(3 * 24 * 60)).toBe('3.0 days');
    expect(lossOfLife(20 * 365.25 * 24 * 60)).toBe('20.0 years');
    expect(lossOfLife(1.67e75)).toBe('3.2e+69 years');
    expect(lossOfLife(null)).toBe('–');
    expect(lossOfLife(Number.POSITIVE_INFINITY)).toBe('–');
  });

  it("writes times in the DT's zone, 24-hour", () => {
    expect(dateTime('2026-12-06T15:30:00.000Z', 'Asia/Kolkata')).toBe('2026-12-06 21:00');
    expect(dateTime('2026-12-06T23:45:00.000Z', 'UTC')).toBe('2026-12-06 23:45');
    expect(dateTime('2026-07-01T00:00:00.000Z', 'Europe/Berlin')).toBe('2026-07-01 02:00');
    expect(timeOfDay('2026-12-06T00:15:00.000Z', 'UTC')).toBe('00:15');
    expect(dateTime(null)).toBe('–');
  });
});
