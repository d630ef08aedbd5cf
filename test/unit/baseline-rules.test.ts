import { describe, expect, it } from 'vitest';
import { DAY_MS, SLOT_MS } from '../../core/time.js';
import {
  baselineMethod,
  computeBaseline,
  type Baseline,
  type BaselineInput,
} from '../../processors/flexibility/baseline.js';

/**
 * Each rule of the baseline methodologies on hand-made histories whose answers are worked out by hand: day
 * selection, exclusion, holidays, low-usage replacement, the highest X, the in-day adjustment and its cap,
 * day-ahead versus adjusted, the naive previous day, and local time in a zone with and without daylight saving.
 */
const H = 3_600_000;
const day = (date: string): number => Date.parse(`${date}T00:00:00Z`);

/** A history in UTC where each listed date is flat at its level (kW) all day. */
function flat(levels: Record<string, number>): Map<number, number> {
  const history = new Map<number, number>();
  for (const [date, kw] of Object.entries(levels))
    for (let s = day(date); s < day(date) + DAY_MS; s += SLOT_MS) history.set(s, kw);
  return history;
}

/** Periods 17:00–18:00 UTC of a date. */
const evening = (date: string): number[] => [0, 1, 2, 3].map((k) => day(date) + 17 * H + k * SLOT_MS);

function ok(result: ReturnType<typeof computeBaseline>): Baseline {
  if (!result.available) throw new Error(result.reason);
  return result;
}

// Wednesday 2026-06-10; the weekdays before it, newest first: 06-09 Tue, 06-08 Mon, 06-05 Fri, 06-04 Thu,
// 06-03 Wed, 06-02 Tue, 06-01 Mon; the weekend 06-06/06-07 at 10 kW (never a weekday's like day).
const WEEKDAYS = {
  '2026-06-01': 7,
  '2026-06-02': 6,
  '2026-06-03': 5,
  '2026-06-04': 4,
  '2026-06-05': 1,
  '2026-06-06': 10,
  '2026-06-07': 10,
  '2026-06-08': 3,
  '2026-06-09': 2,
};

function input(levels: Record<string, number>, extra: Partial<BaselineInput> = {}): BaselineInput {
  return { history: flat(levels), periods: evening('2026-06-10'), timeZone: 'UTC', ...extra };
}

