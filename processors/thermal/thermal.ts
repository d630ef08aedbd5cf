/**
 * IEC 60076-7 (loading guide for oil-immersed power transformers) thermal model: top-oil and hot-spot
 * temperatures, relative ageing rate and loss of life. Pure: no I/O, no clock, no allocation while stepping.
 *
 * Symbols (minutes and kelvin throughout): K load factor (load / rated), θa ambient, θo top oil, θh hot spot,
 * Δθor rated top-oil rise, Hgr rated hot-spot-to-top-oil gradient, R ratio of load losses at rated current to
 * no-load losses, x oil exponent, y winding exponent, k11, k21, k22 thermal model constants, τo oil and τw
 * winding time constants.
 *
 * The model is the standard's pair of differential equations in its difference form (IEC 60076-7 clause 8.2.3
 * and its annex "Illustration of the differential equations solution method"):
 *
 *   Dθo    = Dt / (k11·τo)  · [ ((1 + K²·R) / (1 + R))^x · Δθor − (θo − θa) ]
 *   DΔθh1  = Dt / (k22·τw)  · [ k21·Hgr·K^y − Δθh1 ]
 *   DΔθh2  = Dt / (τo/k22)  · [ (k21 − 1)·Hgr·K^y − Δθh2 ]
 *   θh     = θo + Δθh1 − Δθh2
 *
 * Each equation has the form Dx = (Dt/τ)·(target − x). With the load and ambient held over a step (they are:
 * a 15-minute slot has one load factor and one ambient), the exact solution of the underlying differential
 * equation over Dt is Dx = (1 − e^(−Dt/τ))·(target − x), which agrees with Dt/τ to first order. The default
 * `exponential` scheme uses that coefficient: it is stable for any Dt and its temperatures do not depend on
 * the sub-step length at all. The `euler` scheme is the standard's literal Dt/τ, for comparison with tools
 * that implement it; the standard requires Dt ≤ half the smallest time constant for it to be stable, and its
 * answer moves by several kelvin between that bound and a fine step (see test/unit/thermal.test.ts).
 *
 * Either way a slot is integrated in sub-steps no longer than half the smallest time constant (min of k11·τo,
 * k22·τw, τo/k22): the ageing integral (V is steeply non-linear in θh) and the peak hot-spot within the slot
 * are taken at sub-step resolution.
 *
 * Ageing (clause 6.3): relative ageing rate V = 2^((θh − 98) / 6) for normal kraft paper (1.0 at 98 °C,
 * doubling every 6 K); V = exp(15000 / (110 + 273) − 15000 / (θh + 273)) for thermally upgraded paper (1.0 at
 * 110 °C). Loss of life L = ∫ V dt, in minutes of ageing at the reference rate, integrated over the sub-steps
 * (the logarithmic mean of V at each sub-step's ends): a transformer at its reference hot spot for an hour
 * loses 60 minutes of life.
 */

/** The constants of one transformer's thermal model; field names as in topology and the `thermal` spec file. */
export interface ThermalConstants {
  /** Δθor: top-oil temperature rise over ambient at rated load (steady state), K. */
  top_oil_rise_k: number;
  /** Hgr: hot-spot-to-top-oil gradient at rated current (steady state), K. */
  hot_spot_gradient_k: number;
  /** R: load losses at rated current / no-load losses. */
  loss_ratio: number;
  /** x: exponent of total losses against top-oil rise. */
  oil_exponent_x: number;
  /** y: exponent of current against the winding's hot-spot gradient. */
  winding_exponent_y: number;
  k11: number;
  k21: number;
  k22: number;
  /** τo: average oil time constant, minutes. */
  tau_oil_min: number;
  /** τw: winding time constant, minutes. */
  tau_winding_min: number;
}

export type Paper = 'normal' | 'upgraded';
export type CoolingSet = 'distribution-ONAN' | 'power-ONAN' | 'power-ONAF';

