import { customerHeadroomKw, type CustomerSensitivity } from './customer-voltage.js';
import { normalCdf, normalSf, t4Cdf, t4Sf } from './stress-math.js';
import type { LimitingFactor, SlotKernel, ThermalLimits } from './stress-thermal.js';

/**
 * Thermal and voltage stress probabilities, and the dynamic operating envelope, of one DT over the slots after
 * its last observed one. Pure numerics over a forecast (stress-history.ts makes it); the stress processor
 * (stress.ts) turns the results into records.
 *
 * Load model. The DT's net active power in slot j is P_j = mean_j + z·sd_j with one standardised z for the
 * whole path ("comonotone": a day that runs high runs high in every slot, which is what the heat in the oil
 * remembers; the persistence model of the forecast already shrinks sd_j at short leads). z is distributed as
 * the forecast errors are: Student's t₄ of unit variance by default (stress-math.ts), standard normal without
 * `heavyTails`. Apparent power adds the forecast reactive power Q_j and the within-slot ripple variance W_j:
 * S_j = √(P_j² + W_j + Q_j²), and K_j = S_j / rated kVA.
 *
 * Thermal stress probability of slot j: the probability that its peak hot spot or its top oil exceeds its
 * limit, or K_j exceeds the load-factor limit. The thermal model is run along the load path at a grid of z
 * (the closed-form slot kernel, from the DT's current thermal state, at the forecast ambient), giving the
 * temperature margin m(z) of every slot at every grid point. The margin is monotone on each side of its
 * minimum (more import, or more export, is hotter), so on each side it crosses 0 at most once, at z*, with
 * slope b; the ambient forecast error and a model error add an independent normal σ, and
 *   P(thermal) = P(b·(z − z*) + σ·ε > 0) ≈ 1 − F(b·z* / √(b² + σ²))
 * for the import side (F the distribution of z; exact for normal z and a straight margin), mirrored for the
 * export side. K's limit has a closed form on z. The union of the
 * temperature and K events on one side is taken as the larger of the two (they are nested: K over its limit
 * nearly always means a hot spot over its own). The grid is skipped when the two extreme paths (z = −5 and
 * 5.5) keep every slot more than 4σ inside the limits: the probability there is below 10⁻³ (the t₄ tail
 * beyond z = 5.5 is 7·10⁻⁴; a normal one's, 2·10⁻⁸), and is reported as 0.
 *
 * Voltage stress probability: the lowest customer voltage of slot j below the band or the highest above it,
 * each distributed as z with its forecast mean and sd: P = 1 − (1 − P_low)(1 − P_high).
 *
 * Operating envelope, at confidence c (z_c = F⁻¹(c) for load and voltage, Φ⁻¹(c) for ambient): the base load is taken at its c-quantile path for
 * import headroom (mean + z_c·sd) and its (1 − c)-quantile for export (more export), the ambient at its
 * c-quantile in both, the lowest voltage at its (1 − c)-quantile and the highest at its c-quantile. Then per
 * slot:
 * - thermal: the largest K in the slot that keeps its peak hot spot, end top oil and K within limits
 *   (`SlotKernel.maxLoadFactor`, on the closed form of the slot), as a net power bound |P| ≤ p* =
 *   √((K·rated)² − W − Q²): extra import p* − P, extra export P + p*;
 * - voltage: the extra import that takes the first customer to the band's bottom, min over customers m of
 *   (v_min + o_m − V_low) / b_m, and the extra export that takes the first to its top, with b_m the
 *   customer's sensitivity to the DT's load (V per kW) and o_m its mean offset from the DT's lowest (highest)
 *   voltage (customer-voltage.ts); without per-meter voltages, (v_min − V_low) / s with the DT's own
 *   sensitivity s;
 * - the headroom is the smaller of the two, and the record says which limit binds.
 * Two figures per slot and direction:
 * - `import_kw` / `export_kw`, the envelope proper, found slot by slot forward with the extra of every
 *   earlier slot in the oil: usable in full in every slot of the horizon at once, and safe under any use
 *   within it (less load earlier only leaves the oil cooler). Thermal mass shows as headroom above nameplate
 *   in the first slots of a cool transformer, shrinking as the oil would heat;
 * - `import_slot_kw` / `export_slot_kw`, the most extra in that one slot alone (the base in all others):
 *   checked against the slot itself and, through the heat it leaves in the oil, every later slot of the
 *   horizon (closed form: the extra top oil decays by A per slot, A = e^(−15 min/(k11·τo))). Later slots the
 *   base already breaches are left to their own probability (otherwise a forecast breach tonight would zero
 *   this morning's figure for a contribution of a few percent).
 * `burstHeadroomKw` answers the same question for a burst of several slots by direct simulation.
 */