describe('High 4 of 5: day selection', () => {
  it('takes the 5 most recent weekdays, skips an excluded event day, averages the 4 highest and adds the symmetric additive adjustment', () => {
    // Candidates: 06-09 (2), 06-05 (1), 06-04 (4), 06-03 (5), 06-02 (6); 06-08 is an event day. The 4 highest
    // average (6 + 5 + 4 + 2) / 4 = 4.25. The event day metered 5.25 over 13:00–16:00: adjustment +1.
    const b = ok(
      computeBaseline(
        baselineMethod('high-4-of-5'),
        input({ ...WEEKDAYS, '2026-06-10': 5.25 }, { excludedDays: ['2026-06-08'] }),
      ),
    );
    expect(b.dayType).toBe('weekday');
    expect(b.daysUsed).toEqual(['2026-06-09', '2026-06-04', '2026-06-03', '2026-06-02']);
    expect(b.daysSkipped).toEqual([
      { date: '2026-06-08', reason: 'excluded' },
      { date: '2026-06-05', reason: 'not-highest' },
    ]);
    expect(b.status).toBe('adjusted');
    expect(b.adjustment).toMatchObject({
      type: 'additive',
      windowStart: day('2026-06-10') + 13 * H,
      windowEnd: day('2026-06-10') + 16 * H,
      eventDayKw: 5.25,
      baselineKw: 4.25,
      applied: 1,
      capped: false,
    });
    expect(b.periods.map((p) => p.unadjustedKw)).toEqual([4.25, 4.25, 4.25, 4.25]);
    expect(b.periods.map((p) => p.kw)).toEqual([5.25, 5.25, 5.25, 5.25]);
  });

  it('replaces a low-usage day (under 25 % of the five days’ mean) with the next older weekday', () => {
    // 06-05 at 0.5: mean of the five (2 + 0.5 + 4 + 5 + 6) / 5 = 3.5, 25 % is 0.875 → replaced by 06-01 (7).
    // The five are then 2, 4, 5, 6, 7; the 4 highest average (7 + 6 + 5 + 4) / 4 = 5.5.
    const b = ok(
      computeBaseline(
        baselineMethod('high-4-of-5', { adjustment: null }),
        input({ ...WEEKDAYS, '2026-06-05': 0.5 }, { excludedDays: ['2026-06-08'] }),
      ),
    );
    expect(b.daysUsed).toEqual(['2026-06-04', '2026-06-03', '2026-06-02', '2026-06-01']);
    expect(b.daysSkipped).toEqual([
      { date: '2026-06-09', reason: 'not-highest' },
      { date: '2026-06-08', reason: 'excluded' },
      { date: '2026-06-05', reason: 'low-usage' },
    ]);
    expect(b.periods[0]!.kw).toBe(5.5);
    expect(b.status).toBe('day-ahead');
    expect(b.unadjustedBecause).toBeNull();
  });

  it('skips a weekday holiday for a weekday event and counts it as a weekend-type day for a weekend event', () => {
    // Weekday event, 06-03 a holiday: the five are 06-09, 06-08, 06-05, 06-04, 06-02 → 6, 4, 3, 2 → 3.75.
    const weekday = ok(
      computeBaseline(
        baselineMethod('high-4-of-5', { adjustment: null }),
        input(WEEKDAYS, { holidays: ['2026-06-03'] }),
      ),
    );
    expect(weekday.daysSkipped).toContainEqual({ date: '2026-06-03', reason: 'holiday' });
    expect(weekday.periods[0]!.kw).toBe(3.75);
    // Saturday 06-13: weekend-or-holiday days before it are 06-07 (10), 06-06 (10), 06-03 (holiday, 5): High 2
    // of 3 takes the two 10s.
    const saturday = ok(
      computeBaseline(baselineMethod('high-4-of-5', { adjustment: null }), {
        ...input({ ...WEEKDAYS, '2026-06-06': 9, '2026-06-03': 12 }, { holidays: ['2026-06-03'] }),
        periods: evening('2026-06-13'),
      }),
    );
    expect(saturday.dayType).toBe('weekend-holiday');
    expect(saturday.daysUsed).toEqual(['2026-06-07', '2026-06-03']);
    expect(saturday.daysSkipped).toEqual([{ date: '2026-06-06', reason: 'not-highest' }]);
    expect(saturday.periods[0]!.kw).toBe(11);
  });

  it('a day with a missing period is incomplete and skipped; too few like days is no baseline, with the reason', () => {
    const history = flat(WEEKDAYS);
    history.delete(day('2026-06-09') + 17 * H + SLOT_MS);
    const b = ok(
      computeBaseline(baselineMethod('high-4-of-5', { adjustment: null }), {
        history,
        periods: evening('2026-06-10'),
        timeZone: 'UTC',
      }),
    );
    // The five are then 06-08 (3), 06-05 (1), 06-04 (4), 06-03 (5), 06-02 (6): (6 + 5 + 4 + 3) / 4 = 4.5.
    expect(b.daysSkipped[0]).toEqual({ date: '2026-06-09', reason: 'incomplete' });
    expect(b.daysUsed).toEqual(['2026-06-08', '2026-06-04', '2026-06-03', '2026-06-02']);
    expect(b.periods[0]!.kw).toBe(4.5);

    const none = computeBaseline(baselineMethod('10-of-10'), input(WEEKDAYS));
    expect(none).toEqual({
      available: false,
      methodology: '10-of-10',
      eventDate: '2026-06-10',
      reason: '7 weekday like day(s) with complete data in the 45 days before 2026-06-10; 10 needed',
    });
  });
});

describe('the in-day adjustment', () => {
  const tenDays: Record<string, number> = {};
  for (let d = 1; d <= 14; d++) tenDays[`2026-05-${String(17 + d).padStart(2, '0')}`] = 4;
  for (const date of [
    '2026-06-01',
    '2026-06-02',
    '2026-06-03',
    '2026-06-04',
    '2026-06-05',
    '2026-06-08',
    '2026-06-09',
  ])
    tenDays[date] = 4;

  it('an additive adjustment is capped at 20 % of the baseline over the window (High 5 of 10)', () => {
    // Baseline 4 kW; the event day metered 6 over the window: +2 uncapped, capped at 0.2 × 4 = +0.8.
    const b = ok(computeBaseline(baselineMethod('high-5-of-10'), input({ ...tenDays, '2026-06-10': 6 })));
    expect(b.adjustment).toMatchObject({ uncapped: 2, applied: 0.8, capped: true });
    expect(b.periods[0]!.kw).toBeCloseTo(4.8, 12);
  });

  it('a multiplicative adjustment is capped to [0.8, 1.2] (10 of 10) and uncapped passes through', () => {
    const capped = ok(computeBaseline(baselineMethod('10-of-10'), input({ ...tenDays, '2026-06-10': 6 })));
    expect(capped.daysUsed).toHaveLength(10);
    expect(capped.adjustment).toMatchObject({
      type: 'multiplicative',
      uncapped: 1.5,
      applied: 1.2,
      capped: true,
    });
    expect(capped.periods[0]!.kw).toBeCloseTo(4.8, 12);
    const uncapped = ok(
      computeBaseline(
        baselineMethod('10-of-10', { adjustment: { cap: null } }),
        input({ ...tenDays, '2026-06-10': 3 }),
      ),
    );
    expect(uncapped.adjustment).toMatchObject({ uncapped: 0.75, applied: 0.75, capped: false });
    expect(uncapped.periods[0]!.kw).toBe(3);
  });

  it('is day-ahead before the window closes or when the event day lacks a window slot; the window is configurable', () => {
    const levels = { ...WEEKDAYS, '2026-06-10': 5.25 };
    const early = ok(
      computeBaseline(baselineMethod('high-4-of-5'), input(levels, { asOf: day('2026-06-10') + 15 * H })),
    );
    expect(early).toMatchObject({ status: 'day-ahead', adjustment: null, unadjustedBecause: 'window-open' });
    const history = flat(levels);
    history.delete(day('2026-06-10') + 14 * H);
    const gap = ok(
      computeBaseline(baselineMethod('high-4-of-5'), {
        history,
        periods: evening('2026-06-10'),
        timeZone: 'UTC',
      }),
    );
    expect(gap).toMatchObject({ status: 'day-ahead', unadjustedBecause: 'window-incomplete' });
    // A 2-hour window ending at the event start, read up to 17:00: the gap at 14:00 is outside it.
    const short = ok(
      computeBaseline(
        baselineMethod('high-4-of-5', { adjustment: { windowStartMinutes: 120, windowEndMinutes: 0 } }),
        { history, periods: evening('2026-06-10'), timeZone: 'UTC' },
      ),
    );
    expect(short.status).toBe('adjusted');
    expect(short.adjustment).toMatchObject({
      windowStart: day('2026-06-10') + 15 * H,
      windowEnd: day('2026-06-10') + 17 * H,
    });
  });

  it('metered values during the event are never read, however the history runs on', () => {
    const levels = { ...WEEKDAYS, '2026-06-10': 5.25 };
    const history = flat(levels);
    for (const p of evening('2026-06-10')) history.set(p, 0); // the turn-down
    const b = ok(
      computeBaseline(baselineMethod('high-4-of-5', { weekday: { x: 5, y: 5 } }), {
        history,
        periods: evening('2026-06-10'),
        timeZone: 'UTC',
      }),
    );
    expect(b.periods[0]!.kw).toBeCloseTo((2 + 1 + 4 + 5 + 6) / 5 + (5.25 - 3.6), 12);
  });
});

