import type { LimitingFactor } from '../../schemas/types.gen.js';
import {
  COOLING_SETS,
  ThermalModel,
  type CoolingSet,
  type Paper,
  type ThermalConstants,
} from '../thermal/thermal.js';

/**
 * The thermal side of the stress processor: a transformer's limits, its thermal model built from topology, and
 * a closed form of one 15-minute slot of that model, which the probabilities and the operating envelope
 * evaluate thousands of times a slot.
 *
 * Closed form. Over a slot the load factor K and the ambient θa are held, so each of the model's three state
 * variables (top oil θo, hot-spot rises Δθh1 and Δθh2) relaxes towards a fixed target: after n of the slot's
 * sub-steps, x(n) = T + (x(0) − T)·dⁿ with d the per-sub-step decay (1 − the model's coefficient). That is
 * exactly what `ThermalModel.stepSlot` computes sub-step by sub-step (same targets, same coefficients), so
 * `slotExact` agrees with the model to rounding. The targets, f(K) = Δθor·((1 + K²R)/(1 + R))^x and
 * g(K) = Hgr·K^y, are tabulated per model (K in steps of 1/1024 up to 4, linear interpolation: within 10⁻⁴ K),
 * so `slot` costs a few multiplications. Every temperature of the slot is linear in f and g, so the largest
 * K within the limits is a binary search over the table and one linear solve (`maxLoadFactor`).
 *
 * Linearity. The state after a slot is linear in the targets (themselves non-linear in K), so the effect of
 * extra load in one slot on every later slot is the extra it adds at the slot's end, decaying by the slot
 * decays A = d_oil^N, A1 = d1^N, A2 = d2^N per slot. The operating envelope uses this to check a one-slot burst
 * against all later slots without simulating each candidate.
 */

/** Limits of a transformer's loading (IEC 60076-7 table for distribution transformers). */
export interface ThermalLimits {
  /** Largest load factor K (apparent load / rating). */
  loadFactor: number;
  /** Highest hot-spot temperature, °C. */
  hotSpotC: number;
  /** Highest top-oil temperature, °C. */
  topOilC: number;
}

/** Normal cyclic loading of distribution transformers: K ≤ 1.5, θh ≤ 120 °C, θo ≤ 105 °C. */
export const NORMAL_CYCLIC_LIMITS: Readonly<ThermalLimits> = Object.freeze({
  loadFactor: 1.5,
  hotSpotC: 120,
  topOilC: 105,
});

/** Long-time emergency loading of distribution transformers: K ≤ 1.8, θh ≤ 140 °C, θo ≤ 115 °C. */
export const LONG_TIME_EMERGENCY_LIMITS: Readonly<ThermalLimits> = Object.freeze({
  loadFactor: 1.8,
  hotSpotC: 140,
  topOilC: 115,
});

/** What stops more load in a slot (the Avro enum of schemas/dt-operating-envelope.avsc). */
export type { LimitingFactor };

/** The nameplate fields of a topology DT that the thermal model needs (TopologyTransformer's names). */
export interface ThermalNameplate {
  cooling_class: 'ONAN' | 'ONAF';
  top_oil_rise_k: number | null;
  hot_spot_gradient_k: number | null;
  loss_ratio: number | null;
  tau_oil_min: number | null;
  tau_winding_min: number | null;
}

/**
 * The constant set of a topology DT: the standard set of its cooling class (ONAN → `distribution-ONAN`: these
 * are distribution transformers; ONAF → `power-ONAF`, the standard's only ONAF set), overridden by the heat-run
 * figures the topology gives.
 */
export function constantsOf(dt: ThermalNameplate): ThermalConstants {
  const set: CoolingSet = dt.cooling_class === 'ONAF' ? 'power-ONAF' : 'distribution-ONAN';
  const base = COOLING_SETS[set];
  return {
    ...base,
    top_oil_rise_k: dt.top_oil_rise_k ?? base.top_oil_rise_k,
    hot_spot_gradient_k: dt.hot_spot_gradient_k ?? base.hot_spot_gradient_k,
    loss_ratio: dt.loss_ratio ?? base.loss_ratio,
    tau_oil_min: dt.tau_oil_min ?? base.tau_oil_min,
    tau_winding_min: dt.tau_winding_min ?? base.tau_winding_min,
  };
}

