import { DAY_MS, SLOT_MS, SLOTS_PER_DAY } from '../../core/time.js';
import { localCell, type ZoneOffsets } from '../../core/zone-offsets.js';

/**
 * What the stress processor learns from a DT's own history and its weather station's: the distribution of a
 * quantity (net load, lowest and highest customer voltage, ambient temperature) in comparable slots, and how
 * long a departure from it lasts. Pure, no allocation per observation.
 *
 * Comparable slots: the same quarter hour of the DT's local day and the same day type (weekday or weekend of
 * its local date, in its own time zone; 192 classes; a weather station's: the quarter hour of the UTC day). Per class, a running mean and variance with weight max(1/n, `minWeight`): the
 * plain mean of the first observations, then an exponential memory of about 1/minWeight comparable days, so
 * the profile follows the seasons. A class's variance is shrunk towards the DT's pooled residual variance
 * (with the weight of `shrinkCount` observations), so a class seen twice does not claim certainty.
 *
 * Persistence: the standardised anomaly u = (x − class mean) / class sd of the latest slot carries into the
 * forecast in two parts: its running mean ū over the last `slowSlots` or so (a hot spell, a connection
 * degrading day by day) persists as λʰ = e^(−h/slowSlots), the rest u − ū as ρʰ (an AR(1) process in
 * standardised units: a hot afternoon's air conditioning, an evening of EV charging, the MV voltage drifting),
 * with ρ estimated online from consecutive values of u − ū. The forecast for lead h is then
 *
 *   mean = m(c) + (ρʰ·(u − ū) + λʰ·ū)·s(c),   sd = s(c)·√(max(1 − ρ²ʰ, floor²)·κₕ)
 *
 * where c is the target slot's class. κ corrects the spread from the forecasts' own record: κ₁ is the running
 * mean of the squared standardised errors of the lead-1 forecasts (1 when the model's spread is right), κ_L
 * that of the lead-L forecasts (L = `longLead`, a day: the class distribution itself, which a trend or a
 * short history makes too narrow), and κₕ = κ_L + (κ₁ − κ_L)·ρ²⁽ʰ⁻¹⁾ in between.
 */

export const CLASSES = 2 * SLOTS_PER_DAY;

export interface SeriesConfig {
  /** Smallest weight of a new observation in its class's running mean and variance. */
  minWeight: number;
  /** The pooled variance counts as this many observations in a class's variance. */
  shrinkCount: number;
  /** ρ before any evidence, and how many slot pairs that prior counts as. */
  priorRho: number;
  priorRhoWeight: number;
  /** Memory of the ρ and κ estimates, slots (exponential). */
  memorySlots: number;
  /** Smallest forecast sd as a fraction of the class sd (the estimates themselves are uncertain). */
  sdFloorFraction: number;
  /** The long lead whose forecasts are verified too (see κ_L), slots. */
  longLead: number;
  /**
   * Memory of the slow part of the anomaly, slots: the running mean of u over about this many slots persists
   * as e^(−h/slowSlots) (a hot spell, a connection degrading day by day), the rest as ρʰ.
   */
  slowSlots: number;
}

export const DEFAULT_SERIES_CONFIG: SeriesConfig = {
  minWeight: 0.1,
  shrinkCount: 3,
  priorRho: 0.8,
  priorRhoWeight: 20,
  memorySlots: 30 * SLOTS_PER_DAY,
  sdFloorFraction: 0.1,
  longLead: SLOTS_PER_DAY,
  slowSlots: 2 * SLOTS_PER_DAY,
};

/**
 * Class of a DT's slot: quarter hour of the local day, + 96 on weekends of the local date, in the DT's own time
 * zone, daylight-saving time included (the load patterns' cell, core/zone-offsets.ts localCell).
 */
export function classOf(slotStart: number, zone: ZoneOffsets): number {
  return localCell(slotStart, zone);
}

