import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../core/time.js';
import { headroomShares, networkLimits } from '../../processors/flexibility/network-share.js';
import {
  clearConstraints,
  emptyLimits,
  expandWindow,
  holdsNothing,
  limitKw,
  limitKwh,
  mergeLimits,
  mostRestrictive,
  networkSources,
  periodLimitsOf,
  type LimitValues,
  type SourceLimits,
} from '../../processors/flexibility/period-limits.js';

const DAY = Date.UTC(2026, 0, 5);
const at = (h: number, m = 0) => DAY + h * 3_600_000 + m * 60_000;
const limits = (over: Partial<LimitValues>): LimitValues => ({ ...emptyLimits(), ...over });

describe('period limits: windows', () => {
  it('expands a one-off window into its quarter hours', () => {
    const e = expandWindow(
      { startMs: at(8), endMs: at(9), recurrent: false, validFromMs: null, validUntilMs: null },
      1000,
    );
    expect(e).toEqual({ starts: [at(8), at(8, 15), at(8, 30), at(8, 45)] });
  });

  it('repeats a time-of-day window on every day of the date range, past midnight when it ends earlier', () => {
    const daily = expandWindow(
      { startMs: at(8), endMs: at(8, 30), recurrent: true, validFromMs: DAY, validUntilMs: DAY + 2 * DAY_MS },
      1000,
    );
    expect(daily).toEqual({
      starts: [0, 1, 2].flatMap((d) => [at(8) + d * DAY_MS, at(8, 15) + d * DAY_MS]),
    });
    // 23:30-00:30 from start_time's day to end_time's day: two days of 4 periods.
    const night = expandWindow(
      {
        startMs: at(23, 30),
        endMs: at(0, 30) + DAY_MS,
        recurrent: true,
        validFromMs: null,
        validUntilMs: null,
      },
      1000,
    );
    expect('starts' in night && night.starts).toEqual([
      at(23, 30),
      at(23, 45),
      at(24),
      at(24, 15),
      at(23, 30) + DAY_MS,
      at(23, 45) + DAY_MS,
      at(24) + DAY_MS,
      at(24, 15) + DAY_MS,
    ]);
  });

  it('refuses times off the quarter hour, empty windows, reversed date ranges and too many periods', () => {
    const w = { startMs: at(8), endMs: at(9), recurrent: false, validFromMs: null, validUntilMs: null };
    expect(expandWindow({ ...w, startMs: at(8, 5) }, 1000)).toMatchObject({ field: 'start_time' });
    expect(expandWindow({ ...w, endMs: at(8) }, 1000)).toMatchObject({ field: 'end_time' });
    expect(expandWindow({ ...w, validFromMs: DAY + DAY_MS, validUntilMs: DAY }, 1000)).toMatchObject({
      field: 'valid_until',
    });
    expect(expandWindow(w, 3)).toMatchObject({ field: 'limits' });
  });
});

describe('period limits: values', () => {
  it('converts W, kW and MW to kW, and energies (or power units read hourly) to kWh', () => {
    expect(limitKw(-1.5, 'MW')).toBe(-1500);
    expect(limitKw('250', 'W')).toBe(0.25);
    expect(limitKwh(2, 'MWh')).toBe(2000);
    expect(limitKwh(2, 'MW')).toBe(2000);
    expect(limitKwh('500', 'Wh')).toBe(0.5);
  });

  it('merges a partial update: null keeps the stored value, false clears a lock', () => {
    const stored = limits({ powerChargeKw: -100, powerDischargeKw: 100, tradingLocked: true });
    expect(mergeLimits(stored, limits({ powerDischargeKw: 50, tradingLocked: false }))).toEqual(
      limits({ powerChargeKw: -100, powerDischargeKw: 50, tradingLocked: false }),
    );
    expect(mergeLimits(undefined, limits({ energyLowKwh: 10 }))).toEqual(limits({ energyLowKwh: 10 }));
  });

  it('clears constraints but keeps the lock; a row without constraints or lock holds nothing', () => {
    const cleared = clearConstraints(limits({ powerChargeKw: -1, energyHighKwh: 5, tradingLocked: true }));
    expect(cleared).toEqual(limits({ tradingLocked: true }));
    expect(holdsNothing(cleared)).toBe(false);
    expect(holdsNothing(limits({ tradingLocked: false }))).toBe(true);
  });

  it('computes the most restrictive value of each field and names the source that binds', () => {
    const c = mostRestrictive([
      {
        source: 'REPORTED',
        values: limits({ powerChargeKw: -500, powerDischargeKw: 400, energyLowKwh: 10 }),
      },
      {
        source: 'OPERATIONS',
        values: limits({ powerChargeKw: -200, energyHighKwh: 90, tradingLocked: false }),
      },
      { source: 'NETWORK', values: limits({ powerChargeKw: -300, powerDischargeKw: 150 }) },
    ]);
    expect(c.values).toEqual({
      powerChargeKw: -200,
      powerDischargeKw: 150,
      energyLowKwh: 10,
      energyHighKwh: 90,
      tradingLocked: false,
    });
    expect(c.binding).toEqual({
      powerChargeKw: 'OPERATIONS',
      powerDischargeKw: 'NETWORK',
      energyLowKwh: 'REPORTED',
      energyHighKwh: 'OPERATIONS',
      tradingLocked: null,
    });
    const locked = mostRestrictive([
      { source: 'PV', values: limits({ tradingLocked: false }) },
      { source: 'CUSTOMER', values: limits({ tradingLocked: true }) },
    ]);
    expect(locked.values.tradingLocked).toBe(true);
    expect(locked.binding.tradingLocked).toBe('CUSTOMER');
  });
});

