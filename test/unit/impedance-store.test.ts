import { describe, expect, it } from 'vitest';
import { impedanceFilter, ON_DEMAND_DATES } from '../../api/impedance-query.js';
import { ImpedanceStore, type ImpedanceFacts } from '../../serving/impedance-store.js';
import { DAY_MS } from '../../core/time.js';

const NOW = Date.UTC(2026, 10, 20, 13, 7);
const TODAY = NOW - (NOW % DAY_MS);
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dtOf = () => ({ tenant: 'default', feeder: 'f-1' });

function facts(meter: string, dayMs: number, version: number, median = 200): ImpedanceFacts {
  return {
    dt_id: 'dt-a',
    meter_id: meter,
    leg: 1,
    day: dayMs,
    median_mohm: median,
    event_count: 12,
    received_at: dayMs + DAY_MS,
    version,
    service_point_id: `SP-${meter}`,
    meter_number: null,
    electronic_serial_number: null,
    premise_id: null,
  };
}

const look = (store: ImpedanceStore, input: Record<string, unknown>) =>
  store.lookup(impedanceFilter(input, ON_DEMAND_DATES).params, 'default', dtOf, 1001, 0)?.rows ?? null;

describe("one look-up's impedance rows", () => {
  it('answers look-ups naming meters, and none naming no meters (a scan, the warehouse query)', () => {
    const store = new ImpedanceStore();
    store.apply([facts('m-1', TODAY - DAY_MS, 5)]);
    const named = {
      ServicePoint: 'SP-m-1',
      startEventDate: day(TODAY - 3 * DAY_MS),
      endEventDate: day(TODAY),
    };
    expect(look(store, named)).toHaveLength(1);
    expect(look(store, { ...named, startEventDate: '' })).toHaveLength(1);
    expect(look(store, { startEventDate: day(TODAY - 3 * DAY_MS), Feeder: 'f-1' })).toBeNull();
  });

  it('keeps the highest version of a leg-day whatever the order', () => {
    const store = new ImpedanceStore();
    store.apply([facts('m-1', TODAY - DAY_MS, 9, 300), facts('m-1', TODAY - DAY_MS, 7, 100)]);
    expect(store.size()).toBe(1);
    const rows = look(store, { Meter: 'm-1', startEventDate: day(TODAY - 3 * DAY_MS) })!;
    expect(rows.map((r) => [r.EventDate, r.MedianImpedance])).toEqual([[day(TODAY - DAY_MS), 300]]);
  });

  it('keeps legs 0 to 6 of every day apart (leg 4 of one day is not leg 0 of the next)', () => {
    const store = new ImpedanceStore();
    const days = [TODAY - 2 * DAY_MS, TODAY - DAY_MS];
    store.apply(days.flatMap((d) => [0, 4, 6].map((leg) => ({ ...facts('m-1', d, 1, 100 + leg), leg }))));
    expect(store.size()).toBe(6);
    const rows = look(store, { Meter: 'm-1', startEventDate: day(TODAY - 3 * DAY_MS) })!;
    expect(rows.map((r) => [r.EventDate, r.MeterLeg, r.MedianImpedance])).toEqual(
      days.flatMap((d) => [0, 4, 6].map((leg) => [day(d), leg, 100 + leg])),
    );
  });
});
