/**
 * Service-drop impedance from current steps, for the meter legs behind one DT. Pure and clock-free.
 *
 * Between two consecutive readings of a leg, its voltage moves for two reasons: the drop across its own
 * service connection changes with its own current (−Z·ΔI), and the voltage at the DT's terminals moves
 * (MV supply drift, the DT's own load through the DT's impedance). So
 *
 *     ΔV_leg = ΔV_dt − Z·ΔI        ⇒        Z = −(ΔV_leg − ΔV_dt) / ΔI
 *
 * where ΔV_dt is not measured. It is read off the leg's peers: legs of the same DT whose own current stayed
 * put over the same interval ("quiet" legs) see just the terminal voltage move. But which peers? A step of
 * a single-phase leg pulls down only its own phase: peers on that phase drop by Z_dt·ΔI, the others do not,
 * and taking the median over the whole DT would add Z_dt (typically 25-70 mΩ) to every estimate. The
 * topology does not say which phase a meter is on (CIS exports rarely do, and often wrongly), so each leg
 * learns it: for every peer of the DT's reference panel (its first `referencePanel` legs; all of them in a
 * DT of up to that many) it keeps the peer's pull: Σ ΔV_peer·ΔI over its own current steps during which the
 * peer was quiet, the regression slope β of the peer's voltage change on its steps times Σ ΔI², the same
 * positive factor for every peer. Peers on the same phase show β ≈ −Z_dt, peers on other phases β ≈ 0; a leg
 * of a three-phase meter steps with its other legs, so every phase sees it and every peer qualifies. The
 * reference for an estimate is the median voltage change of the quiet peers whose pull is at least half the
 * strongest one. A peer seldom quiet during the leg's steps pulls less by that much (its ΔV counts as 0 when it
 * was not quiet): it is seldom a usable reference for the leg anyway, and a slope from its few quiet steps
 * would be noise; a factor per peer (its own Σ ΔI² over its quiet steps) would double the state for the same
 * estimates (test/unit/impedance-truth.test.ts gave the same errors either way). Until a leg has seen
 * `warmupSteps` steps of its own, it yields no estimates (they would carry that bias).
 *
 * Current sign: meters publish the RMS current, a magnitude; a leg exporting (p_kw < 0) carries it the other
 * way, so ΔI uses the current signed by the meter's active power.
 *
 * Readings are grouped by timestamp (interval readings are aligned to the interval boundaries) and a
 * timestamp's group is evaluated once it is closed (the caller's watermark passed it), with every peer
 * reading in. A reading arriving after that is evaluated on arrival against the retained groups on either
 * side of it, so each pair of consecutive readings of a leg is evaluated exactly once.
 */

export interface StepConfig {
  /** A leg's current must change by at least this much (A) between two readings to make a step. */
  minStepA: number;
  /** ... and by at least this much (A) to teach the leg which peers its steps pull down. */
  minLearnStepA: number;
  /** Readings on either side of a step are averaged while the leg's current stays within this (A) of its value next to the step. */
  plateauA: number;
  /** At most this many readings are averaged on each side of a step. */
  plateauReadings: number;
  /** A peer with no impedance estimate yet is a reference only if its current changed by at most this (A). */
  maxQuietA: number;
  /**
   * A peer with an impedance estimate is corrected for its own drop and is a reference if that correction
   * is at most this (V): its estimate may lag (a degrading joint), so a large correction is not trusted.
   */
  maxPeerCorrectionV: number;
  /** Two readings are consecutive when at most this far apart (ms). */
  maxGapMs: number;
  /** Steps a leg must have seen before its peers' pulls are trusted. */
  warmupSteps: number;
  /** Reference peers needed for an estimate. */
  minReferencePeers: number;
  /**
   * The DT's first this many legs (in the order first seen) are its reference panel: the peers whose pulls
   * each leg learns and whose voltages make its reference. Memory is legs × panel per DT instead of legs²;
   * a third of the panel shares a single-phase leg's phase, plenty for a median of the quiet ones.
   */
  referencePanel: number;
  /** Each new step of a leg weighs the pulls it learned so far by this factor (forgetting, e.g. re-wiring). */
  slopeDecay: number;
  /** Estimates outside (0, this] milliohm are discarded as implausible (meter glitch, wrong leg order). */
  maxPlausibleMohm: number;
}

