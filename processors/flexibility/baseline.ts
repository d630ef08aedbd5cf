import { dateOfDay, dayOfDate, dayOfWeek, localDayAndMinute } from '../../core/schedule.js';
import { DAY_MS, MINUTE_MS, SLOT_MS } from '../../core/time.js';

/**
 * Flexibility baselines: the consumption a meter (or asset) would have had in an event's 15-minute periods had
 * there been no event, computed from its own history. Delivered flexibility is baseline − metered for a
 * turn-down, metered − baseline for a turn-up. Pure: history in, baseline out; no I/O and no clock (the
 * instant the baseline is computed for is an input).
 *
 * Units: mean power in kW over each 15-minute period (energy in the period is kW × 0.25 h), net of export as
 * meters report it, so negative where a site exports.
 *
 * Methodologies (docs/methods/baselines.md gives each rule and its public source):
 * - like days, "High X of Y": the Y most recent like days (same day type: weekday, or weekend-or-holiday)
 *   within a lookback, skipping excluded days (earlier events, outages), holidays and days without complete
 *   data, and replacing low-usage days (mean over the event's periods under a share of the Y days' mean);
 *   of those the X with the highest mean over the event's periods; the baseline of a period is their mean at
 *   the same local time. X = Y is the "Y of Y" average. Optionally adjusted on the day from a window before
 *   the event (additive or multiplicative, capped);
 * - `same-period-yesterday`: the value at the same local time on the previous day, any day type, unadjusted;
 *   the naive comparison.
 */

/** Days of one day type a like-day method looks at (Y, newest first) and keeps (the X highest). */
export interface LikeDays {
  x: number;
  y: number;
}

/** The in-day adjustment from a window before the event. */
export interface InDayAdjustment {
  /** additive: baseline + (event-day mean − baseline mean) over the window; multiplicative: baseline × their ratio. */
  type: 'additive' | 'multiplicative';
  /** Minutes before the event's first period the window opens (240: four hours before). */
  windowStartMinutes: number;
  /** Minutes before the event's first period the window closes (60: the hour before the event is left out). */
  windowEndMinutes: number;
  /**
   * Largest adjustment as a share, null uncapped: additive, |adjustment| ≤ cap × |baseline mean over the
   * window|; multiplicative, the ratio within [1 − cap, 1 + cap].
   */
  cap: number | null;
}

export interface LikeDayMethod {
  name: string;
  kind: 'like-days';
  weekday: LikeDays;
  /** Saturdays, Sundays and (when `holidays` is 'like-weekend') holidays. */
  weekendHoliday: LikeDays;
  /** How many days before the event day like days are looked for. */
  lookbackDays: number;
  /** A day whose mean over the event's periods is under this share of the selected days' mean is replaced; null keeps every day. */
  lowUsageShare: number | null;
  /** like-weekend: holidays are weekend-type days; excluded: a holiday is never a like day. */
  holidays: 'like-weekend' | 'excluded';
  adjustment: InDayAdjustment | null;
}

export interface PreviousDayMethod {
  name: string;
  kind: 'previous-day';
}

export type BaselineMethod = LikeDayMethod | PreviousDayMethod;

const STANDARD_WINDOW = { windowStartMinutes: 240, windowEndMinutes: 60 } as const;