/** A DT's forecast for the slots after its last observed one (index j = lead − 1), made by the processor. */
export interface SlotForecast {
  pMean: Float64Array;
  pSd: Float64Array;
  /** Reactive power, kvar, and within-slot ripple variance, kW². */
  q: Float64Array;
  w: Float64Array;
  ambMean: Float64Array;
  ambSd: Float64Array;
  /** NaN when the DT reports no voltages. */
  vMinMean: Float64Array;
  vMinSd: Float64Array;
  vMaxMean: Float64Array;
  vMaxSd: Float64Array;
}

export function allocateForecast(capacity: number): SlotForecast {
  const f = () => new Float64Array(capacity);
  return {
    pMean: f(),
    pSd: f(),
    q: f(),
    w: f(),
    ambMean: f(),
    ambSd: f(),
    vMinMean: f(),
    vMinSd: f(),
    vMaxMean: f(),
    vMaxSd: f(),
  };
}

/** The DT and its state at the end of its last observed slot. */
export interface EnvelopeDt {
  kernel: SlotKernel;
  ratedKva: number;
  limits: ThermalLimits;
  /** The statutory voltage band, V. */
  vLow: number;
  vHigh: number;
  /** Voltage change per kW of extra net load, V/kW (> 0): used when there are no `customers`. */
  sensitivityVPerKw: number;
  /**
   * Each customer's sensitivities and offsets (customer-voltage.ts): the voltage headroom is then its weakest
   * customer's.
   */
  customers?: readonly CustomerSensitivity[];
  topOilC: number;
  rise1: number;
  rise2: number;
}

/**
 * The standardised quantiles of the confidence: of the load and voltage forecast error (t₄ or normal) and of
 * the ambient forecast error (normal).
 */
export interface ConfidenceQuantiles {
  load: number;
  ambient: number;
}

/** Per slot of the horizon (index lead − 1). */
export interface EnvelopeResult {
  importKw: Float64Array;
  exportKw: Float64Array;
  importSlotKw: Float64Array;
  exportSlotKw: Float64Array;
  importLimitedBy: LimitingFactor[];
  exportLimitedBy: LimitingFactor[];
  /** Hot spot (peak in the slot) and top oil (end) along the import confidence path without extra, °C. */
  hotSpotC: Float64Array;
  topOilC: Float64Array;
}

/** Grid of z for the probability paths (ascending); the extremes first decide whether the rest is needed. */
const Z_NODES = [-5, -3, -1.5, 0, 1, 2, 3.5, 5.5];
const NZ = Z_NODES.length;

export class OperatingEnvelopeSolver {
  private readonly margin: Float64Array[];
  private readonly baseStart: Float64Array;
  private readonly baseEnd: Float64Array;
  private readonly baseK: Float64Array;
  private readonly nextSlack: Float64Array;
  private readonly farSlack: Float64Array;
  private readonly oilSlack: Float64Array;
  readonly result: EnvelopeResult;

  /** Upper tail and CDF of the standardised load and voltage forecast error. */
  private readonly sf: (z: number) => number;
  private readonly cdf: (z: number) => number;