describe('NETWORK limits: sharing a DT envelope headroom', () => {
  it('shares pro rata to nominal power when every asset has one', () => {
    const s = headroomShares([
      { assetId: 'a', nominalKw: 30 },
      { assetId: 'b', nominalKw: 10 },
    ]);
    expect(s.basis).toBe('nominal_kw');
    expect(s.share.get('a')).toBeCloseTo(0.75, 12);
    expect(s.share.get('b')).toBeCloseTo(0.25, 12);
  });

  it('shares equally when some asset has no nominal power', () => {
    const s = headroomShares([
      { assetId: 'a', nominalKw: 30 },
      { assetId: 'b', nominalKw: null },
      { assetId: 'c', nominalKw: 10 },
    ]);
    expect(s.basis).toBe('equal');
    expect([...s.share.values()]).toEqual([1 / 3, 1 / 3, 1 / 3]);
  });

  it("turns the share of each slot's extra import and export into signed limits, none below zero", () => {
    const slots = [
      { slotStart: at(8), importKw: 40, exportKw: 80 },
      { slotStart: at(8, 15), importKw: -10, exportKw: 20 },
      { slotStart: at(8, 30), importKw: 40, exportKw: 80 },
    ];
    expect(networkLimits(slots, 0.25, at(8), at(8, 30))).toEqual([
      { slotStart: at(8), powerChargeKw: -10, powerDischargeKw: 20 },
      { slotStart: at(8, 15), powerChargeKw: 0, powerDischargeKw: 5 },
    ]);
  });
});

describe('period limits: periods of an asset', () => {
  const source = (
    assetId: string,
    startMs: number,
    s: SourceLimits['source'],
    over: Partial<LimitValues>,
  ) => ({
    assetId,
    startMs,
    endMs: startMs + 900_000,
    source: s,
    values: limits(over),
    createdMs: 1,
    updatedMs: 2,
  });

  it('groups sources by asset and period, in source order, with the computed limits and NETWORK from a share of the headroom', () => {
    const origin = { dtId: 'dt-a', share: 0.5, basis: 'nominal_kw' as const, envelopeIssuedAt: at(7) };
    const network = networkSources(
      'a-1',
      origin,
      [
        { slotStart: at(8), importKw: 40, exportKw: 30 },
        { slotStart: at(9), importKw: 40, exportKw: 30 },
      ],
      at(8),
      at(9),
    );
    expect(network).toEqual([
      {
        assetId: 'a-1',
        startMs: at(8),
        endMs: at(8, 15),
        source: 'NETWORK',
        values: limits({ powerChargeKw: -20, powerDischargeKw: 15 }),
        createdMs: at(7),
        updatedMs: at(7),
        network: origin,
      },
    ]);
    const periods = periodLimitsOf([
      ...network,
      source('a-1', at(8), 'PV', { powerDischargeKw: 15 }),
      source('a-0', at(8, 15), 'CUSTOMER', { tradingLocked: true }),
      source('a-1', at(8), 'REPORTED', { powerChargeKw: -30 }),
    ]);
    expect(periods.map((p) => [p.assetId, p.startMs, p.sources.map((s) => s.source)])).toEqual([
      ['a-0', at(8, 15), ['CUSTOMER']],
      ['a-1', at(8), ['REPORTED', 'PV', 'NETWORK']],
    ]);
    // PV and NETWORK tie at 15 kW of export: the first in source order binds.
    expect(periods[1]!.computed.values).toMatchObject({ powerChargeKw: -20, powerDischargeKw: 15 });
    expect(periods[1]!.computed.binding).toMatchObject({ powerChargeKw: 'NETWORK', powerDischargeKw: 'PV' });
    expect(periods[0]!.computed.binding.tradingLocked).toBe('CUSTOMER');
  });
});