/** The named methodologies with their standard parameters; `baselineMethod` changes any of them per event. */
export const METHODOLOGIES = {
  /** PJM's Customer Baseline Load: High 4 of 5 weekdays, High 2 of 3 weekend/holiday days, symmetric additive adjustment. */
  'high-4-of-5': {
    name: 'high-4-of-5',
    kind: 'like-days',
    weekday: { x: 4, y: 5 },
    weekendHoliday: { x: 2, y: 3 },
    lookbackDays: 45,
    lowUsageShare: 0.25,
    holidays: 'like-weekend',
    adjustment: { type: 'additive', ...STANDARD_WINDOW, cap: null },
  },
  /** The 10-in-10 average (weekend and holidays 4 in 4), with a day-of adjustment capped at ±20 %. */
  '10-of-10': {
    name: '10-of-10',
    kind: 'like-days',
    weekday: { x: 10, y: 10 },
    weekendHoliday: { x: 4, y: 4 },
    lookbackDays: 45,
    lowUsageShare: null,
    holidays: 'like-weekend',
    adjustment: { type: 'multiplicative', ...STANDARD_WINDOW, cap: 0.2 },
  },
  /** High 5 of 10 weekdays, High 3 of 5 weekend/holiday days, additive adjustment capped at ±20 %. */
  'high-5-of-10': {
    name: 'high-5-of-10',
    kind: 'like-days',
    weekday: { x: 5, y: 10 },
    weekendHoliday: { x: 3, y: 5 },
    lookbackDays: 45,
    lowUsageShare: null,
    holidays: 'like-weekend',
    adjustment: { type: 'additive', ...STANDARD_WINDOW, cap: 0.2 },
  },
  'same-period-yesterday': { name: 'same-period-yesterday', kind: 'previous-day' },
} as const satisfies Record<string, BaselineMethod>;

export type MethodologyName = keyof typeof METHODOLOGIES;

export const METHODOLOGY_NAMES = Object.keys(METHODOLOGIES) as MethodologyName[];

/** What an event may change of a like-day methodology. `adjustment: null` computes the unadjusted baseline. */
export type MethodOverrides = Partial<Omit<LikeDayMethod, 'name' | 'kind' | 'adjustment'>> & {
  adjustment?: Partial<InDayAdjustment> | null;
};

/**
 * A named methodology with an event's changes to its parameters, checked; throws an Error whose message says
 * which parameter is wrong (for a 400 naming the field).
 */
export function baselineMethod(name: MethodologyName, overrides: MethodOverrides = {}): BaselineMethod {
  const standard: BaselineMethod = METHODOLOGIES[name];
  if (standard.kind === 'previous-day') {
    if (Object.keys(overrides).length > 0) throw new Error(`${name} takes no parameters`);
    return { ...standard };
  }
  const adjustment =
    overrides.adjustment === null
      ? null
      : standard.adjustment === null && overrides.adjustment === undefined
        ? null
        : {
            ...(standard.adjustment ?? { type: 'additive', ...STANDARD_WINDOW, cap: null }),
            ...overrides.adjustment,
          };
  const method: LikeDayMethod = {
    ...standard,
    ...overrides,
    weekday: { ...standard.weekday, ...overrides.weekday },
    weekendHoliday: { ...standard.weekendHoliday, ...overrides.weekendHoliday },
    adjustment,
  };
  for (const key of ['weekday', 'weekendHoliday'] as const) {
    const { x, y } = method[key];
    if (!Number.isInteger(x) || !Number.isInteger(y) || x < 1 || y < x || y > 60)
      throw new Error(`${key}: x and y must be whole numbers with 1 ≤ x ≤ y ≤ 60; got x=${x}, y=${y}`);
  }
  if (!Number.isInteger(method.lookbackDays) || method.lookbackDays < 1 || method.lookbackDays > 366)
    throw new Error(`lookbackDays must be a whole number of days, 1 to 366; got ${method.lookbackDays}`);
  if (method.lowUsageShare !== null && !(method.lowUsageShare > 0 && method.lowUsageShare < 1))
    throw new Error(`lowUsageShare must be between 0 and 1, or null; got ${method.lowUsageShare}`);
  if (method.holidays !== 'like-weekend' && method.holidays !== 'excluded')
    throw new Error(`holidays must be "like-weekend" or "excluded"; got ${JSON.stringify(method.holidays)}`);
  if (adjustment) {
    const { type, windowStartMinutes: start, windowEndMinutes: end, cap } = adjustment;
    if (type !== 'additive' && type !== 'multiplicative')
      throw new Error(`adjustment.type must be "additive" or "multiplicative"; got ${JSON.stringify(type)}`);
    if (start % 15 !== 0 || end % 15 !== 0 || end < 0 || start <= end || start > 24 * 60)
      throw new Error(
        `adjustment window: minutes before the event, multiples of 15, with 0 ≤ end < start ≤ 1440; got start=${start}, end=${end}`,
      );
    if (cap !== null && !(cap >= 0 && cap < 1))
      throw new Error(`adjustment.cap must be in [0, 1) or null; got ${cap}`);
  }
  return method;
}