/**
 * The standard's recommended thermal characteristics (IEC 60076-7 table "Recommended thermal characteristics
 * for exponential equations"): distribution transformers (ONAN), and medium and large power transformers with
 * ONAN or ONAF cooling. Δθor and Hgr are the table's typical rises; in every set the hot-spot at rated load
 * and 20 °C ambient is 98 °C (20 + 55 + 23, 20 + 52 + 26), the normal-paper reference. Use the transformer's
 * own heat-run figures where they are known.
 */
export const COOLING_SETS: Readonly<Record<CoolingSet, Readonly<ThermalConstants>>> = {
  'distribution-ONAN': {
    top_oil_rise_k: 55,
    hot_spot_gradient_k: 23,
    loss_ratio: 5,
    oil_exponent_x: 0.8,
    winding_exponent_y: 1.6,
    k11: 1.0,
    k21: 1.0,
    k22: 2.0,
    tau_oil_min: 180,
    tau_winding_min: 4,
  },
  'power-ONAN': {
    top_oil_rise_k: 52,
    hot_spot_gradient_k: 26,
    loss_ratio: 6,
    oil_exponent_x: 0.8,
    winding_exponent_y: 1.3,
    k11: 0.5,
    k21: 2.0,
    k22: 2.0,
    tau_oil_min: 210,
    tau_winding_min: 10,
  },
  'power-ONAF': {
    top_oil_rise_k: 52,
    hot_spot_gradient_k: 26,
    loss_ratio: 6,
    oil_exponent_x: 0.8,
    winding_exponent_y: 1.3,
    k11: 0.5,
    k21: 2.0,
    k22: 2.0,
    tau_oil_min: 150,
    tau_winding_min: 7,
  },
};

export const COOLING_SET_NAMES = Object.keys(COOLING_SETS) as CoolingSet[];

/** Hot-spot temperature at which the relative ageing rate is 1: 98 °C for normal paper, 110 °C for upgraded. */
export const REFERENCE_HOT_SPOT_C: Readonly<Record<Paper, number>> = { normal: 98, upgraded: 110 };

const LN2_OVER_6 = Math.LN2 / 6;
const UPGRADED_A = 15000 / (110 + 273);

/** Relative ageing rate of normal (non-upgraded) kraft paper: 2^((θh − 98) / 6). */
export function ageingRateNormal(hotSpotC: number): number {
  return Math.exp((hotSpotC - 98) * LN2_OVER_6);
}

/** Relative ageing rate of thermally upgraded paper: exp(15000/383 − 15000/(θh + 273)). */
export function ageingRateUpgraded(hotSpotC: number): number {
  return Math.exp(UPGRADED_A - 15000 / (hotSpotC + 273));
}

export function ageingRate(paper: Paper, hotSpotC: number): number {
  return paper === 'upgraded' ? ageingRateUpgraded(hotSpotC) : ageingRateNormal(hotSpotC);
}

/** The smallest time constant of the three equations (k11·τo, k22·τw, τo/k22), minutes. */
export function smallestTimeConstant(c: ThermalConstants): number {
  return Math.min(c.k11 * c.tau_oil_min, c.k22 * c.tau_winding_min, c.tau_oil_min / c.k22);
}

/**
 * Per-transformer state, many transformers in one Float64Array (8 numbers each, one cache line), so a fleet
 * is stepped without allocating or boxing. A single transformer is a ThermalStates of size 1.
 */
export class ThermalStates {
  static readonly STRIDE = 8;
  static readonly TOP_OIL = 0;
  /** Δθh1: the first hot-spot rise component (winding), K. */
  static readonly RISE1 = 1;
  /** Δθh2: the second hot-spot rise component (oil flow), K; θh = θo + Δθh1 − Δθh2. */
  static readonly RISE2 = 2;
  static readonly HOT_SPOT = 3;
  static readonly AGEING = 4;
  static readonly LOSS_OF_LIFE = 5;
  static readonly PEAK_HOT_SPOT = 6;
  static readonly ELAPSED = 7;

  readonly data: Float64Array;

  constructor(readonly size: number) {
    this.data = new Float64Array(size * ThermalStates.STRIDE);
  }

