import { describe, expect, it } from 'vitest';
import { SLOT_MS } from '../../core/time.js';
import {
  deliveredFlexibility,
  targetKwh,
  type AssetPeriods,
  type MeteredPeriod,
} from '../../processors/flexibility/delivered.js';

const T0 = Date.UTC(2026, 4, 4, 12, 30);
const PERIODS = [T0, T0 + SLOT_MS, T0 + 2 * SLOT_MS, T0 + 3 * SLOT_MS];

const byPeriod = <T>(values: (T | undefined)[]): Map<number, T> =>
  new Map(values.flatMap((v, k) => (v === undefined ? [] : [[PERIODS[k]!, v] as [number, T]])));
const metered = (...kw: (number | undefined)[]): Map<number, MeteredPeriod> =>
  byPeriod(kw.map((v) => (v === undefined ? undefined : { kw: v, readings: 15 })));

function asset(
  id: string,
  baseline: (number | undefined)[] | null,
  kw: (number | undefined)[],
): AssetPeriods {
  return {
    assetId: id,
    meterId: `mtr-${id}`,
    baselineKw: baseline === null ? null : byPeriod(baseline),
    metered: metered(...kw),
  };
}

describe('targetKwh', () => {
  it('reads a power as the mean over the event and an energy as it is, in any of the three prefixes', () => {
    expect(targetKwh(null, 4)).toBeNull();
    expect(targetKwh({ amount: '3', unit: 'kW' }, 4)).toBeCloseTo(3, 12); // 3 kW for an hour
    expect(targetKwh({ amount: '3000', unit: 'W' }, 8)).toBeCloseTo(6, 12);
    expect(targetKwh({ amount: '0.5', unit: 'MW' }, 2)).toBeCloseTo(250, 12);
    expect(targetKwh({ amount: '7.5', unit: 'kWh' }, 4)).toBeCloseTo(7.5, 12);
    expect(targetKwh({ amount: '1500', unit: 'Wh' }, 4)).toBeCloseTo(1.5, 12);
    expect(targetKwh({ amount: '0.002', unit: 'MWh' }, 96)).toBeCloseTo(2, 12);
  });

  it('throws a clear error for an unknown unit or an amount that is not a number', () => {
    expect(() => targetKwh({ amount: '3', unit: 'kVA' }, 4)).toThrow(
      /target unit must be one of W, kW, MW .* got "kVA"/,
    );
    expect(() => targetKwh({ amount: '3', unit: 'kw' }, 4)).toThrow(/got "kw"/);
    expect(() => targetKwh({ amount: 'three', unit: 'kW' }, 4)).toThrow(
      /target amount must be a decimal number/,
    );
    expect(() => targetKwh({ amount: '', unit: 'kW' }, 4)).toThrow(/target amount/);
  });
});