  constructor(
    readonly capacity: number,
    /** Sd of the thermal model's own error, K (added to the ambient forecast's). */
    private readonly modelSdK = 1,
    /** Forecast errors of load and voltage: unit-variance Student t₄ (true) or normal. */
    heavyTails = true,
  ) {
    this.sf = heavyTails ? t4Sf : normalSf;
    this.cdf = heavyTails ? t4Cdf : normalCdf;
    this.margin = Z_NODES.map(() => new Float64Array(capacity));
    this.baseStart = new Float64Array(capacity * 3);
    this.baseEnd = new Float64Array(capacity * 2);
    this.baseK = new Float64Array(capacity);
    this.nextSlack = new Float64Array(capacity);
    this.farSlack = new Float64Array(capacity);
    this.oilSlack = new Float64Array(capacity);
    const f = () => new Float64Array(capacity);
    this.result = {
      importKw: f(),
      exportKw: f(),
      importSlotKw: f(),
      exportSlotKw: f(),
      importLimitedBy: new Array<LimitingFactor>(capacity).fill('load_factor'),
      exportLimitedBy: new Array<LimitingFactor>(capacity).fill('load_factor'),
      hotSpotC: f(),
      topOilC: f(),
    };
  }

  /** Temperature margins (max of peak hot spot and top oil over their limits, K) along the path at z. */
  private marginPath(dt: EnvelopeDt, fc: SlotForecast, horizon: number, z: number, out: Float64Array): void {
    const k = dt.kernel;
    const lim = dt.limits;
    let o = dt.topOilC;
    let r1 = dt.rise1;
    let r2 = dt.rise2;
    const invRated = 1 / dt.ratedKva;
    for (let j = 0; j < horizon; j++) {
      const p = fc.pMean[j]! + z * fc.pSd[j]!;
      const q = fc.q[j]!;
      const kf = Math.sqrt(p * p + fc.w[j]! + q * q) * invRated;
      const r = k.slot(o, r1, r2, kf, fc.ambMean[j]!);
      out[j] = Math.max(r.peakHotSpotC - lim.hotSpotC, r.topOilC - lim.topOilC);
      o = r.topOilC;
      r1 = r.rise1;
      r2 = r.rise2;
    }
  }

  /** Thermal stress probability of each of the next `horizon` slots (see the module comment). */
  thermalProbabilities(dt: EnvelopeDt, fc: SlotForecast, horizon: number, out: Float64Array): void {
    const m = this.margin;
    this.marginPath(dt, fc, horizon, Z_NODES[0]!, m[0]!);
    this.marginPath(dt, fc, horizon, Z_NODES[NZ - 1]!, m[NZ - 1]!);
    let needed = false;
    for (let j = 0; j < horizon && !needed; j++) {
      const sigma = Math.sqrt(fc.ambSd[j]! ** 2 + this.modelSdK ** 2);
      if (Math.max(m[0]![j]!, m[NZ - 1]![j]!) > -4 * sigma) needed = true;
    }
    if (needed) for (let n = 1; n < NZ - 1; n++) this.marginPath(dt, fc, horizon, Z_NODES[n]!, m[n]!);
    const limitS = dt.limits.loadFactor * dt.ratedKva;
    for (let j = 0; j < horizon; j++) {
      const mean = fc.pMean[j]!;
      const sd = fc.pSd[j]!;
      const q = fc.q[j]!;
      // K over its limit: |P| > p*.
      const pStar2 = limitS * limitS - fc.w[j]! - q * q;
      let kUp: number;
      let kDown: number;
      if (pStar2 <= 0) {
        kUp = 1;
        kDown = 0;
      } else {
        const pStar = Math.sqrt(pStar2);
        kUp = sd > 0 ? this.sf((pStar - mean) / sd) : mean > pStar ? 1 : 0;
        kDown = sd > 0 ? this.cdf((-pStar - mean) / sd) : mean < -pStar ? 1 : 0;
      }
      let tUp = 0;
      let tDown = 0;
      if (needed) {
        const sigma = Math.sqrt(fc.ambSd[j]! ** 2 + this.modelSdK ** 2);
        let kMin = 0;
        for (let n = 1; n < NZ; n++) if (m[n]![j]! < m[kMin]![j]!) kMin = n;
        const least = m[kMin]![j]!;
        if (least > 0) {
          // Over the limit whatever the load: only a cooler day than forecast saves it.
          tUp = normalCdf(least / sigma);
        } else {
          if (kMin < NZ - 1) tUp = branch(m, j, kMin, 1, sigma, this.sf);
          if (kMin > 0) tDown = branch(m, j, kMin, -1, sigma, this.sf);
          if (sd === 0) tUp = normalSf(-least / sigma);
        }
      }
      out[j] = Math.min(1, Math.max(tUp, kUp) + Math.max(tDown, kDown));
    }
  }