/** Quarter hour of the UTC day: a weather station's class (ambient temperature follows the sun, not a zone). */
export function utcSlotOfDay(slotStart: number): number {
  return Math.floor((((slotStart % DAY_MS) + DAY_MS) % DAY_MS) / SLOT_MS);
}

/** One quantity's class statistics, persistence and self-calibration (see the module comment). */
export class SeasonalSeries {
  /** Per class: count, mean, variance (Float32: 2.3 KB a series). */
  private readonly stats = new Float32Array(CLASSES * 3);
  /** EW variance of residuals against the class mean, over all classes. */
  pooledVar = Number.NaN;
  private pooledCount = 0;
  /** Standardised anomaly of the last observation and its slot, and the running mean ū of the anomalies. */
  lastU = 0;
  slowU = 0;
  private slowCount = 0;
  lastSlot = Number.NaN;
  private rhoNum: number;
  private rhoDen: number;
  private errSq: number;
  private errWeight: number;
  private longErrSq: number;
  private longErrWeight: number;
  /** The lead-L forecasts awaiting their slot, as a ring by slot: slot index, mean, raw sd. */
  private readonly longSlot: Float64Array;
  private readonly longPred: Float32Array;
  /** The lead-1 forecast made after the last observation, for verifying it against the next one. */
  private predSlot = Number.NaN;
  private predMean = 0;
  private predSdRaw = 0;

  constructor(
    private readonly config: SeriesConfig,
    /** Absolute floor of the class sd (units of the quantity). */
    private readonly sdFloor: number,
    /** Sd assumed before the DT has any residuals, from the first value seen. */
    private readonly initialSd: (x: number) => number,
  ) {
    this.rhoNum = config.priorRho * config.priorRhoWeight;
    this.rhoDen = config.priorRhoWeight;
    this.errSq = 10;
    this.errWeight = 10;
    this.longErrSq = 10;
    this.longErrWeight = 10;
    this.longSlot = new Float64Array(config.longLead).fill(Number.NaN);
    this.longPred = new Float32Array(2 * config.longLead);
  }

  /** Observations in a class. */
  count(cls: number): number {
    return this.stats[cls * 3]!;
  }

  /** Has the series seen anything. */
  get seen(): boolean {
    return !Number.isNaN(this.pooledVar);
  }

  get rho(): number {
    return Math.min(0.98, Math.max(0, this.rhoNum / this.rhoDen));
  }

  /** κ₁: mean squared standardised lead-1 error. */
  get errorScale(): number {
    return Math.min(16, Math.max(0.25, this.errSq / this.errWeight));
  }

  /** κ_L: mean squared standardised error at the long lead. */
  get longErrorScale(): number {
    return Math.min(16, Math.max(0.25, this.longErrSq / this.longErrWeight));
  }

  /**
   * Class mean and sd (shrunk towards the pooled variance) of a class, falling back to the other day type's
   * same quarter hour, then to the last observation. Writes into `out` and returns the count behind it.
   */
  expected(cls: number, out: { mean: number; sd: number }): number {
    let c = cls;
    let n = this.stats[c * 3]!;
    if (n === 0) {
      c = cls >= SLOTS_PER_DAY ? cls - SLOTS_PER_DAY : cls + SLOTS_PER_DAY;
      n = this.stats[c * 3]!;
    }
    const pooled = Number.isNaN(this.pooledVar) ? this.sdFloor * this.sdFloor : this.pooledVar;
    if (n === 0) {
      out.mean = this.lastMean;
      out.sd = Math.max(this.sdFloor, Math.sqrt(pooled));
      return 0;
    }
    const k = this.config.shrinkCount;
    const variance = (n * this.stats[c * 3 + 2]! + k * pooled) / (n + k);
    out.mean = this.stats[c * 3 + 1]!;
    out.sd = Math.max(this.sdFloor, Math.sqrt(variance));
    return n;
  }

  private lastMean = 0;
  private readonly scratch = { mean: 0, sd: 0 };