  /** Top-oil temperature, °C. */
  topOilC(i: number): number {
    return this.data[i * 8]!;
  }
  /** Δθh1, K. */
  rise1(i: number): number {
    return this.data[i * 8 + 1]!;
  }
  /** Δθh2, K. */
  rise2(i: number): number {
    return this.data[i * 8 + 2]!;
  }
  /** Hot-spot temperature, °C. */
  hotSpotC(i: number): number {
    return this.data[i * 8 + 3]!;
  }
  /** Relative ageing rate V at the current hot-spot. */
  ageingRate(i: number): number {
    return this.data[i * 8 + 4]!;
  }
  /** Loss of life since initialisation, minutes at the reference ageing rate. */
  lossOfLifeMin(i: number): number {
    return this.data[i * 8 + 5]!;
  }
  /** Highest hot-spot temperature (at sub-step resolution) during the last step, °C. */
  peakHotSpotC(i: number): number {
    return this.data[i * 8 + 6]!;
  }
  /** Minutes stepped since initialisation. */
  elapsedMin(i: number): number {
    return this.data[i * 8 + 7]!;
  }
}

export type Scheme = 'exponential' | 'euler';

export interface ThermalModelOptions {
  paper?: Paper;
  /** Length of the step `stepSlot` takes, minutes (default 15). */
  slotMinutes?: number;
  /** Longest sub-step, minutes (default: half the smallest time constant, the standard's bound). */
  maxSubstepMinutes?: number;
  /** Per-sub-step coefficient: `exponential` 1 − e^(−Dt/τ) (default), `euler` Dt/τ as the standard writes it. */
  scheme?: Scheme;
}

/** Sub-step count and per-sub-step coefficients for one step length. */
interface StepPlan {
  minutes: number;
  substeps: number;
  substepMin: number;
  cOil: number;
  cRise1: number;
  cRise2: number;
}

/**
 * One transformer's compiled model: the constants, with everything a step needs precomputed. Immutable apart
 * from a one-entry cache of the step plan for `advance` with a length other than the slot's.
 */
export class ThermalModel {
  readonly constants: Readonly<ThermalConstants>;
  readonly paper: Paper;
  readonly scheme: Scheme;
  readonly slotMinutes: number;
  readonly maxSubstepMinutes: number;
  readonly slotPlan: Readonly<StepPlan>;
  private otherPlan: StepPlan;
  // Hot-path copies of the constants (plain fields of one hidden class).
  private readonly topOilRise: number;
  private readonly gradient: number;
  private readonly lossRatio: number;
  private readonly invOnePlusR: number;
  private readonly x: number;
  private readonly y: number;
  private readonly k21: number;
  private readonly upgraded: boolean;

  constructor(constants: ThermalConstants, options: ThermalModelOptions = {}) {
    const problems = checkConstants(constants);
    if (problems.length) throw new RangeError(`thermal constants: ${problems.join('; ')}`);
    this.constants = Object.freeze({ ...constants });
    this.paper = options.paper ?? 'normal';
    this.scheme = options.scheme ?? 'exponential';
    this.slotMinutes = options.slotMinutes ?? 15;
    this.maxSubstepMinutes = options.maxSubstepMinutes ?? smallestTimeConstant(constants) / 2;
    if (!(this.slotMinutes > 0)) throw new RangeError('slotMinutes must be positive');
    if (!(this.maxSubstepMinutes > 0)) throw new RangeError('maxSubstepMinutes must be positive');
    this.topOilRise = constants.top_oil_rise_k;
    this.gradient = constants.hot_spot_gradient_k;
    this.lossRatio = constants.loss_ratio;
    this.invOnePlusR = 1 / (1 + constants.loss_ratio);
    this.x = constants.oil_exponent_x;
    this.y = constants.winding_exponent_y;
    this.k21 = constants.k21;
    this.upgraded = this.paper === 'upgraded';
    this.slotPlan = Object.freeze(this.plan(this.slotMinutes));
    this.otherPlan = this.slotPlan;
  }