  /** Voltage stress probability of each of the next `horizon` slots; NaN without voltages. */
  voltageProbabilities(dt: EnvelopeDt, fc: SlotForecast, horizon: number, out: Float64Array): void {
    for (let j = 0; j < horizon; j++) {
      const lowMean = fc.vMinMean[j]!;
      const highMean = fc.vMaxMean[j]!;
      if (Number.isNaN(lowMean) || Number.isNaN(highMean)) {
        out[j] = Number.NaN;
        continue;
      }
      const pLow = this.cdf((dt.vLow - lowMean) / Math.max(fc.vMinSd[j]!, 1e-6));
      const pHigh = this.sf((dt.vHigh - highMean) / Math.max(fc.vMaxSd[j]!, 1e-6));
      out[j] = 1 - (1 - pLow) * (1 - pHigh);
    }
  }

  /**
   * The operating envelope of the next `horizon` slots at confidence z_c (see the module comment), into
   * `this.result`.
   */
  envelope(dt: EnvelopeDt, fc: SlotForecast, horizon: number, q: ConfidenceQuantiles): EnvelopeResult {
    const res = this.result;
    this.direction(dt, fc, horizon, q, 1);
    this.direction(dt, fc, horizon, q, -1);
    return res;
  }

  /** One direction: +1 import, −1 export. */
  private direction(
    dt: EnvelopeDt,
    fc: SlotForecast,
    horizon: number,
    quantiles: ConfidenceQuantiles,
    sign: 1 | -1,
  ): void {
    const zc = quantiles.load;
    const za = quantiles.ambient;
    const k = dt.kernel;
    const lim = dt.limits;
    const rated = dt.ratedKva;
    const res = this.result;
    const sustained = sign > 0 ? res.importKw : res.exportKw;
    const single = sign > 0 ? res.importSlotKw : res.exportSlotKw;
    const limitedBy = sign > 0 ? res.importLimitedBy : res.exportLimitedBy;
    // Without voltages, headroom is capped at ten times the rating (a cap, not a physical figure).
    const cap = 10 * rated;

    // The base path at the confidence quantile, no extra: start states, end temperatures, K.
    const start = this.baseStart;
    const end = this.baseEnd;
    let o = dt.topOilC;
    let r1 = dt.rise1;
    let r2 = dt.rise2;
    for (let j = 0; j < horizon; j++) {
      const p = fc.pMean[j]! + sign * zc * fc.pSd[j]!;
      const q = fc.q[j]!;
      const kf = Math.sqrt(p * p + fc.w[j]! + q * q) / rated;
      start[3 * j] = o;
      start[3 * j + 1] = r1;
      start[3 * j + 2] = r2;
      const r = k.slot(o, r1, r2, kf, fc.ambMean[j]! + za * fc.ambSd[j]!);
      end[2 * j] = r.peakHotSpotC;
      end[2 * j + 1] = r.topOilC;
      this.baseK[j] = kf;
      if (sign > 0) {
        res.hotSpotC[j] = r.peakHotSpotC;
        res.topOilC[j] = r.topOilC;
      }
      o = r.topOilC;
      r1 = r.rise1;
      r2 = r.rise2;
    }
    // What later slots leave for a one-slot burst (backwards; slots the base breaches do not count).
    const a = k.oilDecay;
    const allowance = k.farWindingAllowance(lim);
    let far = Number.POSITIVE_INFINITY;
    let oil = Number.POSITIVE_INFINITY;
    for (let j = horizon - 1; j >= 0; j--) {
      const next = j + 1 < horizon ? lim.hotSpotC - end[2 * (j + 1)]! : Number.NEGATIVE_INFINITY;
      const nextOil = j + 1 < horizon ? lim.topOilC - end[2 * (j + 1) + 1]! : Number.NEGATIVE_INFINITY;
      this.nextSlack[j] = next >= 0 ? next : Number.POSITIVE_INFINITY;
      // far(j) = min over i ≥ 2 of (slack(j+i) − allowance)/Aⁱ; oil(j) = min over i ≥ 1 of slackOil(j+i)/Aⁱ.
      const afterNext = j + 2 < horizon ? lim.hotSpotC - end[2 * (j + 2)]! : Number.NEGATIVE_INFINITY;
      far = Math.min(afterNext >= 0 ? Math.max(0, afterNext - allowance) / (a * a) : Infinity, far / a);
      oil = Math.min(nextOil >= 0 ? nextOil / a : Infinity, oil / a);
      this.farSlack[j] = far;
      this.oilSlack[j] = oil;
    }

    const later = { baseK: 0, nextHotSpot: 0, farHotSpot: 0, topOil: 0 };
    // Sustained: forward, each slot's extra in the oil of the next. Each slot's answer seeds the next search.
    let hintSustained = -1;
    let hintAlone = -1;
    o = dt.topOilC;
    r1 = dt.rise1;
    r2 = dt.rise2;
    for (let j = 0; j < horizon; j++) {
      const p = fc.pMean[j]! + sign * zc * fc.pSd[j]!;
      const q = fc.q[j]!;
      const ripple = fc.w[j]! + q * q;
      const amb = fc.ambMean[j]! + za * fc.ambSd[j]!;
      const voltage = voltageHeadroom(dt, fc, j, zc, sign);
      // Thermal, sustained.
      const best = k.maxLoadFactor(o, r1, r2, amb, lim, undefined, hintSustained);
      hintSustained = best.k;
      const thermal = headroomFrom(best.k * rated, ripple, p, sign);
      let extra = Math.min(thermal, voltage, cap);
      limitedBy[j] = voltage < thermal ? 'voltage' : best.limitedBy;
      sustained[j] = extra;
      const pWith = p + sign * extra;
      const r = k.slot(o, r1, r2, Math.sqrt(pWith * pWith + ripple) / rated, amb);
      o = r.topOilC;
      r1 = r.rise1;
      r2 = r.rise2;
      // One slot alone, from the base path's state.
      later.baseK = this.baseK[j]!;
      later.nextHotSpot = this.nextSlack[j]!;
      later.farHotSpot = this.farSlack[j]!;
      later.topOil = this.oilSlack[j]!;
      const alone = k.maxLoadFactor(
        start[3 * j]!,
        start[3 * j + 1]!,
        start[3 * j + 2]!,
        amb,
        lim,
        later,
        hintAlone,
      );
      hintAlone = alone.k;
      extra = Math.min(headroomFrom(alone.k * rated, ripple, p, sign), voltage, cap);
      single[j] = extra;
    }
  }

