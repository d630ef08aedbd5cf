import { describe, expect, it } from 'vitest';
import { SLOT_MS } from '../../core/time.js';
import {
  DEFAULT_SERIES_CONFIG,
  SeasonalSeries,
  StationHistory,
  classOf,
} from '../../processors/stress/stress-history.js';
import { ZoneOffsets } from '../../core/zone-offsets.js';
import { Rng } from '../../simulator/random.js';

const T0 = Date.UTC(2026, 5, 1); // Monday 00:00 UTC
const DAY = 86_400_000;
const UTC = ZoneOffsets.of('UTC');

describe('comparable slots', () => {
  it("are the quarter hour of the local day and the day type of the local date, in the DT's zone", () => {
    expect(classOf(T0, UTC)).toBe(0);
    expect(classOf(T0 + 19 * 3_600_000 + 30 * 60_000, UTC)).toBe(78);
    // Saturday 00:15 UTC is a weekend slot; Friday 22:00 UTC is Saturday 03:30 in India (UTC+5:30).
    expect(classOf(T0 + 5 * DAY + SLOT_MS, UTC)).toBe(96 + 1);
    const fridayLate = T0 + 4 * DAY + 22 * 3_600_000;
    expect(classOf(fridayLate, UTC)).toBe(88);
    expect(classOf(fridayLate, ZoneOffsets.of('Asia/Kolkata'))).toBe(96 + 14);
    // Friday 18:45 UTC is Saturday 00:15 in Kolkata.
    expect(classOf(T0 + 4 * DAY + 18 * 3_600_000 + 45 * 60_000, ZoneOffsets.of('Asia/Kolkata'))).toBe(96 + 1);
    // Summer time: 17:00 UTC is 18:00 in Berlin before the last Sunday of March and 19:00 after it.
    const berlin = ZoneOffsets.of('Europe/Berlin');
    expect(classOf(Date.UTC(2026, 2, 26, 17), berlin)).toBe(72);
    expect(classOf(Date.UTC(2026, 2, 31, 17), berlin)).toBe(76);
  });
});

/** Observes a series slot by slot; returns the forecasts made after each slot for leads 1 and 96. */
function simulate(
  days: number,
  value: (slot: number, i: number) => number,
  onForecast?: (from: number, mean: Float64Array, sd: Float64Array) => void,
) {
  const series = new SeasonalSeries(DEFAULT_SERIES_CONFIG, 0.01, (x) => 0.2 * Math.abs(x) + 1);
  const classes = new Int16Array(96);
  const mean = new Float64Array(96);
  const sd = new Float64Array(96);
  for (let i = 0; i < days * 96; i++) {
    const slot = T0 + i * SLOT_MS;
    series.observe(slot, classOf(slot, UTC), value(slot, i));
    for (let j = 0; j < 96; j++) classes[j] = classOf(slot + (j + 1) * SLOT_MS, UTC);
    series.forecast(slot, 96, classes, mean, sd, null);
    onForecast?.(slot, mean, sd);
  }
  return series;
}

const profile = (slot: number) => {
  const h = ((slot - T0) % DAY) / 3_600_000;
  const weekend = classOf(slot, UTC) >= 96;
  return (weekend ? 60 : 50) + 30 * Math.exp(-(((h - 19) / 2) ** 2));
};

describe('seasonal series', () => {
  it('learns the profile of comparable slots, weekdays and weekends apart', () => {
    let last: { mean: Float64Array; sd: Float64Array; from: number } | null = null;
    simulate(21, profile, (from, mean, sd) => (last = { from, mean: mean.slice(), sd: sd.slice() }));
    const { from, mean, sd } = last!;
    for (let j = 0; j < 96; j++) {
      expect(mean[j]!).toBeCloseTo(profile(from + (j + 1) * SLOT_MS), 3);
      expect(sd[j]!).toBeLessThan(0.5);
    }
  });

  it('estimates the persistence of departures and carries the last one forward, fading', () => {
    const rng = new Rng(3);
    let anomaly = 0;
    const series = simulate(60, (slot) => {
      anomaly = 0.9 * anomaly + Math.sqrt(1 - 0.81) * rng.normal();
      return profile(slot) + 5 * anomaly;
    });
    expect(series.rho).toBeGreaterThan(0.82);
    expect(series.rho).toBeLessThan(0.95);
    // A departure of +3 sd now: the next slot expects most of it, the next day almost none.
    const classes = new Int16Array(96);
    const from = T0 + 60 * DAY;
    for (let j = 0; j < 96; j++) classes[j] = classOf(from + (j + 1) * SLOT_MS, UTC);
    series.observe(from, classOf(from, UTC), profile(from) + 15);
    const mean = new Float64Array(96);
    const sd = new Float64Array(96);
    series.forecast(from, 96, classes, mean, sd, null);
    const excess = (j: number) => mean[j]! - profile(from + (j + 1) * SLOT_MS);
    expect(excess(0)).toBeGreaterThan(9);
    expect(excess(95)).toBeLessThan(3);
    expect(sd[0]!).toBeLessThan(sd[95]!);
  });

  it('spreads its forecasts as wide as its errors: 90% intervals hold about 90% of outcomes at leads 1 and 96', () => {
    // Heavy-tailed departures (t-like: a normal over a random scale) around the profile, with persistence.
    const rng = new Rng(8);
    let anomaly = 0;
    const values: number[] = [];
    const z90 = 1.645;
    const lead1: [number, number][] = [];
    const lead96: [number, number][] = [];
    const pending = new Map<number, [number, number]>();
    const pending96 = new Map<number, [number, number]>();
    simulate(
      70,
      (slot, i) => {
        anomaly = 0.8 * anomaly + 0.6 * rng.normal() * (rng.chance(0.1) ? 3 : 1);
        values[i] = profile(slot) + 4 * anomaly;
        return values[i]!;
      },
      (from, mean, sd) => {
        const i = (from - T0) / SLOT_MS;
        if (i < 21 * 96) return;
        pending.set(i + 1, [mean[0]!, sd[0]!]);
        pending96.set(i + 96, [mean[95]!, sd[95]!]);
        const f1 = pending.get(i);
        if (f1) lead1.push([values[i]! - f1[0], f1[1]]);
        const f96 = pending96.get(i);
        if (f96) lead96.push([values[i]! - f96[0], f96[1]]);
      },
    );
    // The forecasts are normal-based here: the intervals need the right width, whatever the shape.
    const coverage = (pairs: [number, number][]) =>
      pairs.filter(([error, sd]) => Math.abs(error) <= z90 * sd).length / pairs.length;
    expect(lead1.length).toBeGreaterThan(4000);
    expect(coverage(lead1)).toBeGreaterThan(0.88);
    expect(coverage(lead1)).toBeLessThan(0.95);
    // (Without its own record of day-ahead errors, this one is 0.87: the class spread alone is too narrow.)
    expect(coverage(lead96)).toBeGreaterThan(0.88);
    expect(coverage(lead96)).toBeLessThan(0.95);
  });
});

