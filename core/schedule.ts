import tzlookup from '@photostructure/tz-lookup';
import { DAY_MS, MINUTE_MS } from './time.js';

/**
 * Daily schedules such as "23:00-05:00" (hosting-capacity additions, EV dwell windows), read in an
 * IANA time zone. A window may wrap midnight; "00:00-24:00" is the whole day; start = end is refused (ambiguous:
 * nothing or everything).
 */
export interface DailySchedule {
  /** Minutes after local midnight the window opens, 0..1439. */
  startMinute: number;
  /** Minutes after local midnight it closes, 1..1440; less than startMinute when it wraps midnight. */
  endMinute: number;
  text: string;
}

/** A daily window as request schemas declare it (api/routes/hosting.ts, feeder.ts). */
export const SCHEDULE_PATTERN = /^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|24:00)$/;

/** Parses "HH:MM-HH:MM"; throws an Error whose message says what is wrong (for a 400 naming the field). */
export function parseSchedule(text: string): DailySchedule {
  const m = SCHEDULE_PATTERN.exec(text);
  if (!m)
    throw new Error(`must be "HH:MM-HH:MM" in 24-hour time, e.g. "23:00-05:00"; got ${JSON.stringify(text)}`);
  const startMinute = Number(m[1]) * 60 + Number(m[2]);
  const endMinute = m[3] === '24:00' ? 1440 : Number(m[4]) * 60 + Number(m[5]);
  if (startMinute === endMinute % 1440 && endMinute !== 1440)
    throw new Error(`start and end are equal (${JSON.stringify(text)}): use "00:00-24:00" for the whole day`);
  return { startMinute, endMinute, text };
}

/** Minutes the window lasts each day. */
export function scheduleMinutes(schedule: DailySchedule): number {
  const { startMinute, endMinute } = schedule;
  return endMinute > startMinute ? endMinute - startMinute : 1440 - startMinute + endMinute;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone this runtime knows (e.g. "Asia/Kolkata", "UTC"). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    formatters.delete(timeZone);
    return false;
  }
}

/** What a DT's time zone is decided from: the topology's `timezone` field (null: none named) and its location. */
export interface TransformerPlace {
  timezone: string | null;
  latitude: number;
  longitude: number;
}

/**
 * The IANA zone a DT's schedules, day types and local windows are read in: the zone its topology row names,
 * else `configured` (GRIDSTREAM_TIMEZONE), else the zone at its coordinates (tz-lookup's boundaries), UTC
 * only where none of these gives a zone this runtime knows.
 */
export function transformerTimeZone(dt: TransformerPlace, configured?: string): string {
  if (dt.timezone && isTimeZone(dt.timezone)) return dt.timezone;
  if (configured && isTimeZone(configured)) return configured;
  try {
    const zone = tzlookup(dt.latitude, dt.longitude);
    if (isTimeZone(zone)) return zone;
  } catch {
    // Coordinates out of range: the topology check refuses them, so only a hand-made row lands here.
  }
  return 'UTC';
}

/** Local minute of the day (0..1439) of an instant in `timeZone`. */
export function localMinuteOfDay(ms: number, timeZone: string): number {
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(ms)) {
    if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return hour * 60 + minute;
}

/** Whether the instant `ms` falls inside the daily window, read in `timeZone`. */
export function inSchedule(schedule: DailySchedule, ms: number, timeZone: string): boolean {
  const minute = localMinuteOfDay(ms, timeZone);
  const { startMinute, endMinute } = schedule;
  return endMinute > startMinute
    ? minute >= startMinute && minute < endMinute
    : minute >= startMinute || minute < endMinute;
}

/**
 * Share (0..1) of the interval [fromMs, toMs) inside the window, sampled each minute: a 15-minute slot that the
 * window half covers (e.g. a schedule starting at :07 in a zone offset by 5:30) counts half.
 */
export function scheduleShare(
  schedule: DailySchedule,
  fromMs: number,
  toMs: number,
  timeZone: string,
): number {
  let inside = 0;
  let total = 0;
  for (let t = fromMs; t < toMs; t += MINUTE_MS, total++) if (inSchedule(schedule, t, timeZone)) inside++;
  return total === 0 ? 0 : inside / total;
}

const dateFormatters = new Map<string, Intl.DateTimeFormat>();

/**
 * The local calendar date and minute of day of an instant in `timeZone` (daylight saving included): the date
 * as a day number, days since 1970-01-01 (so 20 000 is 2024-10-04), which `dayOfWeek` and `dateOfDay` read.
 */
export function localDayAndMinute(ms: number, timeZone: string): { day: number; minute: number } {
  let f = dateFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    dateFormatters.set(timeZone, f);
  }
  let year = 1970;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  for (const part of f.formatToParts(ms)) {
    if (part.type === 'year') year = Number(part.value);
    else if (part.type === 'month') month = Number(part.value);
    else if (part.type === 'day') day = Number(part.value);
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { day: Date.UTC(year, month - 1, day) / DAY_MS, minute: hour * 60 + minute };
}

/** Day of the week of a day number: 0 Sunday … 6 Saturday (1970-01-01 was a Thursday). */
export function dayOfWeek(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

/** The day number of a calendar date "YYYY-MM-DD"; throws on anything else. */
export function dayOfDate(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || new Date(ms).toISOString().slice(0, 10) !== text)
    throw new Error(`must be a date "YYYY-MM-DD"; got ${JSON.stringify(text)}`);
  return ms / DAY_MS;
}

/** The calendar date "YYYY-MM-DD" of a day number. */
export function dateOfDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}