  /**
   * The largest extra (kW) that can be added in every slot of leads [startLead, startLead + slots) on top of
   * the base at confidence z_c, keeping every slot from startLead to the horizon within the thermal limits
   * (later slots the base already breaches excepted, as for the one-slot figure) and the burst's slots
   * within the voltage band. By direct simulation and bisection: for judging a request's schedule, and for
   * checking the closed forms.
   */
  burstHeadroomKw(
    dt: EnvelopeDt,
    fc: SlotForecast,
    horizon: number,
    startLead: number,
    slots: number,
    quantiles: ConfidenceQuantiles,
    sign: 1 | -1,
  ): number {
    const zc = quantiles.load;
    const za = quantiles.ambient;
    const k = dt.kernel;
    const lim = dt.limits;
    const rated = dt.ratedKva;
    const first = startLead - 1;
    const last = Math.min(horizon, first + slots) - 1;
    let voltage = Number.POSITIVE_INFINITY;
    for (let j = first; j <= last; j++) voltage = Math.min(voltage, voltageHeadroom(dt, fc, j, zc, sign));
    // Which later slots the base breaches.
    const breached = new Uint8Array(horizon);
    let o = dt.topOilC;
    let r1 = dt.rise1;
    let r2 = dt.rise2;
    const loadOf = (j: number, extra: number) => {
      const p = fc.pMean[j]! + sign * zc * fc.pSd[j]! + sign * extra;
      const q = fc.q[j]!;
      return Math.sqrt(p * p + fc.w[j]! + q * q) / rated;
    };
    for (let j = 0; j < horizon; j++) {
      const r = k.slot(o, r1, r2, loadOf(j, 0), fc.ambMean[j]! + za * fc.ambSd[j]!);
      if (j > last && (r.peakHotSpotC > lim.hotSpotC || r.topOilC > lim.topOilC)) breached[j] = 1;
      o = r.topOilC;
      r1 = r.rise1;
      r2 = r.rise2;
    }
    const feasible = (extra: number): boolean => {
      let so = dt.topOilC;
      let s1 = dt.rise1;
      let s2 = dt.rise2;
      for (let j = 0; j < horizon; j++) {
        const inBurst = j >= first && j <= last;
        const kf = loadOf(j, inBurst ? extra : 0);
        if (inBurst && kf > lim.loadFactor) return false;
        const r = k.slot(so, s1, s2, kf, fc.ambMean[j]! + za * fc.ambSd[j]!);
        if (j >= first && !breached[j] && (r.peakHotSpotC > lim.hotSpotC || r.topOilC > lim.topOilC))
          return false;
        so = r.topOilC;
        s1 = r.rise1;
        s2 = r.rise2;
      }
      return true;
    };
    if (!feasible(0)) return 0;
    let low = 0;
    let high = 10 * rated;
    if (feasible(high)) return Math.min(high, voltage);
    while (high - low > 1e-4 * rated) {
      const mid = 0.5 * (low + high);
      if (feasible(mid)) low = mid;
      else high = mid;
    }
    return Math.min(low, voltage);
  }
}