export const DEFAULT_STEP_CONFIG: StepConfig = {
  minStepA: 2,
  minLearnStepA: 2,
  plateauA: 0.5,
  plateauReadings: 4,
  maxQuietA: 0.5,
  maxPeerCorrectionV: 0.3,
  maxGapMs: 15 * 60_000,
  warmupSteps: 10,
  minReferencePeers: 2,
  referencePanel: 64,
  slopeDecay: 0.995,
  maxPlausibleMohm: 10_000,
};

/** One accepted estimate: leg (an index, see legOf), the step's time, impedance in milliohm, and its weight. */
export interface StepEstimate {
  leg: number;
  ts: number;
  mohm: number;
  /**
   * Inverse variance, up to a constant: the estimate's noise is the voltage noise of the two plateau means
   * (∝ 1/n_before + 1/n_after) divided by the current step, so weight = ΔI² / (1/n_before + 1/n_after).
   */
  weight: number;
  /** Receive time of the reading after the step. */
  receivedAt: number;
}

const VALUES_PER_LEG = 2; // voltage, signed current
const V = 0;
const I = 1;

/**
 * One timestamp's readings of the DT's legs, NaN where a leg has none: voltage and signed current per leg
 * in single precision (a meter reports 0.1 V and 0.01 A; the groups of the last half hour or so of every DT
 * are the stage's second largest state), and each reading's receive time as milliseconds after the
 * timestamp (exact in 32 bits for receive times within ±24 days of it; any other, in `exact`).
 */
interface Group {
  vi: Float32Array;
  receivedAfter: Int32Array;
  exact?: Map<number, number>;
}
/** receivedAfter of a receive time held in the group's `exact` map. */
const EXACT = -(2 ** 31);
/** Weight of each new estimate in a leg's running impedance (used to correct it when it is a reference). */
const RUNNING_ALPHA = 0.05;
/** Estimates a leg needs before its running impedance is used. */
const RUNNING_MIN_ESTIMATES = 5;

export class LegSteps {
  /**
   * Meter id → its ordinal m here, and `meterLegIndex[3m + leg − 1]` → the index of its leg 1..3 (−1 for a
   * leg not seen): found without building a key string per reading, and a small integer a meter rather than a
   * three-element typed array (~170 bytes of V8 heap each, 17 MiB for 100,000 meters). A leg number outside
   * 1..3 (not from the bridge, which refuses them) is found by `${m}\u0000${leg}` instead.
   */
  private readonly meterOrdinals = new Map<string, number>();
  private meterLegIndex = new Int32Array(0);
  private readonly oddLegs = new Map<string, number>();
  /** Meter id per ordinal, and per leg index its meter's ordinal and its leg number (no string a leg). */
  private readonly meterIds: string[] = [];
  private readonly legMeters: number[] = [];
  private readonly legNumbers: number[] = [];
  private capacity = 0;
  /** Per timestamp: the legs' readings. */
  private readonly groups = new Map<number, Group>();
  /** Timestamps of `groups`, ascending. */
  private readonly times: number[] = [];
  /** Every group at or before this time is closed: no reading for it is taken any more. */
  private closedUpTo = Number.NEGATIVE_INFINITY;
  /** Steps up to this time have been evaluated. */
  private evaluatedUpTo = Number.NEGATIVE_INFINITY;
  /**
   * Row j, column k (a panel peer, `stride` columns a row): k's pull on j, Σ ΔV_k·ΔI_j over j's steps with k
   * quiet, decayed. Single precision: it only sorts peers into phases, and the matrix is a DT's largest
   * state (legs × panel).
   */
  private pull = new Float32Array(0);
  /** Columns a matrix row has: the panel, or the capacity while that is smaller. */
  private stride = 0;
  private stepsSeen = new Int32Array(0);
  /** Running impedance estimate per leg, ohm (NaN until RUNNING_MIN_ESTIMATES), and the estimate count. */
  private running = new Float64Array(0);
  private estimates = new Int32Array(0);
  private pendingSum = new Float64Array(0);
  // Scratch, reused.
  private readonly quiet: number[] = [];
  private readonly reference: number[] = [];