  /** Adds the observation `x` of slot `slot` (class `cls`): verification, persistence, then the class. */
  observe(slot: number, cls: number, x: number): void {
    const e = this.scratch;
    const n = this.expected(cls, e);
    if (Number.isNaN(this.pooledVar)) {
      const sd = Math.max(this.sdFloor, this.initialSd(x));
      this.pooledVar = sd * sd;
    }
    const forget = 1 - 1 / this.config.memorySlots;
    // Verify the lead-1 forecast made after the previous observation.
    if (slot === this.predSlot && this.predSdRaw > 0) {
      const z = (x - this.predMean) / this.predSdRaw;
      this.errSq = forget * this.errSq + Math.min(z * z, 100);
      this.errWeight = forget * this.errWeight + 1;
    }
    const index = Math.round(slot / SLOT_MS);
    const ring = index % this.config.longLead;
    if (this.longSlot[ring] === index) {
      const z = (x - this.longPred[2 * ring]!) / this.longPred[2 * ring + 1]!;
      this.longErrSq = forget * this.longErrSq + Math.min(z * z, 100);
      this.longErrWeight = forget * this.longErrWeight + 1;
    }
    const u = Math.max(-6, Math.min(6, n > 0 ? (x - e.mean) / e.sd : 0));
    if (n > 0 && slot === this.lastSlot + SLOT_MS) {
      const fast = u - this.slowU;
      const lastFast = this.lastU - this.slowU;
      this.rhoNum = forget * this.rhoNum + fast * lastFast;
      this.rhoDen = forget * this.rhoDen + lastFast * lastFast;
    }
    if (n > 0) {
      this.slowCount++;
      this.slowU += (u - this.slowU) / Math.min(this.slowCount, this.config.slowSlots);
    }
    if (n > 0) {
      const r = x - e.mean;
      this.pooledCount++;
      const a = Math.max(1 / this.pooledCount, 0.01);
      this.pooledVar += a * (Math.min(r * r, 100 * this.pooledVar) - this.pooledVar);
    }
    // The class itself (West's weighted incremental mean and variance).
    const at = cls * 3;
    const count = this.stats[at]! + 1;
    const w = Math.max(1 / count, this.config.minWeight);
    const mean = this.stats[at + 1]!;
    const d = x - mean;
    if (count === 1) {
      this.stats[at + 1] = x;
      this.stats[at + 2] = 0;
    } else {
      this.stats[at + 1] = mean + w * d;
      this.stats[at + 2] = (1 - w) * (this.stats[at + 2]! + w * d * d);
    }
    this.stats[at] = Math.min(count, 1e6);
    this.lastU = u;
    this.lastSlot = slot;
    this.lastMean = x;
  }

  /**
   * Forecast for the `horizon` slots after `fromSlot` (the last observed slot): mean and sd per lead
   * (index lead − 1), and the class count behind each. `classes[j]` is the class of lead j + 1. Also keeps
   * the lead-1 forecast for verification. `recordOnly`: only what is kept for verification (the lead-1 and
   * long-lead forecasts, the only state a forecast changes) is computed, and only those leads' `classes` are
   * read: for a history learnt again without output (a resumed DT), where nothing reads the forecast.
   */
  forecast(
    fromSlot: number,
    horizon: number,
    classes: Int16Array,
    mean: Float64Array,
    sd: Float64Array,
    counts: Float64Array | null,
    recordOnly = false,
  ): void {
    const e = this.scratch;
    const rho = this.rho;
    const kappa1 = this.errorScale;
    const kappaL = this.longErrorScale;
    const floor2 = this.config.sdFloorFraction * this.config.sdFloorFraction;
    // A departure seen long ago has faded by the lead from the last observation.
    const gap = Number.isNaN(this.lastSlot)
      ? 0
      : Math.max(0, Math.round((fromSlot - this.lastSlot) / SLOT_MS));
    const lambda = Math.exp(-1 / this.config.slowSlots);
    const rho2 = rho * rho;
    let rhoH = Math.pow(rho, gap);
    let lambdaH = Math.pow(lambda, gap);
    // ρ²⁽ˡᵉᵃᵈ⁻¹⁾ for the κ blend, lead = gap + j + 1.
    let rho2Lead = Math.pow(rho2, gap);
    const fast = this.lastU - this.slowU;
    const longLead = this.config.longLead;
    for (let j = 0; j < horizon; j++) {
      rhoH *= rho;
      lambdaH *= lambda;
      const kappa = kappaL + (kappa1 - kappaL) * rho2Lead;
      rho2Lead *= rho2;
      if (recordOnly && j !== 0 && j + 1 !== longLead) continue;
      const n = this.expected(classes[j]!, e);
      const spread = Math.max(1 - rhoH * rhoH, floor2);
      mean[j] = e.mean + (rhoH * fast + lambdaH * this.slowU) * e.sd;
      sd[j] = e.sd * Math.sqrt(spread * kappa);
      if (counts) counts[j] = n;
      if (j === 0) {
        this.predSlot = fromSlot + SLOT_MS;
        this.predMean = mean[0]!;
        this.predSdRaw = e.sd * Math.sqrt(spread);
      }
      if (j + 1 === longLead) {
        const index = Math.round(fromSlot / SLOT_MS) + longLead;
        const ring = index % longLead;
        this.longSlot[ring] = index;
        this.longPred[2 * ring] = mean[j]!;
        this.longPred[2 * ring + 1] = Math.max(1e-9, e.sd * Math.sqrt(spread));
      }
    }
  }
}