/** Models compiled once per distinct constant set and paper (a fleet shares a handful). */
export class ModelCache {
  private readonly models = new Map<string, { model: ThermalModel; kernel: SlotKernel }>();

  get(constants: ThermalConstants, paper: Paper): { model: ThermalModel; kernel: SlotKernel } {
    const key = `${paper}|${Object.values(constants).join('|')}`;
    let entry = this.models.get(key);
    if (!entry) {
      const model = new ThermalModel(constants, { paper });
      entry = { model, kernel: new SlotKernel(model) };
      this.models.set(key, entry);
    }
    return entry;
  }
}

/** The result of one slot from a start state; `SlotKernel.slot` writes it into a reused object. */
export interface SlotResult {
  topOilC: number;
  rise1: number;
  rise2: number;
  hotSpotC: number;
  /** Highest hot spot at the ends of the slot's sub-steps (the start instant belongs to the slot before). */
  peakHotSpotC: number;
}

/**
 * Constraints a slot's load must also meet in the slots after it (a burst in one slot only), as the slack the
 * later slots leave: see `SlotKernel.maxLoadFactor`.
 */
export interface LaterSlack {
  /** The slot's load factor without the extra (the base the extra is measured from). */
  baseK: number;
  /** Hot-spot limit minus the base hot spot at the end of the next slot, K (Infinity: none). */
  nextHotSpot: number;
  /** min over i ≥ 2 of (hot-spot slack at the end of slot +i, less a winding allowance) / Aⁱ. */
  farHotSpot: number;
  /** min over i ≥ 1 of (top-oil slack at the end of slot +i) / Aⁱ. */
  topOil: number;
}

/** Load factors the kernel tabulates its targets over, and the table's step (a power of two: exact indices). */
const TABLE_MAX_K = 4;
const TABLE_STEP = 1 / 1024;
const TABLE_SIZE = TABLE_MAX_K / TABLE_STEP + 1;

/** Table `t` at index u = K·1024 (0 ≤ u < TABLE_SIZE − 1), linear between its entries. */
function interpolate(t: Float64Array, u: number): number {
  const i = u | 0;
  return t[i]! + (u - i) * (t[i + 1]! - t[i]!);
}

/** The result of `SlotKernel.maxLoadFactor`, in a reused object. */
export interface MaxLoad {
  k: number;
  limitedBy: LimitingFactor;
}

export class SlotKernel {
  readonly substeps: number;
  /** Per-slot decays of top oil, Δθh1 and Δθh2. */
  readonly oilDecay: number;
  readonly rise1Decay: number;
  readonly rise2Decay: number;
  /** Decay after n sub-steps, n = 1..N (index n − 1). */
  private readonly dOil: Float64Array;
  private readonly d1: Float64Array;
  private readonly d2: Float64Array;
  readonly k21: number;
  /** oilRise and windingGradient at K = i·TABLE_STEP, for linear interpolation (error below 10⁻⁴ K). */
  private readonly oilTable = new Float64Array(TABLE_SIZE);
  private readonly gradientTable = new Float64Array(TABLE_SIZE);
  /** Hot-spot coefficient of the winding gradient after n sub-steps: k21(1 − d1ⁿ) − (k21 − 1)(1 − d2ⁿ). */
  private readonly gradientWeight: Float64Array;
  /** Constraints a·f(K) + b·g(K) ≤ r of one `maxLoadFactor` call (reused). */
  private readonly ca: Float64Array;
  private readonly cb: Float64Array;
  private readonly cr: Float64Array;
  private readonly cOil: Uint8Array;
  private readonly result: SlotResult = { topOilC: 0, rise1: 0, rise2: 0, hotSpotC: 0, peakHotSpotC: 0 };
  private readonly maxLoad: MaxLoad = { k: 0, limitedBy: 'load_factor' };

