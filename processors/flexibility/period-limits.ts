import { DAY_MS, SLOT_MS } from '../../core/time.js';
import { networkLimits, type HeadroomSlot, type ShareBasis } from './network-share.js';
import { powerKw } from './units.js';

/**
 * Period limits: per asset, 15-minute period and source, an import limit (power_charge, kW, <= 0: power toward
 * the grid is positive, as in dispatch commands), an export limit (power_discharge, kW, >= 0), a stored-energy
 * band (energy_low, energy_high, kWh) and a trading lock. Pure: the windows a request names become periods, a
 * partial update merges into what is stored, and the sources of a period give its computed limits.
 */

/** The sources a client sets. */
export const SET_SOURCES = ['REPORTED', 'OPERATIONS', 'CUSTOMER', 'PV', 'AVAILABILITY'] as const;
/** Every source, in the order ties are broken: NETWORK is computed from the DT's operating envelope. */
export const LIMIT_SOURCES = [...SET_SOURCES, 'NETWORK'] as const;
export type SetSource = (typeof SET_SOURCES)[number];
export type LimitSource = (typeof LIMIT_SOURCES)[number];

export const POWER_UNITS = ['W', 'kW', 'MW'] as const;
/** Energy units, and the power units read as their hourly energies (as earlier senders gave an energy). */
export const ENERGY_UNITS = ['Wh', 'kWh', 'MWh', ...POWER_UNITS] as const;

/** A power amount in kW. */
export function limitKw(amount: number | string, unit: (typeof POWER_UNITS)[number]): number {
  return powerKw({ amount: String(amount), unit });
}

/** An energy amount in kWh (a power unit read as its hourly energy: MW as MWh). */
export function limitKwh(amount: number | string, unit: (typeof ENERGY_UNITS)[number]): number {
  return powerKw({ amount: String(amount), unit: unit.endsWith('h') ? (unit.slice(0, -1) as 'W') : unit });
}

export interface LimitValues {
  powerChargeKw: number | null;
  powerDischargeKw: number | null;
  energyLowKwh: number | null;
  energyHighKwh: number | null;
  tradingLocked: boolean | null;
}

export type LimitField = keyof LimitValues;
export const LIMIT_FIELDS: readonly LimitField[] = [
  'powerChargeKw',
  'powerDischargeKw',
  'energyLowKwh',
  'energyHighKwh',
  'tradingLocked',
];

/** What a request entry names: a window of time, once or every day of a date range. */
export interface LimitWindow {
  startMs: number;
  endMs: number;
  /** Every day: the UTC time of day of startMs to that of endMs, from validFrom to validUntil. */
  recurrent: boolean;
  /** UTC midnight of the first day (default: startMs's day), or null. Given, the window recurs. */
  validFromMs: number | null;
  /** UTC midnight of the last day, inclusive (default: endMs's day), or null. Given, the window recurs. */
  validUntilMs: number | null;
}

export type Expansion = { starts: number[] } | { field: string; problem: string };

/**
 * The 15-minute periods a window covers, or the field that is wrong. Once (not recurrent and no date range):
 * the periods of [startMs, endMs). Recurring: on every day from validFrom to validUntil, the periods from the
 * time of day of startMs to that of endMs (an end at or before the start runs past midnight into the next day;
 * equal times are the whole day). Times must be quarter hours. At most `max` periods.
 */
export function expandWindow(w: LimitWindow, max: number): Expansion {
  if (w.startMs % SLOT_MS !== 0) return { field: 'start_time', problem: 'must be a UTC quarter hour' };
  if (w.endMs % SLOT_MS !== 0) return { field: 'end_time', problem: 'must be a UTC quarter hour' };
  const tooMany = (n: number): Expansion => ({
    field: 'limits',
    problem: `cover ${n} periods; at most ${max} in one request`,
  });
  if (!w.recurrent && w.validFromMs === null && w.validUntilMs === null) {
    if (w.endMs <= w.startMs) return { field: 'end_time', problem: 'must be after start_time' };
    const n = (w.endMs - w.startMs) / SLOT_MS;
    if (n > max) return tooMany(n);
    return { starts: Array.from({ length: n }, (_, k) => w.startMs + k * SLOT_MS) };
  }
  const dayOf = (ms: number) => ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
  const first = w.validFromMs ?? dayOf(w.startMs);
  const last = w.validUntilMs ?? dayOf(w.endMs);
  if (last < first) return { field: 'valid_until', problem: 'must not be before valid_from' };
  const from = w.startMs - dayOf(w.startMs);
  const to = w.endMs - dayOf(w.endMs);
  const perDay = ((to - from + DAY_MS) % DAY_MS || DAY_MS) / SLOT_MS;
  const n = ((last - first) / DAY_MS + 1) * perDay;
  if (n > max) return tooMany(n);
  const starts: number[] = [];
  for (let day = first; day <= last; day += DAY_MS)
    for (let k = 0; k < perDay; k++) starts.push(day + from + k * SLOT_MS);
  return { starts };
}

/** A partial update: each field of `incoming` that is not null replaces the stored one. */
export function mergeLimits(stored: LimitValues | undefined, incoming: LimitValues): LimitValues {
  const out = { ...(stored ?? emptyLimits()) };
  for (const f of LIMIT_FIELDS)
    if (incoming[f] !== null) (out as Record<LimitField, unknown>)[f] = incoming[f];
  return out;
}

