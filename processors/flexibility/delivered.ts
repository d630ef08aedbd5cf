import { SLOT_MS } from '../../core/time.js';
import type { PowerAmount } from '../../schemas/types.gen.js';
import { powerKw } from './dispatch-check.js';

/**
 * Delivered flexibility: per asset and 15-minute period of an event, baseline − metered for a turn-down
 * (metered − baseline for a turn-up), and the event's totals against its target. Pure: baselines and metered
 * period means in (the caller reads them from the warehouse), figures out.
 */

/** Mean kW of the meter in a period, and the readings it is the mean of. */
export interface MeteredPeriod {
  kw: number;
  readings: number;
}

export interface AssetPeriods {
  assetId: string;
  meterId: string | null;
  /** By period start (epoch ms); null: no baseline. */
  baselineKw: ReadonlyMap<number, number> | null;
  /** By period start; a period absent: no reading. */
  metered: ReadonlyMap<number, MeteredPeriod>;
}

export interface DeliveredInput {
  direction: 'turn-down' | 'turn-up';
  /** The event's 15-minute period starts, ascending. */
  periods: readonly number[];
  /** W/kW/MW: mean power over the event; Wh/kWh/MWh: energy. */
  target: { amount: string; unit: string } | null;
  assets: readonly AssetPeriods[];
}

export interface DeliveredPeriod {
  assetId: string;
  meterId: string | null;
  periodStart: number;
  baselineKw: number | null;
  meteredKw: number | null;
  /** turn-down: baseline − metered; turn-up: metered − baseline; null without both. */
  deliveredKw: number | null;
  deliveredKwh: number | null;
  readings: number;
  /** ami_direct: a baseline and a reading. */
  dataQuality: 'ami_direct' | 'none';
}

export interface Delivered {
  /** Every asset × period, in asset then period order. */
  periods: DeliveredPeriod[];
  /** Sum over the periods with both a baseline and a reading. */
  deliveredKwh: number;
  /** targetKwh(target, periods.length). */
  targetKwh: number | null;
  /** Share of assets with a reading in every period (0 when there are no assets). */
  shareWithData: number;
  /** Every asset-period ami_direct / some / none. */
  dataQuality: 'ami_direct' | 'ami_partial' | 'none';
  /** Assets with some period not ami_direct. */
  assetsWithout: string[];
}

const HOURS_PER_PERIOD = SLOT_MS / 3_600_000;
const POWER_UNITS: ReadonlySet<string> = new Set(['W', 'kW', 'MW']);
const ENERGY_UNITS: ReadonlySet<string> = new Set(['Wh', 'kWh', 'MWh']);

/**
 * An event's target as energy over its periods, kWh: a power (W, kW, MW) is the mean over the event, so times
 * the event's hours; an energy (Wh, kWh, MWh) is taken as it is. Throws on an unknown unit or a non-numeric amount.
 */
export function targetKwh(target: { amount: string; unit: string } | null, periods: number): number | null {
  if (target === null) return null;
  const amount = Number(target.amount);
  if (typeof target.amount !== 'string' || target.amount.trim() === '' || !Number.isFinite(amount))
    throw new Error(`target amount must be a decimal number; got ${JSON.stringify(target.amount)}`);
  if (POWER_UNITS.has(target.unit))
    return (
      powerKw({ amount: target.amount, unit: target.unit as PowerAmount['unit'] }) *
      periods *
      HOURS_PER_PERIOD
    );
  if (ENERGY_UNITS.has(target.unit))
    // The energy units scale as their powers do (Wh : kWh : MWh as W : kW : MW).
    return powerKw({ amount: target.amount, unit: target.unit.slice(0, -1) as PowerAmount['unit'] });
  throw new Error(
    `target unit must be one of W, kW, MW (power) or Wh, kWh, MWh (energy); got ${JSON.stringify(target.unit)}`,
  );
}

/** The delivered flexibility of an event (see the module comment). */
export function deliveredFlexibility(input: DeliveredInput): Delivered {
  const sign = input.direction === 'turn-down' ? 1 : input.direction === 'turn-up' ? -1 : null;
  if (sign === null)
    throw new Error(`direction must be turn-down or turn-up; got ${String(input.direction)}`);
  const target = targetKwh(input.target, input.periods.length);
  const periods: DeliveredPeriod[] = [];
  const assetsWithout: string[] = [];
  let deliveredKwh = 0;
  let withData = 0;
  let direct = 0;
  for (const asset of input.assets) {
    let allRead = true;
    let allDirect = true;
    for (const periodStart of input.periods) {
      const baseline = asset.baselineKw?.get(periodStart);
      const metered = asset.metered.get(periodStart);
      const baselineKw = baseline !== undefined && Number.isFinite(baseline) ? baseline : null;
      const reading =
        metered !== undefined && metered.readings > 0 && Number.isFinite(metered.kw) ? metered : null;
      if (reading === null) allRead = false;
      const both = baselineKw !== null && reading !== null;
      if (!both) allDirect = false;
      else direct++;
      const deliveredKw = both ? sign * (baselineKw - reading.kw) : null;
      const kwh = deliveredKw === null ? null : deliveredKw * HOURS_PER_PERIOD;
      if (kwh !== null) deliveredKwh += kwh;
      periods.push({
        assetId: asset.assetId,
        meterId: asset.meterId,
        periodStart,
        baselineKw,
        meteredKw: reading?.kw ?? null,
        deliveredKw,
        deliveredKwh: kwh,
        readings: reading?.readings ?? 0,
        dataQuality: both ? 'ami_direct' : 'none',
      });
    }
    if (allRead) withData++;
    if (!allDirect) assetsWithout.push(asset.assetId);
  }
  return {
    periods,
    deliveredKwh,
    targetKwh: target,
    shareWithData: input.assets.length === 0 ? 0 : withData / input.assets.length,
    dataQuality:
      periods.length > 0 && direct === periods.length ? 'ami_direct' : direct > 0 ? 'ami_partial' : 'none',
    assetsWithout,
  };
}