describe('same period yesterday, zones and parameters', () => {
  it('same period yesterday takes the previous local day whatever its type, unadjusted', () => {
    const b = ok(
      computeBaseline(baselineMethod('same-period-yesterday'), {
        ...input(WEEKDAYS),
        periods: evening('2026-06-08'), // Monday: yesterday is Sunday 06-07
      }),
    );
    expect(b).toMatchObject({ daysUsed: ['2026-06-07'], status: 'day-ahead', adjustment: null });
    expect(b.periods.map((p) => p.kw)).toEqual([10, 10, 10, 10]);
  });

  it('reads like days at the same local time in the zone: across a daylight-saving change, and at +05:30', () => {
    // Sunday 2026-03-08, US clocks go forward. 18:00 EDT is 22:00Z; on Saturday 03-07 18:00 EST is 23:00Z.
    const history = new Map([
      [Date.parse('2026-03-07T22:00:00Z'), 99],
      [Date.parse('2026-03-07T23:00:00Z'), 7],
    ]);
    const ny = ok(
      computeBaseline(baselineMethod('same-period-yesterday'), {
        history,
        periods: [Date.parse('2026-03-08T22:00:00Z')],
        timeZone: 'America/New_York',
      }),
    );
    expect(ny.eventDate).toBe('2026-03-08');
    expect(ny.periods[0]!.kw).toBe(7);
    // 00:30Z on 06-10 is 06:00 in Kolkata on 06-10: its local day is 06-10, yesterday's 06:00 is 06-09T00:30Z.
    const kolkata = ok(
      computeBaseline(baselineMethod('same-period-yesterday'), {
        history: new Map([[Date.parse('2026-06-09T00:30:00Z'), 3]]),
        periods: [Date.parse('2026-06-10T00:30:00Z')],
        timeZone: 'Asia/Kolkata',
      }),
    );
    expect(kolkata).toMatchObject({ eventDate: '2026-06-10', daysUsed: ['2026-06-09'] });
    expect(kolkata.periods[0]!.kw).toBe(3);
  });

  it('parameters are per event and checked', () => {
    const m = baselineMethod('high-4-of-5', { weekday: { x: 3, y: 3 }, lookbackDays: 20 });
    expect(m).toMatchObject({ weekday: { x: 3, y: 3 }, weekendHoliday: { x: 2, y: 3 }, lookbackDays: 20 });
    expect(() => baselineMethod('high-4-of-5', { weekday: { x: 6, y: 5 } })).toThrow(/1 ≤ x ≤ y/);
    expect(() => baselineMethod('10-of-10', { adjustment: { windowStartMinutes: 50 } })).toThrow(
      /multiples of 15/,
    );
    expect(() => baselineMethod('10-of-10', { adjustment: { cap: 1.5 } })).toThrow(/cap/);
    expect(() => baselineMethod('same-period-yesterday', { lookbackDays: 3 })).toThrow(/no parameters/);
    expect(() => computeBaseline(m, { ...input(WEEKDAYS), periods: [day('2026-06-10') + 7] })).toThrow(
      /15-minute/,
    );
  });
});