export interface BaselineInput {
  /** Mean kW by 15-minute UTC slot start (epoch ms): the meter's history. Slots without data are absent. */
  history: ReadonlyMap<number, number>;
  /** Slot starts (epoch ms, 15-minute aligned) of the event's periods, all on one local day. */
  periods: readonly number[];
  /** IANA zone the days are read in (local dates, day types, same local time). */
  timeZone: string;
  /** Local dates ("YYYY-MM-DD") that are never like days: earlier events, outages, abnormal days. */
  excludedDays?: readonly string[];
  /** Local dates of holidays. */
  holidays?: readonly string[];
  /**
   * The instant the baseline is computed at: only slots that ended by then count (default: the start of the
   * event's first period). Before the adjustment window closes the baseline is day-ahead.
   */
  asOf?: number;
}

export type SkipReason = 'excluded' | 'holiday' | 'incomplete' | 'low-usage' | 'not-highest';

export interface AppliedAdjustment {
  type: InDayAdjustment['type'];
  /** The window, epoch ms [start, end). */
  windowStart: number;
  windowEnd: number;
  /** Mean kW metered over the window on the event day, and the unadjusted baseline's mean over it. */
  eventDayKw: number;
  baselineKw: number;
  /** kW added (additive) or factor (multiplicative), before and after the cap. */
  uncapped: number;
  applied: number;
  capped: boolean;
}

export interface BaselinePeriod {
  slotStart: number;
  kw: number;
  /** Before the in-day adjustment (equal to kw when none was applied). */
  unadjustedKw: number;
}

export interface Baseline {
  available: true;
  methodology: string;
  parameters: BaselineMethod;
  eventDate: string;
  dayType: 'weekday' | 'weekend-holiday';
  /** adjusted: the in-day adjustment is applied; day-ahead: not (yet, or the methodology has none). */
  status: 'day-ahead' | 'adjusted';
  /** The local dates averaged, newest first. */
  daysUsed: string[];
  /** Like-day candidates passed over, newest first, and why. */
  daysSkipped: { date: string; reason: SkipReason }[];
  adjustment: AppliedAdjustment | null;
  /** Why a methodology with an adjustment is still day-ahead. */
  unadjustedBecause: 'window-open' | 'window-incomplete' | 'baseline-not-positive' | null;
  periods: BaselinePeriod[];
}

export interface NoBaseline {
  available: false;
  methodology: string;
  eventDate: string;
  reason: string;
}