  constructor(private readonly config: StepConfig = DEFAULT_STEP_CONFIG) {}

  /**
   * Adds a reading of one leg. Returns 'duplicate' for a leg and time already held (a re-delivery) and
   * 'closed' for a time already closed (too late to take part; the caller counts it).
   */
  add(
    meterId: string,
    legNumber: number,
    ts: number,
    v: number,
    signedI: number,
    receivedAt: number,
  ): 'added' | 'duplicate' | 'closed' {
    if (ts <= this.closedUpTo) return 'closed';
    const leg = this.indexOf(meterId, legNumber);
    let group = this.groups.get(ts);
    if (group === undefined) {
      group = this.newGroup();
      this.groups.set(ts, group);
      insertSorted(this.times, ts);
    } else if (group.receivedAfter.length < this.capacity) {
      group = {
        vi: widen(group.vi, this.capacity * VALUES_PER_LEG, Number.NaN),
        receivedAfter: widen(group.receivedAfter, this.capacity, 0),
        exact: group.exact,
      };
      this.groups.set(ts, group);
    }
    const at = leg * VALUES_PER_LEG;
    if (!Number.isNaN(group.vi[at + V]!)) return 'duplicate';
    group.vi[at + V] = v;
    group.vi[at + I] = signedI;
    const after = receivedAt - ts;
    if ((after | 0) === after && after !== EXACT) group.receivedAfter[leg] = after;
    else {
      group.receivedAfter[leg] = EXACT;
      (group.exact ??= new Map()).set(leg, receivedAt);
    }
    return 'added';
  }

  /**
   * Closes every group up to `upTo` and evaluates each step whose after-plateau can no longer grow (the
   * plateauReadings − 1 groups after it are closed), appending accepted estimates to `out`. Groups no later
   * step can use are dropped.
   */
  close(upTo: number, out: StepEstimate[]): void {
    if (upTo <= this.closedUpTo) return;
    this.closedUpTo = upTo;
    const lastClosed = upperBound(this.times, upTo) - 1;
    const lastStep = lastClosed - (this.config.plateauReadings - 1);
    for (let e = Math.max(1, upperBound(this.times, this.evaluatedUpTo)); e <= lastStep; e++) {
      this.evaluate(e, out);
      this.evaluatedUpTo = this.times[e]!;
    }
    // A later step's before-plateau reaches back plateauReadings groups from the first unevaluated one.
    const keepFrom = Math.max(0, lastStep + 1 - this.config.plateauReadings);
    if (keepFrom > 0) {
      for (let k = 0; k < keepFrom; k++) this.groups.delete(this.times[k]!);
      this.times.splice(0, keepFrom);
    }
  }

  /** Groups held, for tests and memory accounting. */
  get heldTimes(): number {
    return this.times.length;
  }