  constructor(readonly model: ThermalModel) {
    const plan = model.slotPlan;
    this.substeps = plan.substeps;
    this.dOil = new Float64Array(plan.substeps);
    this.d1 = new Float64Array(plan.substeps);
    this.d2 = new Float64Array(plan.substeps);
    this.gradientWeight = new Float64Array(plan.substeps);
    this.k21 = model.constants.k21;
    for (let n = 1; n <= plan.substeps; n++) {
      this.dOil[n - 1] = Math.pow(1 - plan.cOil, n);
      this.d1[n - 1] = Math.pow(1 - plan.cRise1, n);
      this.d2[n - 1] = Math.pow(1 - plan.cRise2, n);
      this.gradientWeight[n - 1] = this.k21 * (1 - this.d1[n - 1]!) - (this.k21 - 1) * (1 - this.d2[n - 1]!);
    }
    this.oilDecay = this.dOil[plan.substeps - 1]!;
    this.rise1Decay = this.d1[plan.substeps - 1]!;
    this.rise2Decay = this.d2[plan.substeps - 1]!;
    for (let i = 0; i < TABLE_SIZE; i++) {
      this.oilTable[i] = this.oilRiseExact(i * TABLE_STEP);
      this.gradientTable[i] = this.windingGradientExact(i * TABLE_STEP);
    }
    const constraints = plan.substeps + 4;
    this.ca = new Float64Array(constraints);
    this.cb = new Float64Array(constraints);
    this.cr = new Float64Array(constraints);
    this.cOil = new Uint8Array(constraints);
  }

  /** Steady-state top-oil rise over ambient at load factor K: Δθor·((1 + K²R)/(1 + R))^x. */
  oilRiseExact(k: number): number {
    return this.model.oilRise(k);
  }

  /** Steady-state hot-spot gradient at load factor K: Hgr·K^y. */
  windingGradientExact(k: number): number {
    return k > 0 ? this.model.windingGradient(k) : 0;
  }

  /** oilRiseExact from the table (K ≥ 0). */
  oilRise(k: number): number {
    const u = k * 1024;
    return u < TABLE_SIZE - 1 ? interpolate(this.oilTable, u) : this.oilRiseExact(k);
  }

  /** windingGradientExact from the table (K ≥ 0). */
  windingGradient(k: number): number {
    const u = k * 1024;
    return u < TABLE_SIZE - 1 ? interpolate(this.gradientTable, u) : this.windingGradientExact(k);
  }

  /**
   * One slot at load factor `k` and ambient `ambientC` from the state (θo, Δθh1, Δθh2), the targets from the
   * tables (within 10⁻⁴ K of `slotExact`). Returns a reused object: copy what you keep before the next call.
   */
  slot(topOilC: number, rise1: number, rise2: number, k: number, ambientC: number): SlotResult {
    return this.relax(topOilC, rise1, rise2, ambientC + this.oilRise(k), this.windingGradient(k));
  }

  /** `slot` with the targets computed exactly: the model's `stepSlot` to rounding. */
  slotExact(topOilC: number, rise1: number, rise2: number, k: number, ambientC: number): SlotResult {
    return this.relax(topOilC, rise1, rise2, ambientC + this.oilRiseExact(k), this.windingGradientExact(k));
  }

  private relax(topOilC: number, rise1: number, rise2: number, oilTarget: number, g: number): SlotResult {
    const t1 = this.k21 * g;
    const t2 = (this.k21 - 1) * g;
    let peak = Number.NEGATIVE_INFINITY;
    let o = topOilC;
    let r1 = rise1;
    let r2 = rise2;
    for (let n = 0; n < this.substeps; n++) {
      o = oilTarget + (topOilC - oilTarget) * this.dOil[n]!;
      r1 = t1 + (rise1 - t1) * this.d1[n]!;
      r2 = t2 + (rise2 - t2) * this.d2[n]!;
      const h = o + r1 - r2;
      if (h > peak) peak = h;
    }
    const out = this.result;
    out.topOilC = o;
    out.rise1 = r1;
    out.rise2 = r2;
    out.hotSpotC = o + r1 - r2;
    out.peakHotSpotC = peak;
    return out;
  }