/** Class means of quantities whose spread does not matter (reactive power, within-slot ripple). */
export class ClassMeans {
  private readonly stats: Float32Array;

  constructor(
    private readonly fields: number,
    private readonly minWeight: number,
  ) {
    this.stats = new Float32Array(CLASSES * (1 + fields));
  }

  observe(cls: number, values: ArrayLike<number>): void {
    const at = cls * (1 + this.fields);
    const count = this.stats[at]! + 1;
    const w = Math.max(1 / count, this.minWeight);
    for (let f = 0; f < this.fields; f++) {
      const m = this.stats[at + 1 + f]!;
      this.stats[at + 1 + f] = count === 1 ? values[f]! : m + w * (values[f]! - m);
    }
    this.stats[at] = Math.min(count, 1e6);
  }

  /** Mean of field f in a class (the other day type's, then `fallback`, when unseen). */
  mean(cls: number, f: number, fallback: number): number {
    let at = cls * (1 + this.fields);
    if (this.stats[at] === 0) {
      const other = cls >= SLOTS_PER_DAY ? cls - SLOTS_PER_DAY : cls + SLOTS_PER_DAY;
      at = other * (1 + this.fields);
      if (this.stats[at] === 0) return fallback;
    }
    return this.stats[at + 1 + f]!;
  }
}

/**
 * A weather station: each slot's mean ambient, kept for two days, and the ambient forecast from climatology
 * (per quarter hour of the day) plus the persistence of the current departure from it, a stand-in until a
 * weather forecast feed exists.
 */
export class StationHistory {
  static readonly RING = 2 * SLOTS_PER_DAY;
  /** Slot index (slot start / SLOT_MS) and mean ambient of finalised slots, as a ring. */
  private readonly ringSlot = new Float64Array(StationHistory.RING).fill(Number.NaN);
  private readonly ringValue = new Float64Array(StationHistory.RING);
  /** The slot being collected (observations of one slot arrive together). */
  private openSlot = Number.NaN;
  private openSum = 0;
  private openCount = 0;
  /** Newest observation time and value. */
  newestTs = Number.NEGATIVE_INFINITY;
  lastValue = Number.NaN;
  lastValueTs = Number.NEGATIVE_INFINITY;
  /** Ambient by quarter hour of the day, and the departures from it. */
  private readonly series: SeasonalSeries;
  /** The newest slot index the series has taken in (advanceTo). */
  private fedIndex = Number.NEGATIVE_INFINITY;
  private classes = new Int16Array(SLOTS_PER_DAY);