/** Extra net power (kW, ≥ 0) in direction `sign` that keeps apparent power within `sMax` kVA. */
function headroomFrom(sMax: number, ripple: number, p: number, sign: 1 | -1): number {
  const pStar2 = sMax * sMax - ripple;
  if (pStar2 <= 0) return 0;
  const pStar = Math.sqrt(pStar2);
  return Math.max(0, sign > 0 ? pStar - p : p + pStar);
}

/** Voltage headroom (kW) of slot j in direction `sign` at confidence z_c; Infinity without voltages. */
function voltageHeadroom(dt: EnvelopeDt, fc: SlotForecast, j: number, zc: number, sign: 1 | -1): number {
  if (dt.customers?.length) {
    const extreme = sign > 0 ? fc.vMinMean[j]! - zc * fc.vMinSd[j]! : fc.vMaxMean[j]! + zc * fc.vMaxSd[j]!;
    if (Number.isNaN(extreme)) return Number.POSITIVE_INFINITY;
    return customerHeadroomKw(dt.customers, { vLow: dt.vLow, vHigh: dt.vHigh }, sign, extreme);
  }
  if (sign > 0) {
    const low = fc.vMinMean[j]! - zc * fc.vMinSd[j]!;
    return Number.isNaN(low) ? Number.POSITIVE_INFINITY : Math.max(0, (low - dt.vLow) / dt.sensitivityVPerKw);
  }
  const high = fc.vMaxMean[j]! + zc * fc.vMaxSd[j]!;
  return Number.isNaN(high)
    ? Number.POSITIVE_INFINITY
    : Math.max(0, (dt.vHigh - high) / dt.sensitivityVPerKw);
}

/**
 * Probability from one side of the margin's minimum (dir +1: z rising from kMin; −1: falling), by its zero
 * crossing and the slope there (or beyond the grid, by the last segment's slope).
 */
function branch(
  m: Float64Array[],
  j: number,
  kMin: number,
  dir: 1 | -1,
  sigma: number,
  sf: (z: number) => number,
): number {
  const end = dir > 0 ? NZ - 1 : 0;
  let k = kMin + dir;
  for (; k !== end + dir; k += dir) if (m[k]![j]! > 0) break;
  const inside = k !== end + dir;
  const hi = inside ? k : end;
  const lo = hi - dir;
  const mHi = m[hi]![j]!;
  const mLo = m[lo]![j]!;
  const dz = Math.abs(Z_NODES[hi]! - Z_NODES[lo]!);
  const b = (mHi - mLo) / dz; // slope of the margin per unit of z, away from the minimum
  if (!(b > 1e-9)) return 0;
  // Distance in z from the mean (z = 0) to the crossing, along the branch's direction.
  const zStar = dir * Z_NODES[hi]! - mHi / b;
  // z and the ambient error combined, approximated as one variable with z's distribution.
  return sf((b * zStar) / Math.sqrt(b * b + sigma * sigma));
}