  /** Evaluates the steps between the groups at positions e − 1 and e, for every leg. */
  private evaluate(e: number, out: StepEstimate[]): void {
    const t0 = this.times[e - 1]!;
    const t1 = this.times[e]!;
    if (t1 - t0 > this.config.maxGapMs) return;
    const g0 = this.groups.get(t0)!;
    const g1 = this.groups.get(t1)!;
    const n = this.legMeters.length;
    const { quiet } = this;
    quiet.length = 0;
    // Quiet panel peers: the ones a step teaches about.
    const peers = this.peers();
    for (let k = 0; k < peers; k++) {
      const at = k * VALUES_PER_LEG;
      const dI = (g1.vi[at + I] ?? Number.NaN) - (g0.vi[at + I] ?? Number.NaN);
      if (Math.abs(dI) <= this.config.maxQuietA) quiet.push(k);
    }
    for (let j = 0; j < n; j++) {
      const at = j * VALUES_PER_LEG;
      const step = (g1.vi[at + I] ?? Number.NaN) - (g0.vi[at + I] ?? Number.NaN);
      if (!(Math.abs(step) >= this.config.minStepA)) continue;
      if (Math.abs(step) >= this.config.minLearnStepA) this.learn(j, step, g0, g1);
      if (this.stepsSeen[j]! < this.config.warmupSteps) continue;
      const estimate = this.estimate(j, e);
      if (estimate !== null) out.push({ ...estimate, leg: j, ts: t1, receivedAt: receivedAt(g1, t1, j) });
    }
  }

  /** Updates the pulls on leg j with the quiet peers' voltage changes over its step. */
  private learn(j: number, step: number, g0: Group, g1: Group): void {
    const row = j * this.stride;
    const decay = this.config.slopeDecay;
    const peers = this.peers();
    for (let k = 0; k < peers; k++) this.pull[row + k]! *= decay;
    for (const k of this.quiet) {
      const at = k * VALUES_PER_LEG;
      this.pull[row + k]! += (g1.vi[at + V]! - g0.vi[at + V]!) * step;
    }
    this.stepsSeen[j]!++;
  }

  /**
   * The estimate of leg j's step at position e: plateau means of voltage and current on either side, and the
   * median change of its reference peers' terminal voltage (their voltage plus their own drop) over the
   * same readings.
   */
  private estimate(j: number, e: number): { mohm: number; weight: number } | null {
    const before = this.plateau(j, e - 1, -1);
    const after = this.plateau(j, e, +1);
    const own = this.change(j, before, after);
    const row = j * this.stride;
    const peers = this.peers();
    let strongest = 0;
    for (let k = 0; k < peers; k++) if (k !== j) strongest = Math.min(strongest, this.pull[row + k]!);
    const reference = this.reference;
    reference.length = 0;
    for (let k = 0; k < peers; k++) {
      if (k === j) continue;
      // With no measurable pull on any peer (strongest ≈ 0) every peer is an equally good reference.
      if (strongest < 0 && !(this.pull[row + k]! <= strongest / 2)) continue;
      const peer = this.change(k, before, after);
      if (Number.isNaN(peer.dV)) continue;
      const z = this.running[k]!;
      if (Number.isNaN(z)) {
        if (Math.abs(peer.dI) <= this.config.maxQuietA) reference.push(peer.dV);
      } else if (Math.abs(z * peer.dI) <= this.config.maxPeerCorrectionV)
        reference.push(peer.dV + z * peer.dI);
    }
    if (reference.length < this.config.minReferencePeers) return null;
    const terminal = median(reference);
    const ohm = -(own.dV - terminal) / own.dI;
    const mohm = ohm * 1000;
    if (!(mohm > 0 && mohm <= this.config.maxPlausibleMohm)) return null;
    this.updateRunning(j, ohm);
    return { mohm, weight: (own.dI * own.dI) / (1 / before.length + 1 / after.length) };
  }

  /**
   * Positions of the readings of leg j averaged on one side of a step: from `from` going in `direction`, while
   * the leg has a reading, readings are at most maxGapMs apart and its current stays within plateauA.
   */
  private plateau(j: number, from: number, direction: 1 | -1): number[] {
    const at = j * VALUES_PER_LEG;
    const level = this.groups.get(this.times[from]!)!.vi[at + I]!;
    const positions = [from];
    for (let p = from + direction; positions.length < this.config.plateauReadings; p += direction) {
      const ts = this.times[p];
      if (ts === undefined || Math.abs(ts - this.times[p - direction]!) > this.config.maxGapMs) break;
      const current = this.groups.get(ts)!.vi[at + I];
      if (current === undefined || !(Math.abs(current - level) <= this.config.plateauA)) break;
      positions.push(p);
    }
    return positions;
  }