  constructor(config: SeriesConfig) {
    // Weather departures last for hours: a higher prior persistence than loads'.
    this.series = new SeasonalSeries({ ...config, priorRho: Math.max(config.priorRho, 0.95) }, 0.3, () => 3);
  }

  /** Adds one observation. Observations for a slot already finalised only move `lastValue`. */
  observe(ts: number, ambientC: number): void {
    const slot = Math.floor(ts / SLOT_MS) * SLOT_MS;
    if (ts >= this.lastValueTs) {
      this.lastValue = ambientC;
      this.lastValueTs = ts;
    }
    if (ts > this.newestTs) this.newestTs = ts;
    if (slot === this.openSlot) {
      this.openSum += ambientC;
      this.openCount++;
      return;
    }
    if (!Number.isNaN(this.openSlot) && slot < this.openSlot) {
      // A late observation: fold it into its finalised slot if the ring still has it.
      const at = (slot / SLOT_MS) % StationHistory.RING;
      if (this.ringSlot[at] === slot / SLOT_MS) this.ringValue[at] = 0.5 * (this.ringValue[at]! + ambientC);
      return;
    }
    this.finalise();
    this.openSlot = slot;
    this.openSum = ambientC;
    this.openCount = 1;
  }

  private finalise(): void {
    if (Number.isNaN(this.openSlot) || this.openCount === 0) return;
    const mean = this.openSum / this.openCount;
    const index = this.openSlot / SLOT_MS;
    this.ringSlot[index % StationHistory.RING] = index;
    this.ringValue[index % StationHistory.RING] = mean;
    // A slot a forecast has already gone past (it was released without its weather) is taken in late.
    if (index <= this.fedIndex) this.series.observe(this.openSlot, utcSlotOfDay(this.openSlot), mean);
    this.openCount = 0;
  }

  /**
   * Takes the finalised slots up to `slot` into the series, in order. The series sees the weather only as of
   * the slot a forecast is made from, however far ahead the observations have come: so a DT's forecast is the
   * same whether the weather topic was read just in time or hours ahead (after a restart, say).
   */
  private advanceTo(slot: number): void {
    const to = Math.floor(slot / SLOT_MS);
    if (to <= this.fedIndex) return;
    for (let i = Math.max(this.fedIndex + 1, to - StationHistory.RING + 1); i <= to; i++) {
      const at = i % StationHistory.RING;
      if (this.ringSlot[at] === i)
        this.series.observe(i * SLOT_MS, utcSlotOfDay(i * SLOT_MS), this.ringValue[at]!);
    }
    this.fedIndex = to;
  }

  /** Mean ambient of a slot if observed (finalised or being collected), else NaN. */
  slotMean(slot: number): number {
    if (slot === this.openSlot && this.openCount > 0) return this.openSum / this.openCount;
    const index = slot / SLOT_MS;
    const at = index % StationHistory.RING;
    return this.ringSlot[at] === index ? this.ringValue[at]! : Number.NaN;
  }

  /** Whether any slot up to `slot` has been finalised (there is a climatology to forecast from). */
  hasHistoryAt(slot: number): boolean {
    this.advanceTo(slot);
    return this.series.seen;
  }

  /**
   * Ambient forecast for the `horizon` slots after `fromSlot`: climatology of the quarter hour plus the
   * persisting departure of the last finalised slot up to `fromSlot`, and its sd.
   */
  forecast(
    fromSlot: number,
    horizon: number,
    mean: Float64Array,
    sd: Float64Array,
    recordOnly = false,
  ): void {
    this.advanceTo(fromSlot);
    const classes = this.classesFor(fromSlot, horizon);
    this.series.forecast(fromSlot, horizon, classes, mean, sd, null, recordOnly);
  }

  private classesFor(fromSlot: number, horizon: number): Int16Array {
    if (this.classes.length < horizon) this.classes = new Int16Array(horizon);
    const classes = this.classes;
    for (let j = 0; j < horizon; j++) classes[j] = utcSlotOfDay(fromSlot + (j + 1) * SLOT_MS);
    return classes;
  }
}
