import { SLOT_MS, SLOTS_PER_DAY } from '../../core/time.js';
import type { DtEnvelope } from '../../schemas/types.gen.js';

/**
 * Each customer's voltage sensitivity, learnt per meter from the final envelopes' per-meter slots
 * (`DtEnvelope.meters`), and the voltage headroom of its weakest customer. Pure; bounded memory: seven numbers
 * per meter of the DT (a meter unseen for `FORGET_AFTER_SLOTS` is dropped).
 *
 * Model, per meter m and pair of consecutive slots (differences Δ):
 *   ΔV_m = −a_m·ΔP_m − b_m·ΔP_others + e
 * with V_m the mean of the meter's lowest and highest leg voltage, P_m its own mean power and P_others the
 * DT's measured net power without it. a_m (V per kW of its own load) holds its service drop, the feeder from
 * the busbar to its pole and the DT; b_m (V per kW of the DT's other load) the DT and the part of the feeder
 * it shares with where load changes. Both are a two-regressor least squares on exponentially forgotten sums
 * (the DT's own sensitivity's memory, about ten days), shrunk to priors that count as 20 slot pairs:
 * b₀ = the DT's prior s₀ (per-unit resistance × V / kVA), a₀ = 3·s₀ (one phase of three) + 0.65 V/kW (a
 * 150 mΩ service drop at 230 V), and kept within 0.2 and 20 times them.
 *
 * Where a customer sits relative to the lowest (import) and highest (export) voltage of the DT: the
 * exponentially forgotten mean of V_low,m − min V_low and max V_high − V_high,m over the slots (about a week).
 */

export interface CustomerSensitivity {
  meter_id: string;
  /** V per kW of the meter's own load. */
  ownVPerKw: number;
  /** V per kW of the DT's (other customers') load. */
  dtVPerKw: number;
  /** Mean of the meter's lowest leg voltage above the DT's lowest customer voltage, V (≥ 0). */
  lowOffsetV: number;
  /** Mean of the DT's highest customer voltage above the meter's highest leg voltage, V (≥ 0). */
  highOffsetV: number;
  /** Slot pairs learnt (forgotten as the sums are). */
  pairs: number;
}

interface MeterState {
  s11: number;
  s12: number;
  s22: number;
  y1: number;
  y2: number;
  pairs: number;
  lastSlot: number;
  lastP: number;
  lastOthers: number;
  lastV: number;
  lowOffset: number;
  highOffset: number;
  offsetWeight: number;
}

export interface CustomerVoltages {
  meters: Map<string, MeterState>;
}

export const SENSITIVITY_FORGET = 1 - 1 / (10 * SLOTS_PER_DAY);
const OFFSET_FORGET = 1 - 1 / (7 * SLOTS_PER_DAY);
const FORGET_AFTER_SLOTS = 30 * SLOTS_PER_DAY;
/** A 150 mΩ service drop at 230 V, V per kW. */
const SERVICE_DROP_V_PER_KW = (0.15 * 1000) / 230;
const PRIOR_PAIRS = 20;

export function initialCustomerVoltages(): CustomerVoltages {
  return { meters: new Map() };
}

/** Learns one final, measured envelope; `previousSlot` is the DT's last processed slot (NaN: none). */
export function learnCustomers(state: CustomerVoltages, e: DtEnvelope, previousSlot: number): void {
  const meters = e.meters ?? [];
  if (meters.length === 0) return;
  const measuredKw = e.net_mean_kw - (e.imputed_kw ?? 0);
  let lowest = Number.POSITIVE_INFINITY;
  let highest = Number.NEGATIVE_INFINITY;
  for (const m of meters) {
    if (m.v_low < lowest) lowest = m.v_low;
    if (m.v_high > highest) highest = m.v_high;
  }
  const slot = e.slot_start;
  for (const m of meters) {
    let s = state.meters.get(m.meter_id);
    if (!s) {
      s = {
        s11: 0,
        s12: 0,
        s22: 0,
        y1: 0,
        y2: 0,
        pairs: 0,
        lastSlot: Number.NaN,
        lastP: 0,
        lastOthers: 0,
        lastV: 0,
        lowOffset: 0,
        highOffset: 0,
        offsetWeight: 0,
      };
      state.meters.set(m.meter_id, s);
    }
    const v = 0.5 * (m.v_low + m.v_high);
    const others = measuredKw - m.p_kw;
    if (s.lastSlot === slot - SLOT_MS && previousSlot === slot - SLOT_MS) {
      const d1 = m.p_kw - s.lastP;
      const d2 = others - s.lastOthers;
      const dv = v - s.lastV;
      const f = SENSITIVITY_FORGET;
      s.s11 = f * s.s11 + d1 * d1;
      s.s12 = f * s.s12 + d1 * d2;
      s.s22 = f * s.s22 + d2 * d2;
      s.y1 = f * s.y1 - dv * d1;
      s.y2 = f * s.y2 - dv * d2;
      s.pairs = f * s.pairs + 1;
    }
    s.lastSlot = slot;
    s.lastP = m.p_kw;
    s.lastOthers = others;
    s.lastV = v;
    s.lowOffset = OFFSET_FORGET * s.lowOffset + (m.v_low - lowest);
    s.highOffset = OFFSET_FORGET * s.highOffset + (highest - m.v_high);
    s.offsetWeight = OFFSET_FORGET * s.offsetWeight + 1;
  }
  for (const [id, s] of state.meters)
    if (slot - s.lastSlot > FORGET_AFTER_SLOTS * SLOT_MS) state.meters.delete(id);
}