  /** Steady-state top oil for a constant load and ambient: θa + Δθor·((1 + K²R) / (1 + R))^x. */
  steadyTopOilC(loadFactor: number, ambientC: number): number {
    const k = Math.abs(loadFactor);
    return ambientC + this.topOilRise * Math.pow((1 + k * k * this.lossRatio) * this.invOnePlusR, this.x);
  }

  /** Steady-state hot spot: steady top oil + Hgr·K^y. */
  steadyHotSpotC(loadFactor: number, ambientC: number): number {
    return this.steadyTopOilC(loadFactor, ambientC) + this.gradient * Math.pow(Math.abs(loadFactor), this.y);
  }

  /**
   * Steady-state top-oil rise over ambient at load factor K ≥ 0, Δθor·((1 + K²R)/(1 + R))^x, as a step takes
   * it: V8's Math.pow costs about five times exp or log, so a^b is exp(b·ln a).
   */
  oilRise(k: number): number {
    return this.topOilRise * Math.exp(this.x * Math.log((1 + k * k * this.lossRatio) * this.invOnePlusR));
  }

  /** Steady-state hot-spot gradient at load factor K ≥ 0, Hgr·K^y, as a step takes it (ln 0 = −∞ gives 0). */
  windingGradient(k: number): number {
    return this.gradient * Math.exp(this.y * Math.log(k));
  }

  ageingRate(hotSpotC: number): number {
    return this.upgraded ? ageingRateUpgraded(hotSpotC) : ageingRateNormal(hotSpotC);
  }

  /**
   * Starts transformer `i` at the given top-oil and hot-spot temperatures (hot spot defaults to the top oil).
   * The hot-spot gradient θh − θo is split between the two rise components as it would be in a steady state
   * (Δθh1 = k21·gradient, Δθh2 = (k21 − 1)·gradient), so a start at rest stays at rest. Loss of life and
   * elapsed time start at 0.
   */
  init(states: ThermalStates, i: number, topOilC: number, hotSpotC: number = topOilC): void {
    const d = states.data;
    const o = i * 8;
    const gradient = hotSpotC - topOilC;
    d[o] = topOilC;
    d[o + 1] = this.k21 * gradient;
    d[o + 2] = (this.k21 - 1) * gradient;
    d[o + 3] = hotSpotC;
    d[o + 4] = this.ageingRate(hotSpotC);
    d[o + 5] = 0;
    d[o + 6] = hotSpotC;
    d[o + 7] = 0;
  }

  /** Starts transformer `i` in the steady state of a constant load and ambient (e.g. on first sight of a DT). */
  initSteady(states: ThermalStates, i: number, loadFactor: number, ambientC: number): void {
    this.init(states, i, this.steadyTopOilC(loadFactor, ambientC), this.steadyHotSpotC(loadFactor, ambientC));
  }

  /** Advances transformer `i` by one slot (`slotMinutes`) at a load factor and ambient held over the slot. */
  stepSlot(states: ThermalStates, i: number, loadFactor: number, ambientC: number): void {
    this.integrate(states.data, i * 8, loadFactor, ambientC, this.slotPlan);
  }

  /**
   * Advances every transformer of `states` by one slot, transformer i at loads[i] and ambients[i]: the batch
   * form of `stepSlot` for a fleet sharing one model.
   */
  stepSlots(states: ThermalStates, loads: ArrayLike<number>, ambients: ArrayLike<number>): void {
    const d = states.data;
    const plan = this.slotPlan;
    for (let i = 0; i < states.size; i++) this.integrate(d, i * 8, loads[i]!, ambients[i]!, plan);
  }

  /** Advances transformer `i` by `minutes` (> 0) at a load factor and ambient held over that time. */
  advance(states: ThermalStates, i: number, loadFactor: number, ambientC: number, minutes: number): void {
    if (!(minutes > 0)) throw new RangeError(`advance: minutes must be positive, got ${minutes}`);
    let plan: StepPlan = this.slotPlan;
    if (minutes !== plan.minutes) {
      if (minutes !== this.otherPlan.minutes) this.otherPlan = this.plan(minutes);
      plan = this.otherPlan;
    }
    this.integrate(states.data, i * 8, loadFactor, ambientC, plan);
  }