describe('deliveredFlexibility', () => {
  it('turn-down: baseline − metered per period, energy a quarter of the kW, totals against the target', () => {
    const d = deliveredFlexibility({
      direction: 'turn-down',
      periods: PERIODS,
      target: { amount: '5', unit: 'kW' },
      assets: [asset('a', [4, 4, 4, 4], [1, 1.5, 2, 4.5]), asset('b', [2, 2, 2, 2], [0, 0, 0, 0])],
    });
    expect(d.periods.map((p) => [p.assetId, p.periodStart, p.deliveredKw])).toEqual([
      ['a', PERIODS[0], 3],
      ['a', PERIODS[1], 2.5],
      ['a', PERIODS[2], 2],
      ['a', PERIODS[3], -0.5],
      ['b', PERIODS[0], 2],
      ['b', PERIODS[1], 2],
      ['b', PERIODS[2], 2],
      ['b', PERIODS[3], 2],
    ]);
    expect(d.periods[0]).toEqual({
      assetId: 'a',
      meterId: 'mtr-a',
      periodStart: PERIODS[0],
      baselineKw: 4,
      meteredKw: 1,
      deliveredKw: 3,
      deliveredKwh: 0.75,
      readings: 15,
      dataQuality: 'ami_direct',
    });
    expect(d.deliveredKwh).toBeCloseTo((3 + 2.5 + 2 - 0.5 + 8) / 4, 12);
    expect(d.targetKwh).toBeCloseTo(5, 12);
    expect(d.shareWithData).toBe(1);
    expect(d.dataQuality).toBe('ami_direct');
    expect(d.assetsWithout).toEqual([]);
  });

  it('turn-up: metered − baseline', () => {
    const d = deliveredFlexibility({
      direction: 'turn-up',
      periods: PERIODS.slice(0, 2),
      target: { amount: '1', unit: 'kWh' },
      assets: [asset('a', [1, 1], [4, 0.5])],
    });
    expect(d.periods.map((p) => p.deliveredKw)).toEqual([3, -0.5]);
    expect(d.deliveredKwh).toBeCloseTo(0.625, 12);
    expect(d.targetKwh).toBe(1);
  });

  it('a period without a reading or a baseline delivers nothing and makes the event ami_partial', () => {
    const d = deliveredFlexibility({
      direction: 'turn-down',
      periods: PERIODS,
      target: null,
      assets: [
        asset('full', [2, 2, 2, 2], [1, 1, 1, 1]),
        asset('gap', [2, 2, 2, 2], [1, undefined, 1, 1]),
        asset('no-baseline', null, [1, 1, 1, 1]),
        asset('baseline-gap', [2, undefined, 2, 2], [1, 1, 1, 1]),
      ],
    });
    const gap = d.periods.filter((p) => p.assetId === 'gap');
    expect(gap[1]).toMatchObject({
      meteredKw: null,
      deliveredKw: null,
      deliveredKwh: null,
      readings: 0,
      dataQuality: 'none',
    });
    expect(
      d.periods
        .filter((p) => p.assetId === 'no-baseline')
        .every((p) => p.baselineKw === null && p.meteredKw === 1 && p.dataQuality === 'none'),
    ).toBe(true);
    // full: 4 × 1 kW; gap: 3 × 1 kW; baseline-gap: 3 × 1 kW; no-baseline: none.
    expect(d.deliveredKwh).toBeCloseTo(10 / 4, 12);
    expect(d.targetKwh).toBeNull();
    // A reading in every period: full, no-baseline and baseline-gap (the share counts readings, not baselines).
    expect(d.shareWithData).toBe(3 / 4);
    expect(d.dataQuality).toBe('ami_partial');
    expect(d.assetsWithout).toEqual(['gap', 'no-baseline', 'baseline-gap']);
  });

  it('no asset-period with both is data quality none; no assets is a share of 0', () => {
    const none = deliveredFlexibility({
      direction: 'turn-down',
      periods: PERIODS,
      target: { amount: '1', unit: 'kW' },
      assets: [asset('a', null, [])],
    });
    expect(none.dataQuality).toBe('none');
    expect(none.shareWithData).toBe(0);
    expect(none.deliveredKwh).toBe(0);
    expect(none.assetsWithout).toEqual(['a']);
    const empty = deliveredFlexibility({ direction: 'turn-up', periods: PERIODS, target: null, assets: [] });
    expect(empty).toEqual({
      periods: [],
      deliveredKwh: 0,
      targetKwh: null,
      shareWithData: 0,
      dataQuality: 'none',
      assetsWithout: [],
    });
  });

  it('a period with zero readings counts as no reading; an unknown target unit throws', () => {
    const d = deliveredFlexibility({
      direction: 'turn-down',
      periods: PERIODS.slice(0, 1),
      target: null,
      assets: [
        {
          assetId: 'a',
          meterId: null,
          baselineKw: byPeriod([2]),
          metered: byPeriod([{ kw: 0, readings: 0 }]),
        },
      ],
    });
    expect(d.periods[0]).toMatchObject({ meteredKw: null, deliveredKw: null, dataQuality: 'none' });
    expect(() =>
      deliveredFlexibility({
        direction: 'turn-down',
        periods: PERIODS,
        target: { amount: '1', unit: 'A' },
        assets: [],
      }),
    ).toThrow(/target unit/);
  });
});