  /**
   * How far a slot at load factor `k` is over the limits (> 0: over; ≤ 0: within): the largest of the peak
   * hot spot over its limit and the end top oil over its limit, in kelvin; and, with `later`, of the extra
   * heat the slot leaves over what the later slots can absorb (`LaterSlack`). Non-decreasing in k.
   */
  excess(
    topOilC: number,
    rise1: number,
    rise2: number,
    k: number,
    ambientC: number,
    limits: ThermalLimits,
    later?: LaterSlack,
  ): number {
    const n = this.constraints(topOilC, rise1, rise2, ambientC, limits, later);
    const f = this.oilRise(k);
    const g = this.windingGradient(k);
    let worst = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) worst = Math.max(worst, this.ca[i]! * f + this.cb[i]! * g - this.cr[i]!);
    return worst;
  }

  /**
   * Writes the slot's limits as constraints a·f(K) + b·g(K) ≤ r on the targets f = oilRise(K) and g =
   * windingGradient(K) (every temperature is linear in them): the hot spot after each sub-step, the end top
   * oil, and with `later` what the heat left in the oil does to later slots. Returns how many.
   */
  private constraints(
    topOilC: number,
    rise1: number,
    rise2: number,
    ambientC: number,
    limits: ThermalLimits,
    later?: LaterSlack,
  ): number {
    const { ca, cb, cr, cOil } = this;
    const N = this.substeps;
    for (let n = 0; n < N; n++) {
      const d = this.dOil[n]!;
      // θh(n) = θo0·d + (1 − d)(θa + f) + Δ1₀·d1 − Δ2₀·d2 + w(n)·g
      ca[n] = 1 - d;
      cb[n] = this.gradientWeight[n]!;
      cr[n] =
        limits.hotSpotC - (topOilC * d + (1 - d) * ambientC + rise1 * this.d1[n]! - rise2 * this.d2[n]!);
      cOil[n] = 0;
    }
    const A = this.oilDecay;
    ca[N] = 1 - A;
    cb[N] = 0;
    cr[N] = limits.topOilC - (topOilC * A + (1 - A) * ambientC);
    cOil[N] = 1;
    if (!later) return N + 1;
    // The extra at the slot's end against the base: (1 − A)(f − f_b) of oil, (1 − A1)·k21·(g − g_b) of winding.
    const fb = this.oilRise(later.baseK);
    const gb = this.windingGradient(later.baseK);
    const a = 1 - A;
    const b = (1 - this.rise1Decay) * this.k21;
    // Next slot's end: the oil extra decayed by A, the winding extra by A1.
    ca[N + 1] = a * A;
    cb[N + 1] = b * this.rise1Decay;
    cr[N + 1] = later.nextHotSpot + a * A * fb + b * this.rise1Decay * gb;
    cOil[N + 1] = 0;
    ca[N + 2] = a;
    cb[N + 2] = 0;
    cr[N + 2] = later.farHotSpot + a * fb;
    cOil[N + 2] = 0;
    ca[N + 3] = a;
    cb[N + 3] = 0;
    cr[N + 3] = later.topOil + a * fb;
    cOil[N + 3] = 1;
    return N + 4;
  }

  /**
   * The largest load factor in [0, limits.loadFactor] that keeps the slot (and, with `later`, the slots after
   * it) within the limits, and what limits it; 0 with the limiting temperature when even no load is too
   * much (the transformer is already too hot to cool in time). All the constraints are linear in the
   * tabulated targets, so a binary search over the table's cells and one linear solve within the last cell
   * find it: no iteration on the model. Returns a reused object.
   */
  maxLoadFactor(
    topOilC: number,
    rise1: number,
    rise2: number,
    ambientC: number,
    limits: ThermalLimits,
    later?: LaterSlack,
    /** A load factor near the answer (the previous slot's): the search starts there. */
    hint = -1,
  ): MaxLoad {
    const n = this.constraints(topOilC, rise1, rise2, ambientC, limits, later);
    const { ca, cb, cr } = this;
    const out = this.maxLoad;
    const kMax = limits.loadFactor;
    if (this.feasible(this.oilRise(kMax), this.windingGradient(kMax), n)) {
      out.k = kMax;
      out.limitedBy = 'load_factor';
      return out;
    }
    // Cells [i, i + 1] of the table, i·STEP < kMax; the cell holding kMax ends at kMax.
    let lo = 0;
    let hi = Math.ceil(kMax * 1024); // infeasible at min(hi·STEP, kMax)
    if (!this.feasible(this.oilTable[0]!, this.gradientTable[0]!, n)) {
      out.k = 0;
      out.limitedBy = this.binding(this.oilTable[0]!, this.gradientTable[0]!, n);
      return out;
    }
    if (hint >= 0) {
      // Gallop from the hint to bracket the answer in a few cells, then bisect.
      const top = hi;
      const h = Math.min(top - 1, Math.max(0, Math.floor(hint * 1024)));
      if (this.feasibleAt(h, kMax, n)) {
        lo = h;
        let step = 1;
        while (lo + step < top && this.feasibleAt(lo + step, kMax, n)) {
          lo += step;
          step *= 2;
        }
        hi = Math.min(top, lo + step);
      } else {
        hi = h;
        let step = 1;
        while (hi - step > 0 && !this.feasibleAt(hi - step, kMax, n)) {
          hi -= step;
          step *= 2;
        }
        lo = Math.max(0, hi - step);
      }
    }
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (this.feasibleAt(mid, kMax, n)) lo = mid;
      else hi = mid;
    }
    // Within the cell the targets are linear in K: each violated constraint crosses at a fraction t.
    const k0 = Math.min(lo * TABLE_STEP, kMax);
    const k1 = Math.min(hi * TABLE_STEP, kMax);
    const f0 = this.oilRise(k0);
    const g0 = this.windingGradient(k0);
    const f1 = this.oilRise(k1);
    const g1 = this.windingGradient(k1);
    let t = 1;
    let which = 0;
    for (let i = 0; i < n; i++) {
      const h0 = ca[i]! * f0 + cb[i]! * g0;
      const h1 = ca[i]! * f1 + cb[i]! * g1;
      if (h1 > cr[i]! && h1 > h0) {
        const ti = (cr[i]! - h0) / (h1 - h0);
        if (ti < t) {
          t = ti;
          which = i;
        }
      }
    }
    out.k = k0 + Math.max(0, t) * (k1 - k0);
    out.limitedBy = this.cOil[which] ? 'top_oil' : 'hot_spot';
    return out;
  }

  /** Feasibility at table index i (K = min(i·STEP, kMax)). */
  private feasibleAt(i: number, kMax: number, n: number): boolean {
    const k = Math.min(i * TABLE_STEP, kMax);
    return this.feasible(this.oilRise(k), this.windingGradient(k), n);
  }

  private feasible(f: number, g: number, n: number): boolean {
    const { ca, cb, cr } = this;
    for (let i = 0; i < n; i++) if (ca[i]! * f + cb[i]! * g > cr[i]!) return false;
    return true;
  }

  /** The constraint most violated at targets (f, g): top oil or hot spot. */
  private binding(f: number, g: number, n: number): LimitingFactor {
    let worst = Number.NEGATIVE_INFINITY;
    let which = 0;
    for (let i = 0; i < n; i++) {
      const v = this.ca[i]! * f + this.cb[i]! * g - this.cr[i]!;
      if (v > worst) {
        worst = v;
        which = i;
      }
    }
    return this.cOil[which] ? 'top_oil' : 'hot_spot';
  }

  /**
   * The allowance for the winding rise a burst leaves two or more slots later (A1² of the largest possible
   * end-of-slot extra): a burst is checked against those slots through its top oil alone, with this margin.
   */
  farWindingAllowance(limits: ThermalLimits): number {
    return (
      this.rise1Decay *
      this.rise1Decay *
      (1 - this.rise1Decay) *
      this.k21 *
      this.windingGradient(limits.loadFactor)
    );
  }
}