/** The baseline of an event's periods by a methodology (see the module comment). */
export function computeBaseline(method: BaselineMethod, input: BaselineInput): Baseline | NoBaseline {
  const periods = [...input.periods].sort((a, b) => a - b);
  if (periods.length === 0) throw new Error('an event has at least one period');
  for (const p of periods)
    if (p % SLOT_MS !== 0)
      throw new Error(`period ${new Date(p).toISOString()} is not a 15-minute slot start`);
  const clock = new LocalClock(input.timeZone);
  const eventStart = periods[0]!;
  const asOf = input.asOf ?? eventStart;
  const at = periods.map((p) => clock.local(p));
  const eventDay = at[0]!.day;
  if (at.some((l) => l.day !== eventDay)) throw new Error("an event's periods lie on one local day");
  const eventDate = dateOfDay(eventDay);
  const valueAt = (day: number, minute: number): number | undefined => {
    const slot = clock.utc(day, minute);
    if (slot === undefined || slot + SLOT_MS > asOf) return undefined;
    return input.history.get(slot);
  };
  const valuesOn = (day: number, minutes: readonly number[]): number[] | undefined => {
    const values: number[] = [];
    for (const m of minutes) {
      const v = valueAt(day, m);
      if (v === undefined || !Number.isFinite(v)) return undefined;
      values.push(v);
    }
    return values;
  };
  const minutes = at.map((l) => l.minute);

  if (method.kind === 'previous-day') {
    const values = valuesOn(eventDay - 1, minutes);
    if (!values)
      return unavailable(
        method,
        eventDate,
        `no complete data on ${dateOfDay(eventDay - 1)} for the event's periods`,
      );
    return {
      available: true,
      methodology: method.name,
      parameters: method,
      eventDate,
      dayType: dayTypeOf(eventDay, new Set(), 'like-weekend'),
      status: 'day-ahead',
      daysUsed: [dateOfDay(eventDay - 1)],
      daysSkipped: [],
      adjustment: null,
      unadjustedBecause: null,
      periods: periods.map((slotStart, i) => ({ slotStart, kw: values[i]!, unadjustedKw: values[i]! })),
    };
  }

  const holidays = new Set((input.holidays ?? []).map(dayOfDate));
  const excluded = new Set((input.excludedDays ?? []).map(dayOfDate));
  const dayType = dayTypeOf(eventDay, holidays, method.holidays);
  const { x, y } = dayType === 'weekday' ? method.weekday : method.weekendHoliday;

  // Like days: newest first, Y of them, low-usage days replaced by older ones.
  const skipped: { day: number; reason: SkipReason }[] = [];
  let chosen: { day: number; values: number[]; mean: number }[] = [];
  for (let day = eventDay - 1; day >= eventDay - method.lookbackDays && chosen.length < y; day--) {
    const isHoliday = holidays.has(day);
    if (isHoliday && method.holidays === 'excluded') {
      skipped.push({ day, reason: 'holiday' });
      continue;
    }
    if (dayTypeOf(day, holidays, method.holidays) !== dayType) {
      if (isHoliday) skipped.push({ day, reason: 'holiday' });
      continue;
    }
    if (excluded.has(day)) {
      skipped.push({ day, reason: 'excluded' });
      continue;
    }
    const values = valuesOn(day, minutes);
    if (!values) {
      skipped.push({ day, reason: 'incomplete' });
      continue;
    }
    chosen.push({ day, values, mean: mean(values) });
    if (chosen.length === y && method.lowUsageShare !== null) {
      const threshold = method.lowUsageShare * mean(chosen.map((c) => c.mean));
      if (threshold > 0) {
        for (const c of chosen) if (c.mean < threshold) skipped.push({ day: c.day, reason: 'low-usage' });
        chosen = chosen.filter((c) => c.mean >= threshold);
      }
    }
  }
  if (chosen.length < x)
    return unavailable(
      method,
      eventDate,
      `${chosen.length} ${dayType} like day(s) with complete data in the ${method.lookbackDays} days before ${eventDate}; ${x} needed`,
    );
  // The X highest over the event's periods; ties to the newer day.
  const ranked = [...chosen].sort((a, b) => b.mean - a.mean || b.day - a.day);
  const used = ranked.slice(0, x).sort((a, b) => b.day - a.day);
  for (const c of ranked.slice(x)) skipped.push({ day: c.day, reason: 'not-highest' });
  skipped.sort((a, b) => b.day - a.day);
  const unadjusted = minutes.map((_, i) => mean(used.map((c) => c.values[i]!)));

  let adjustment: AppliedAdjustment | null = null;
  let unadjustedBecause: Baseline['unadjustedBecause'] = null;
  if (method.adjustment) {
    const a = method.adjustment;
    const windowStart = eventStart - a.windowStartMinutes * MINUTE_MS;
    const windowEnd = eventStart - a.windowEndMinutes * MINUTE_MS;
    if (asOf < windowEnd) unadjustedBecause = 'window-open';
    else {
      const eventDayValues: number[] = [];
      const baselineValues: number[] = [];
      for (let slot = windowStart; slot < windowEnd; slot += SLOT_MS) {
        const v = input.history.get(slot);
        const l = clock.local(slot);
        const onDays = used.map((c) => valueAt(c.day + l.day - eventDay, l.minute));
        if (
          v === undefined ||
          !Number.isFinite(v) ||
          onDays.some((d) => d === undefined || !Number.isFinite(d))
        )
          break;
        eventDayValues.push(v);
        baselineValues.push(mean(onDays as number[]));
      }
      const complete = eventDayValues.length === (windowEnd - windowStart) / SLOT_MS;
      const eventDayKw = mean(eventDayValues);
      const baselineKw = mean(baselineValues);
      if (!complete) unadjustedBecause = 'window-incomplete';
      else if (a.type === 'multiplicative' && !(baselineKw > 0)) unadjustedBecause = 'baseline-not-positive';
      else {
        const uncapped = a.type === 'additive' ? eventDayKw - baselineKw : eventDayKw / baselineKw;
        let applied = uncapped;
        if (a.cap !== null) {
          const [low, high] =
            a.type === 'additive'
              ? [-a.cap * Math.abs(baselineKw), a.cap * Math.abs(baselineKw)]
              : [1 - a.cap, 1 + a.cap];
          applied = Math.min(high, Math.max(low, uncapped));
        }
        adjustment = {
          type: a.type,
          windowStart,
          windowEnd,
          eventDayKw,
          baselineKw,
          uncapped,
          applied,
          capped: applied !== uncapped,
        };
      }
    }
  }
  const adjust = (kw: number): number =>
    adjustment === null
      ? kw
      : adjustment.type === 'additive'
        ? kw + adjustment.applied
        : kw * adjustment.applied;
  return {
    available: true,
    methodology: method.name,
    parameters: method,
    eventDate,
    dayType,
    status: adjustment ? 'adjusted' : 'day-ahead',
    daysUsed: used.map((c) => dateOfDay(c.day)),
    daysSkipped: skipped.map((s) => ({ date: dateOfDay(s.day), reason: s.reason })),
    adjustment,
    unadjustedBecause,
    periods: periods.map((slotStart, i) => ({
      slotStart,
      kw: adjust(unadjusted[i]!),
      unadjustedKw: unadjusted[i]!,
    })),
  };
}