  /** Change of leg k's mean voltage and current from the `before` readings to the `after` readings (NaN if any is missing). */
  private change(k: number, before: number[], after: number[]): { dV: number; dI: number } {
    const b = this.mean(k, before);
    const a = this.mean(k, after);
    return { dV: a.v - b.v, dI: a.i - b.i };
  }

  private mean(k: number, positions: number[]): { v: number; i: number } {
    const at = k * VALUES_PER_LEG;
    let v = 0;
    let i = 0;
    for (const p of positions) {
      const group = this.groups.get(this.times[p]!)!;
      v += group.vi[at + V] ?? Number.NaN;
      i += group.vi[at + I] ?? Number.NaN;
    }
    return { v: v / positions.length, i: i / positions.length };
  }

  /** Robust running impedance: each estimate moves it by at most 20 %, so one bad step cannot throw it. */
  private updateRunning(j: number, ohm: number): void {
    const count = ++this.estimates[j]!;
    const z = this.running[j]!;
    if (Number.isNaN(z)) {
      // Until there are enough, keep a plain mean in the slot, published once RUNNING_MIN_ESTIMATES are in.
      this.pendingSum[j]! += ohm;
      if (count >= RUNNING_MIN_ESTIMATES) this.running[j] = this.pendingSum[j]! / count;
      return;
    }
    const delta = Math.max(-0.2 * z, Math.min(0.2 * z, ohm - z));
    this.running[j] = z + RUNNING_ALPHA * delta;
  }

  /** Legs seen so far (their indices are 0 .. legCount − 1). */
  get legCount(): number {
    return this.legMeters.length;
  }

  /** The meter id and leg number of a leg index. */
  legOf(leg: number): [meterId: string, legNumber: number] {
    return [this.meterIds[this.legMeters[leg]!]!, this.legNumbers[leg]!];
  }

  private indexOf(meterId: string, legNumber: number): number {
    const leg = this.legMeters.length;
    let meter = this.meterOrdinals.get(meterId);
    if (meter === undefined) {
      meter = this.meterIds.length;
      this.meterOrdinals.set(meterId, meter);
      this.meterIds.push(meterId);
      if (3 * (meter + 1) > this.meterLegIndex.length)
        this.meterLegIndex = widen(this.meterLegIndex, 3 * Math.max(16, Math.ceil(1.5 * (meter + 1))), -1);
    }
    if (legNumber >= 1 && legNumber <= 3) {
      const at = 3 * meter + legNumber - 1;
      const known = this.meterLegIndex[at]!;
      if (known >= 0) return known;
      this.meterLegIndex[at] = leg;
    } else {
      const key = `${meter}\u0000${legNumber}`;
      const known = this.oddLegs.get(key);
      if (known !== undefined) return known;
      this.oddLegs.set(key, leg);
    }
    this.legMeters.push(meter);
    this.legNumbers.push(legNumber);
    // Growth by an eighth (at least 8 legs), not by half: the pull matrix is legs × panel per DT, the
    // largest state a processor holds, and half again would be as much in slack. A resize copies them once
    // more, which happens only while a DT's legs are first seen.
    if (leg >= this.capacity) this.reserve(this.capacity + Math.max(8, Math.ceil(this.capacity / 8)));
    return leg;
  }

  /** Panel peers seen so far. */
  private peers(): number {
    return Math.min(this.legMeters.length, this.config.referencePanel);
  }

  private reserve(capacity: number): void {
    const old = this.capacity;
    const oldStride = this.stride;
    const stride = Math.min(capacity, this.config.referencePanel);
    const resize = (matrix: Float32Array) => {
      const next = new Float32Array(capacity * stride);
      if (stride === oldStride) next.set(matrix);
      else
        for (let j = 0; j < old; j++)
          next.set(matrix.subarray(j * oldStride, (j + 1) * oldStride), j * stride);
      return next;
    };
    this.pull = resize(this.pull);
    this.stepsSeen = widen(this.stepsSeen, capacity, 0);
    this.estimates = widen(this.estimates, capacity, 0);
    this.running = widen(this.running, capacity, Number.NaN);
    this.pendingSum = widen(this.pendingSum, capacity, 0);
    this.capacity = capacity;
    this.stride = stride;
  }