/** The DT's voltage-sensitivity prior s₀ and its weight, as the DT-level regression has them. */
export interface SensitivityPrior {
  /** V per kW of the DT's load. */
  dtVPerKw: number;
  ratedKva: number;
}

/** Every customer's sensitivities, in meter id order. */
export function customerSensitivities(
  state: CustomerVoltages,
  prior: SensitivityPrior,
): CustomerSensitivity[] {
  const out: CustomerSensitivity[] = [];
  const b0 = prior.dtVPerKw;
  const a0 = 3 * b0 + SERVICE_DROP_V_PER_KW;
  // Prior weights: 20 slot pairs with own steps of 1 kW, and DT steps of a tenth of the rating.
  const w1 = PRIOR_PAIRS * 1;
  const w2 = PRIOR_PAIRS * (0.1 * prior.ratedKva) ** 2;
  for (const [id, s] of [...state.meters].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const m11 = s.s11 + w1;
    const m22 = s.s22 + w2;
    const m12 = s.s12;
    const r1 = s.y1 + a0 * w1;
    const r2 = s.y2 + b0 * w2;
    const det = m11 * m22 - m12 * m12;
    const a = (r1 * m22 - m12 * r2) / det;
    const b = (m11 * r2 - m12 * r1) / det;
    out.push({
      meter_id: id,
      ownVPerKw: Math.min(20 * a0, Math.max(0.2 * a0, a)),
      dtVPerKw: Math.min(20 * b0, Math.max(0.2 * b0, b)),
      lowOffsetV: s.offsetWeight > 0 ? Math.max(0, s.lowOffset / s.offsetWeight) : 0,
      highOffsetV: s.offsetWeight > 0 ? Math.max(0, s.highOffset / s.offsetWeight) : 0,
      pairs: s.pairs,
    });
  }
  return out;
}

/**
 * Voltage headroom (kW, ≥ 0) of extra net load in direction `sign` (+1 import, −1 export), for the customer
 * whose voltage leaves the band first:
 * - at the DT (`at` undefined): every customer m moves by b_m per kW, from its voltage V_m;
 * - at a meter k: k moves by its own a_k per kW, every other customer by b_m;
 * each sensitivity taken at the customer's voltage and growing as 1/V towards the band's edge (a
 * constant-power load draws more current at a lower voltage).
 * Customer voltages: `voltageOf(meter)` when given (e.g. a slot's observed ones), else the DT's lowest
 * (import) or highest (export) voltage `extreme` plus or minus the customer's learnt offset. Infinity when
 * there are no customers (the caller then keeps the DT-level figure).
 */
export function customerHeadroomKw(
  customers: readonly CustomerSensitivity[],
  band: { vLow: number; vHigh: number },
  sign: 1 | -1,
  extreme: number,
  at?: string,
  voltageOf?: (meterId: string) => number | undefined,
): number {
  let best = Number.POSITIVE_INFINITY;
  for (const c of customers) {
    const v = voltageOf?.(c.meter_id) ?? (sign > 0 ? extreme + c.lowOffsetV : extreme - c.highOffsetV);
    if (Number.isNaN(v)) continue;
    const s = c.meter_id === at ? c.ownVPerKw : c.dtVPerKw;
    // Constant-power load: the current per kW, and so the change per kW, goes as 1/V. From V·dV = −s·V₀·dX,
    // the extra that takes V₀ to the band's edge E is |V₀² − E²| / (2·s·V₀).
    const edge = sign > 0 ? band.vLow : band.vHigh;
    const room = (sign > 0 ? v * v - edge * edge : edge * edge - v * v) / (2 * s * v);
    if (room < best) best = room;
  }
  return best === Number.POSITIVE_INFINITY ? best : Math.max(0, best);
}