function unavailable(method: BaselineMethod, eventDate: string, reason: string): NoBaseline {
  return { available: false, methodology: method.name, eventDate, reason };
}

function dayTypeOf(
  day: number,
  holidays: ReadonlySet<number>,
  mode: LikeDayMethod['holidays'],
): 'weekday' | 'weekend-holiday' {
  const dow = dayOfWeek(day);
  if (dow === 0 || dow === 6) return 'weekend-holiday';
  return mode === 'like-weekend' && holidays.has(day) ? 'weekend-holiday' : 'weekday';
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * Local dates and times of UTC instants in one zone, and back: a day's UTC offset is read once at its noon
 * (and each instant checked on the days whose offset changes), so a baseline formats a few instants a day.
 */
class LocalClock {
  private readonly noonOffset = new Map<number, { offset: number; changes: boolean }>();

  constructor(private readonly timeZone: string) {}

  local(ms: number): { day: number; minute: number } {
    return localDayAndMinute(ms, this.timeZone);
  }

  /** The UTC instant of a local day and minute; undefined for a local time the zone skips. */
  utc(day: number, minute: number): number | undefined {
    const local = day * DAY_MS + minute * MINUTE_MS;
    const { offset, changes } = this.dayOffset(day);
    let ms = local - offset;
    if (changes) {
      ms = local - this.offsetAt(ms);
      if (this.offsetAt(ms) !== local - ms) return undefined;
    }
    return ms;
  }

  private dayOffset(day: number): { offset: number; changes: boolean } {
    let o = this.noonOffset.get(day);
    if (!o) {
      const offset = this.offsetAt(day * DAY_MS + DAY_MS / 2);
      const changes =
        this.offsetAt(day * DAY_MS - offset) !== offset ||
        this.offsetAt((day + 1) * DAY_MS - offset - 1) !== offset;
      o = { offset, changes };
      this.noonOffset.set(day, o);
    }
    return o;
  }

  private offsetAt(ms: number): number {
    const floor = Math.floor(ms / MINUTE_MS) * MINUTE_MS;
    const { day, minute } = localDayAndMinute(floor, this.timeZone);
    return day * DAY_MS + minute * MINUTE_MS - floor;
  }
}
