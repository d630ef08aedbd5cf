import { describe, expect, it } from 'vitest';
import {
  dateOfDay,
  dayOfDate,
  dayOfWeek,
  inSchedule,
  localDayAndMinute,
  isTimeZone,
  localMinuteOfDay,
  parseSchedule,
  scheduleMinutes,
  scheduleShare,
  transformerTimeZone,
} from '../../core/schedule.js';
import { SLOT_MS } from '../../core/time.js';

describe('daily schedules', () => {
  it('parses HH:MM-HH:MM, including windows that wrap midnight and 24:00', () => {
    expect(parseSchedule('23:00-05:00')).toEqual({ startMinute: 1380, endMinute: 300, text: '23:00-05:00' });
    expect(scheduleMinutes(parseSchedule('23:00-05:00'))).toBe(360);
    expect(scheduleMinutes(parseSchedule('00:00-24:00'))).toBe(1440);
    expect(scheduleMinutes(parseSchedule('08:30-17:45'))).toBe(555);
  });

  it('refuses malformed and empty windows with a reason', () => {
    expect(() => parseSchedule('25:00-05:00')).toThrow(/HH:MM-HH:MM/);
    expect(() => parseSchedule('23:00')).toThrow(/HH:MM-HH:MM/);
    expect(() => parseSchedule("23:00-05:00' OR 1=1")).toThrow(/HH:MM-HH:MM/);
    expect(() => parseSchedule('10:00-10:00')).toThrow(/equal/);
  });

  it('reads the window in the given time zone', () => {
    // 18:00 UTC is 23:30 in India (UTC+5:30) and 19:00 in London in summer (BST).
    const t = Date.UTC(2026, 6, 1, 18, 0);
    expect(localMinuteOfDay(t, 'Asia/Kolkata')).toBe(23 * 60 + 30);
    expect(localMinuteOfDay(t, 'Europe/London')).toBe(19 * 60);
    const night = parseSchedule('23:00-05:00');
    expect(inSchedule(night, t, 'Asia/Kolkata')).toBe(true);
    expect(inSchedule(night, t, 'UTC')).toBe(false);
    expect(inSchedule(night, Date.UTC(2026, 6, 1, 4, 59), 'UTC')).toBe(true);
    expect(inSchedule(night, Date.UTC(2026, 6, 1, 5, 0), 'UTC')).toBe(false);
  });

  it('counts the share of a slot inside the window', () => {
    const s = parseSchedule('10:07-11:00');
    const slot = Date.UTC(2026, 6, 1, 10, 0);
    expect(scheduleShare(s, slot, slot + SLOT_MS, 'UTC')).toBeCloseTo(8 / 15, 12);
    expect(scheduleShare(s, slot + SLOT_MS, slot + 2 * SLOT_MS, 'UTC')).toBe(1);
  });

  it('knows IANA zones and refuses made-up ones', () => {
    expect(isTimeZone('Asia/Kolkata')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});

describe("a transformer's time zone", () => {
  const bangalore = { timezone: null, latitude: 12.97, longitude: 77.59 };
  it("is the topology's, else the configured one, else the zone at the DT's coordinates", () => {
    expect(transformerTimeZone({ ...bangalore, timezone: 'Asia/Dubai' }, 'Europe/Berlin')).toBe('Asia/Dubai');
    expect(transformerTimeZone(bangalore, 'Europe/Berlin')).toBe('Europe/Berlin');
    expect(transformerTimeZone(bangalore)).toBe('Asia/Kolkata');
    expect(transformerTimeZone({ timezone: null, latitude: 51.5, longitude: -0.12 })).toBe('Europe/London');
  });

  it('is UTC only where nothing gives a zone', () => {
    expect(transformerTimeZone({ timezone: null, latitude: 200, longitude: 0 })).toBe('UTC');
  });
});

describe('local dates', () => {
  it('reads the local date and minute of an instant, with daylight saving, and back to a calendar date', () => {
    // 2026-03-08T06:30Z is 01:30 EST; 07:30Z is 03:30 EDT (the clocks went forward at 02:00).
    expect(localDayAndMinute(Date.parse('2026-03-08T06:30:00Z'), 'America/New_York')).toEqual({
      day: dayOfDate('2026-03-08'),
      minute: 90,
    });
    expect(localDayAndMinute(Date.parse('2026-03-08T07:30:00Z'), 'America/New_York').minute).toBe(210);
    // 20:00Z is 01:30 the next day in Kolkata.
    const k = localDayAndMinute(Date.parse('2026-06-09T20:00:00Z'), 'Asia/Kolkata');
    expect(dateOfDay(k.day)).toBe('2026-06-10');
    expect(k.minute).toBe(90);
    expect(dayOfWeek(dayOfDate('2026-06-10'))).toBe(3); // a Wednesday
    expect(dayOfWeek(0)).toBe(4); // 1970-01-01, a Thursday
  });

  it('refuses a date that is not YYYY-MM-DD or does not exist', () => {
    expect(() => dayOfDate('2026-02-30')).toThrow(/YYYY-MM-DD/);
    expect(() => dayOfDate('10/06/2026')).toThrow(/YYYY-MM-DD/);
  });
});