  private newGroup(): Group {
    return {
      vi: new Float32Array(this.capacity * VALUES_PER_LEG).fill(Number.NaN),
      receivedAfter: new Int32Array(this.capacity),
    };
  }
}

/** A copy of `values` widened to `length`, `fill` in the new places (NaN: no reading; −1: no leg). */
export function widen<T extends Int32Array | Float32Array | Float64Array>(
  values: T,
  length: number,
  fill: number,
): T {
  const next = new (values.constructor as new (length: number) => T)(length);
  next.set(values);
  next.fill(fill, values.length);
  return next;
}

/** The receive time of leg `leg`'s reading in the group of time `ts`. */
function receivedAt(group: Group, ts: number, leg: number): number {
  const after = group.receivedAfter[leg]!;
  return after === EXACT ? group.exact!.get(leg)! : ts + after;
}

function insertSorted(times: number[], ts: number): void {
  if (times.length === 0 || times[times.length - 1]! < ts) times.push(ts);
  else times.splice(lowerBound(times, ts), 0, ts);
}

/** First position whose time is > ts. */
function upperBound(times: number[], ts: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First position whose time is ≥ ts. */
function lowerBound(times: number[], ts: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Weighted median: the value at which the weights of the values below and above are equal (the lower one
 * of the two middle values on a tie). `values` and `weights` are parallel; neither is modified.
 */
export function weightedMedian(values: ArrayLike<number>, weights: ArrayLike<number>): number {
  const order = Array.from({ length: values.length }, (_, k) => k).sort((a, b) => values[a]! - values[b]!);
  let total = 0;
  for (let k = 0; k < weights.length; k++) total += weights[k]!;
  let below = 0;
  for (const k of order) {
    below += weights[k]!;
    if (below >= total / 2) return values[k]!;
  }
  return Number.NaN;
}

/**
 * Standard error of a weighted median, from the data's own spread: 1.4826 × the weighted median absolute
 * deviation estimates the noise σ robustly, the median's efficiency costs a factor √(π/2), and the effective
 * number of estimates is (Σw)² / Σw².
 */
/** Effective number of estimates behind a weighted statistic: (Σw)² / Σw² (n for equal weights, 1 when one dominates). */
export function effectiveCount(weights: ArrayLike<number>): number {
  let sum = 0;
  let squares = 0;
  for (let k = 0; k < weights.length; k++) {
    sum += weights[k]!;
    squares += weights[k]! * weights[k]!;
  }
  return squares > 0 ? (sum * sum) / squares : 0;
}

export function weightedMedianStdErr(
  values: ArrayLike<number>,
  weights: ArrayLike<number>,
  centre: number,
): number {
  const deviations = Array.from(values, (value) => Math.abs(value - centre));
  const effective = effectiveCount(weights);
  return (1.4826 * weightedMedian(deviations, weights) * Math.sqrt(Math.PI / 2)) / Math.sqrt(effective);
}

/**
 * Standard error of a weighted median of estimates whose weights are ΔI² / (1/n_before + 1/n_after), when
 * each voltage reading has noise `voltageNoiseV`: each estimate's variance is σ_V² / weight (Ω²), so the
 * weighted mean's is σ_V² / Σw, and the median's π/2 times that. In milliohm.
 */
export function noiseFloorStdErr(weights: ArrayLike<number>, voltageNoiseV: number): number {
  let sum = 0;
  for (let k = 0; k < weights.length; k++) sum += weights[k]!;
  return sum > 0 ? 1000 * voltageNoiseV * Math.sqrt(Math.PI / 2 / sum) : Number.POSITIVE_INFINITY;
}

/** Median of the values (reorders the array). */
export function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}