describe('weather station', () => {
  it('averages a slot, folds in a late observation, and forecasts climatology plus the persisting departure', () => {
    const station = new StationHistory(DEFAULT_SERIES_CONFIG);
    const climate = (ts: number) => 28 + 6 * Math.sin((2 * Math.PI * (ts - T0)) / DAY);
    // Days differ by a couple of kelvin.
    const rng = new Rng(5);
    const dayOffset = Array.from({ length: 12 }, () => 2 * rng.normal());
    const temperature = (ts: number) => climate(ts) + dayOffset[Math.floor((ts - T0) / DAY)]!;
    // Forecasts are made every slot (as the stress stage's are), so the series takes each slot in as it comes.
    for (let ts = T0; ts < T0 + 10 * DAY; ts += 5 * 60_000) {
      station.observe(ts, temperature(ts));
      if (ts % SLOT_MS === 0) expect(station.hasHistoryAt(ts - SLOT_MS)).toBe(ts > T0);
    }
    const slot = T0 + 9 * DAY + 40 * SLOT_MS;
    const expected =
      (temperature(slot) + temperature(slot + 5 * 60_000) + temperature(slot + 10 * 60_000)) / 3;
    expect(station.slotMean(slot)).toBeCloseTo(expected, 9);
    expect(Number.isNaN(station.slotMean(T0))).toBe(true); // beyond the two days kept
    station.observe(slot + 60_000, expected + 10);
    expect(station.slotMean(slot)).toBeCloseTo(expected + 5, 9);
    // A morning 4 K hotter than usual: the forecast keeps most of it for the next hours, less the next day.
    const from = T0 + 10 * DAY;
    for (let ts = from; ts < from + 4 * SLOT_MS; ts += 5 * 60_000) station.observe(ts, climate(ts) + 4);
    station.observe(from + 4 * SLOT_MS, climate(from + 4 * SLOT_MS) + 4); // closes the slot before
    const mean = new Float64Array(96);
    const sd = new Float64Array(96);
    station.forecast(from + 3 * SLOT_MS, 96, mean, sd);
    const usual = (j: number) => {
      const ts = from + (4 + j) * SLOT_MS;
      return (climate(ts) + climate(ts + 5 * 60_000) + climate(ts + 10 * 60_000)) / 3;
    };
    for (let j = 0; j < 8; j++) {
      expect(mean[j]! - usual(j)).toBeGreaterThan(2);
      expect(mean[j]! - usual(j)).toBeLessThan(5);
    }
    expect(Math.abs(mean[95]! - usual(95))).toBeLessThan(mean[0]! - usual(0));
    expect(sd[0]!).toBeLessThan(sd[95]!);
  });

  it('forecasts from the weather as of the slot, whether the observations came just in time or hours ahead', () => {
    const temperature = (ts: number) =>
      20 + 8 * Math.sin((2 * Math.PI * (ts - T0)) / DAY) + Math.cos(ts / 7e6);
    const observe = (station: StationHistory, slot: number) => {
      for (let ts = slot; ts < slot + SLOT_MS; ts += 5 * 60_000) station.observe(ts, temperature(ts));
    };
    const justInTime = new StationHistory(DEFAULT_SERIES_CONFIG);
    const ahead = new StationHistory(DEFAULT_SERIES_CONFIG);
    const AHEAD_SLOTS = 24;
    for (let k = 0; k < AHEAD_SLOTS; k++) observe(ahead, T0 + k * SLOT_MS);
    const forecasts = (station: StationHistory, from: number) => {
      const mean = new Float64Array(96);
      const sd = new Float64Array(96);
      if (station.hasHistoryAt(from)) station.forecast(from, 96, mean, sd);
      return [...mean, ...sd];
    };
    justInTime.observe(T0, temperature(T0));
    for (let k = 0; k < 3 * 96; k++) {
      const slot = T0 + k * SLOT_MS;
      // The rest of the slot, then the next one's first observation, which closes it (as live weather does).
      for (let ts = slot + 5 * 60_000; ts <= slot + SLOT_MS; ts += 5 * 60_000)
        justInTime.observe(ts, temperature(ts));
      observe(ahead, slot + AHEAD_SLOTS * SLOT_MS);
      expect(forecasts(ahead, slot)).toEqual(forecasts(justInTime, slot));
    }
  });
});