  private plan(minutes: number): StepPlan {
    const substeps = Math.max(1, Math.ceil(minutes / this.maxSubstepMinutes - 1e-9));
    const h = minutes / substeps;
    const c = this.constants;
    const coefficient =
      this.scheme === 'euler' ? (tau: number) => h / tau : (tau: number) => -Math.expm1(-h / tau);
    return {
      minutes,
      substeps,
      substepMin: h,
      cOil: coefficient(c.k11 * c.tau_oil_min),
      cRise1: coefficient(c.k22 * c.tau_winding_min),
      cRise2: coefficient(c.tau_oil_min / c.k22),
    };
  }

  private integrate(d: Float64Array, o: number, loadFactor: number, ambientC: number, plan: StepPlan): void {
    const k = loadFactor < 0 ? -loadFactor : loadFactor;
    // The targets depend on the load only: two powers per step, none per sub-step.
    const oilTarget = ambientC + this.oilRise(k);
    const g = this.windingGradient(k);
    const target1 = this.k21 * g;
    const target2 = (this.k21 - 1) * g;
    const cOil = plan.cOil;
    const c1 = plan.cRise1;
    const c2 = plan.cRise2;
    const h = plan.substepMin;
    const half = h * 0.5;
    const upgraded = this.upgraded;
    let topOil = d[o]!;
    let rise1 = d[o + 1]!;
    let rise2 = d[o + 2]!;
    let v = d[o + 4]!;
    let loss = d[o + 5]!;
    let hotSpot = d[o + 3]!;
    let peak = hotSpot;
    for (let s = plan.substeps; s > 0; s--) {
      topOil += cOil * (oilTarget - topOil);
      rise1 += c1 * (target1 - rise1);
      rise2 += c2 * (target2 - rise2);
      const before = hotSpot;
      hotSpot = topOil + rise1 - rise2;
      // ∫V dt over the sub-step with ln V linear in time: h·(V1 − V0) / ln(V1 / V0), the logarithmic mean. V is
      // exponential in θh, so this is exact for a hot spot changing linearly, where the trapezoid overestimates
      // (2-3% over a day of 15-minute load steps at 4 sub-steps a slot). ln(V1/V0) comes without a log.
      let next: number;
      let lnRatio: number;
      if (upgraded) {
        const b = 15000 / (hotSpot + 273);
        next = Math.exp(UPGRADED_A - b);
        lnRatio = 15000 / (before + 273) - b;
      } else {
        next = Math.exp((hotSpot - 98) * LN2_OVER_6);
        lnRatio = (hotSpot - before) * LN2_OVER_6;
      }
      loss += lnRatio > 1e-6 || lnRatio < -1e-6 ? (h * (next - v)) / lnRatio : half * (v + next);
      v = next;
      if (hotSpot > peak) peak = hotSpot;
    }
    d[o] = topOil;
    d[o + 1] = rise1;
    d[o + 2] = rise2;
    d[o + 3] = hotSpot;
    d[o + 4] = v;
    d[o + 5] = loss;
    d[o + 6] = peak;
    d[o + 7] = d[o + 7]! + plan.minutes;
  }
}

/** Problems with a set of constants ("field: problem"), empty when the model can use them. */
export function checkConstants(c: ThermalConstants): string[] {
  const problems: string[] = [];
  const positive: (keyof ThermalConstants)[] = [
    'top_oil_rise_k',
    'oil_exponent_x',
    'winding_exponent_y',
    'k11',
    'k22',
    'tau_oil_min',
    'tau_winding_min',
  ];
  for (const field of positive)
    if (!(Number.isFinite(c[field]) && c[field] > 0)) problems.push(`${field}: must be a number > 0`);
  for (const field of ['hot_spot_gradient_k', 'loss_ratio'] as const)
    if (!(Number.isFinite(c[field]) && c[field] >= 0)) problems.push(`${field}: must be a number >= 0`);
  if (!(Number.isFinite(c.k21) && c.k21 >= 1))
    problems.push('k21: must be a number >= 1 (1.0 without overshoot, 1.3 to 2.0 for power transformers)');
  return problems;
}