/** A source's constraints cleared (as a delete of its range does): the trading lock stays. */
export function clearConstraints(v: LimitValues): LimitValues {
  return { ...emptyLimits(), tradingLocked: v.tradingLocked };
}

/** Whether a row holds nothing: no constraint and no lock (an explicit false is no lock). */
export function holdsNothing(v: LimitValues): boolean {
  return (
    v.powerChargeKw === null &&
    v.powerDischargeKw === null &&
    v.energyLowKwh === null &&
    v.energyHighKwh === null &&
    v.tradingLocked !== true
  );
}

export function emptyLimits(): LimitValues {
  return {
    powerChargeKw: null,
    powerDischargeKw: null,
    energyLowKwh: null,
    energyHighKwh: null,
    tradingLocked: null,
  };
}

export interface Computed {
  values: LimitValues;
  /** Per field, the source whose value it is (the first in the order given on a tie), or null when none sets it. */
  binding: Record<LimitField, LimitSource | null>;
}

/**
 * The most restrictive limits of a period across its sources: power_charge the highest (import limits are
 * negative: the one closest to 0), power_discharge the lowest, energy_low the highest, energy_high the lowest,
 * trading_locked true when any source locks (false when some source says false and none locks).
 */
export function mostRestrictive(
  sources: ReadonlyArray<{ source: LimitSource; values: LimitValues }>,
): Computed {
  const values = emptyLimits();
  const binding: Computed['binding'] = {
    powerChargeKw: null,
    powerDischargeKw: null,
    energyLowKwh: null,
    energyHighKwh: null,
    tradingLocked: null,
  };
  const pick = (field: Exclude<LimitField, 'tradingLocked'>, tighter: (a: number, b: number) => boolean) => {
    for (const { source, values: v } of sources) {
      const x = v[field];
      if (x === null) continue;
      const current = values[field];
      if (current === null || tighter(x, current)) {
        values[field] = x;
        binding[field] = source;
      }
    }
  };
  pick('powerChargeKw', (a, b) => a > b);
  pick('powerDischargeKw', (a, b) => a < b);
  pick('energyLowKwh', (a, b) => a > b);
  pick('energyHighKwh', (a, b) => a < b);
  for (const { source, values: v } of sources) {
    if (v.tradingLocked === true) {
      values.tradingLocked = true;
      binding.tradingLocked = source;
      break;
    }
    if (v.tradingLocked === false) values.tradingLocked = false;
  }
  return { values, binding };
}

/** One source's limits of one period of an asset. */
export interface SourceLimits {
  assetId: string;
  startMs: number;
  endMs: number;
  source: LimitSource;
  values: LimitValues;
  createdMs: number;
  updatedMs: number;
  /** NETWORK only: where the limits come from. */
  network?: NetworkOrigin;
}

/** What a NETWORK limit was computed from: the asset's DT, its share of the headroom, and the envelope issue. */
export interface NetworkOrigin {
  dtId: string;
  share: number;
  basis: ShareBasis;
  envelopeIssuedAt: number;
}

/** A period of an asset: every source's limits (in the order of LIMIT_SOURCES) and the computed limits. */
export interface PeriodLimits {
  assetId: string;
  startMs: number;
  endMs: number;
  sources: SourceLimits[];
  computed: Computed;
}

/**
 * The NETWORK source of an asset for the periods in [fromMs, toMs) that an envelope issue covers: its share of
 * each slot's headroom (processors/flexibility/network-share.ts), dated by the issue.
 */
export function networkSources(
  assetId: string,
  origin: NetworkOrigin,
  slots: readonly HeadroomSlot[],
  fromMs: number,
  toMs: number,
): SourceLimits[] {
  return networkLimits(slots, origin.share, fromMs, toMs).map((n) => ({
    assetId,
    startMs: n.slotStart,
    endMs: n.slotStart + SLOT_MS,
    source: 'NETWORK',
    values: { ...emptyLimits(), powerChargeKw: n.powerChargeKw, powerDischargeKw: n.powerDischargeKw },
    createdMs: origin.envelopeIssuedAt,
    updatedMs: origin.envelopeIssuedAt,
    network: origin,
  }));
}

/**
 * Sources' limits grouped into periods, by asset and start, each with its computed limits (the most restrictive
 * across its sources, ties going to the first in LIMIT_SOURCES order).
 */
export function periodLimitsOf(sources: readonly SourceLimits[]): PeriodLimits[] {
  const periods = new Map<string, PeriodLimits>();
  for (const s of sources) {
    const key = `${s.assetId}\u0000${s.startMs}`;
    let p = periods.get(key);
    if (!p) {
      p = {
        assetId: s.assetId,
        startMs: s.startMs,
        endMs: s.endMs,
        sources: [],
        computed: mostRestrictive([]),
      };
      periods.set(key, p);
    }
    p.sources.push(s);
  }
  const order = (s: LimitSource) => LIMIT_SOURCES.indexOf(s);
  for (const p of periods.values()) {
    p.sources.sort((a, b) => order(a.source) - order(b.source));
    p.computed = mostRestrictive(p.sources);
  }
  return [...periods.values()].sort((a, b) =>
    a.assetId < b.assetId ? -1 : a.assetId > b.assetId ? 1 : a.startMs - b.startMs,
  );
}
