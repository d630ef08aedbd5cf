import { DAY_MS } from '../../core/time.js';
import type {
  ImpedanceDaily,
  ImpedanceFlag,
  ImpedanceFlagKind,
  MeterReading,
} from '../../schemas/types.gen.js';
import {
  DEFAULT_STEP_CONFIG,
  LegSteps,
  median,
  weightedMedian,
  widen,
  weightedMedianStdErr,
  noiseFloorStdErr,
  effectiveCount,
  type StepConfig,
  type StepEstimate,
} from './impedance-steps.js';

/**
 * The impedance processor: per meter leg and UTC day, the median of the service-drop impedance estimates
 * (impedance-steps.ts explains the estimator) and their count, and high-impedance flags. Pure: no clock, no
 * I/O; one state per log partition, whose DTs' readings it sees (readings are keyed by DT).
 *
 * Event time, as in the envelope processor: stream time is the newest reading time seen. A timestamp's
 * readings are closed once stream time is `allowedLatenessMs` past it, and a step is evaluated once the
 * readings after it are closed too. A reading for a closed time is counted as too late for impedance (the
 * reading itself is stored by the readings sink; a day's median rests on many steps, and one meter's
 * backfill after an outage would have no peers' readings to compare with anyway). A day is final once every
 * step in it has been evaluated; while open, its medians are emitted on each punctuation after a change.
 *
 * Versions: 2 × (the newest receive time among the day's estimates + their number), plus 1 once final, as
 * for envelopes: every estimate added raises it, whatever order the readings arrived in, so the warehouse
 * keeps the newest row whatever order rows arrive in. A processor restored after a restart
 * relearns each leg's peers from the replayed readings, so the medians it writes for the day in progress can
 * differ slightly (a few estimates fewer) from an uninterrupted run's; final days are unaffected.
 *
 * Flags, when a day becomes final, per leg with at least `minFlagEvents` effective steps that day, judged by
 * the lower confidence bound of its median (median − flagConfidenceZ × standard error), so a flag is raised
 * only when the evidence says so, but does not wait for the evidence a published median needs (all
 * thresholds in ImpedanceFlagConfig):
 * - `absolute`: the bound is at or above `absoluteMohm`;
 * - `own_rise`: it is at least `riseFactor` × the median of the leg's own previous published daily medians
 *   (at least `minHistoryDays` of the last `historyDays`), a connection that is getting worse;
 * - `peer_rise`: it is at least `peerFactor` × the median of the same day's published medians of the DT's
 *   other legs (at least `minPeers` of them), a connection much worse than its neighbours'.
 */
export interface ImpedanceFlagConfig {
  /** A leg-day is judged only with at least this many effective steps. */
  minFlagEvents: number;
  /** ... and by its median less this many standard errors (a one-sided bound: 2 ≈ 97.7 %). */
  flagConfidenceZ: number;
  absoluteMohm: number;
  riseFactor: number;
  historyDays: number;
  minHistoryDays: number;
  peerFactor: number;
  minPeers: number;
}

/**
 * When a leg-day's median is published: a median of a handful of steps can be far off (a household may
 * switch nothing big all day), and a wrong value is worse than none for the desk reading it. Leg-days below
 * either bar get no row; the processor counts them (output `insufficient`).
 */
export interface ImpedanceEvidenceConfig {
  /**
   * Steps the day needs, counted as the effective number (Σw)² / Σw² of the weighted estimates, so a day
   * carried by one large step (an EV starting) does not pass on that step alone.
   */
  minEffectiveEvents: number;
  /** Largest standard error of the median, relative to it. */
  maxRelativeStdErr: number;
  /**
   * Noise of one voltage reading (V): meters report to 0.1 V, and their noise is of that order. It sets a
   * floor under the standard error: a day's estimates can agree with each other by chance more closely than
   * their noise allows (the spread of a few dozen values is itself uncertain).
   */
  voltageNoiseV: number;
}

export interface ImpedanceConfig {
  allowedLatenessMs: number;
  evidence: ImpedanceEvidenceConfig;
  steps: StepConfig;
  flags: ImpedanceFlagConfig;
}

export const DEFAULT_IMPEDANCE_FLAGS: ImpedanceFlagConfig = {
  minFlagEvents: 3,
  flagConfidenceZ: 2,
  absoluteMohm: 800,
  riseFactor: 1.5,
  historyDays: 14,
  minHistoryDays: 3,
  peerFactor: 4,
  minPeers: 5,
};

export const DEFAULT_IMPEDANCE_CONFIG: ImpedanceConfig = {
  allowedLatenessMs: 5 * 60_000,
  evidence: { minEffectiveEvents: 12, maxRelativeStdErr: 0.02, voltageNoiseV: 0.1 },
  steps: DEFAULT_STEP_CONFIG,
  flags: DEFAULT_IMPEDANCE_FLAGS,
};

export type ImpedanceInput = { type: 'reading'; reading: MeterReading } | { type: 'emit' };

/**
 * A leg's impedance for one UTC day: the ImpedanceDaily record (schemas/impedance-daily.avsc documents each
 * field) less the CIS/GIS identifiers, which the stage adds from the topology on output.
 */
export type LegDayImpedance = Omit<
  ImpedanceDaily,
  'service_point_id' | 'meter_number' | 'electronic_serial_number' | 'premise_id'
>;

export type ImpedanceOutput =
  | { type: 'leg-day'; row: LegDayImpedance }
  | { type: 'flag'; flag: ImpedanceFlag }
  /** A leg-day that became final without enough evidence for a median (see ImpedanceEvidenceConfig). */
  | { type: 'insufficient'; dt_id: string; meter_id: string; leg: number; day: number; event_count: number }
  | { type: 'too-late'; reading: MeterReading };

/**
 * One open UTC day's estimates of a DT's legs, in columns: an estimate is 20 bytes (its value and weight as
 * the doubles they were computed in, and the position of its leg's previous estimate), where a leg-day of
 * its own (an object, a Map entry and two growing arrays) cost ~400 bytes for the dozen estimates a leg
 * typically has a day. A leg's estimates are gathered in the order they were added, so its median and sums
 * are computed exactly as over its own arrays.
 */
class DayEstimates {
  private values = new Float64Array(64);
  private weights = new Float64Array(64);
  /** Per estimate: the position of the previous estimate of its leg (−1: its first of the day). */
  private previous = new Int32Array(64);
  private size = 0;
  /** Per leg index: its newest estimate's position (−1: none), its count, its newest receive time. */
  private newest = new Int32Array(0);
  private counts = new Int32Array(0);
  private received = new Float64Array(0);
  /** Legs with estimates, in the order of their first (a day is made final in that order). */
  readonly legs: number[] = [];

  get estimates(): number {
    return this.size;
  }

  add(leg: number, mohm: number, weight: number, receivedAt: number): void {
    if (leg >= this.newest.length) {
      const legs = Math.max(leg + 1, Math.ceil(1.25 * this.newest.length));
      this.newest = widen(this.newest, legs, -1);
      this.counts = widen(this.counts, legs, 0);
      this.received = widen(this.received, legs, 0);
    }
    if (this.size === this.values.length) {
      const capacity = Math.ceil(1.5 * this.size);
      this.values = widen(this.values, capacity, 0);
      this.weights = widen(this.weights, capacity, 0);
      this.previous = widen(this.previous, capacity, 0);
    }
    const at = this.size++;
    this.values[at] = mohm;
    this.weights[at] = weight;
    this.previous[at] = this.newest[leg]!;
    if (this.newest[leg] === -1) this.legs.push(leg);
    this.newest[leg] = at;
    this.counts[leg]!++;
    this.received[leg] = Math.max(this.received[leg]!, receivedAt);
  }

  has(leg: number): boolean {
    return leg < this.counts.length && this.counts[leg]! > 0;
  }

  receivedAt(leg: number): number {
    return this.received[leg]!;
  }

  /** The leg's estimates and their weights in the order added (views of scratch space, valid until the next call). */
  of(leg: number): { values: Float64Array; weights: Float64Array } {
    const n = this.counts[leg]!;
    if (scratchValues.length < n) {
      scratchValues = new Float64Array(Math.max(n, 2 * scratchValues.length));
      scratchWeights = new Float64Array(scratchValues.length);
    }
    for (let at = this.newest[leg]!, k = n - 1; at >= 0; at = this.previous[at]!, k--) {
      scratchValues[k] = this.values[at]!;
      scratchWeights[k] = this.weights[at]!;
    }
    return { values: scratchValues.subarray(0, n), weights: scratchWeights.subarray(0, n) };
  }
}

let scratchValues = new Float64Array(256);
let scratchWeights = new Float64Array(256);

interface DtImpedance {
  steps: LegSteps;
  /** Day → that day's estimates. */
  days: Map<number, DayEstimates>;
  /** Leg index → final daily medians, oldest first, at most historyDays. */
  history: Map<number, number[]>;
}

export interface ImpedanceState {
  streamTime: number;
  /** Days before this (UTC midnight) have been made final. */
  finalBefore: number;
  dts: Map<string, DtImpedance>;
  /** Leg-days changed since the last emit: `${dt_id}\u0000${day}\u0000${leg index}`. */
  dirty: Set<string>;
}

export function initialImpedanceState(): ImpedanceState {
  return {
    streamTime: Number.NEGATIVE_INFINITY,
    finalBefore: Number.NEGATIVE_INFINITY,
    dts: new Map(),
    dirty: new Set(),
  };
}

/** The leg-days of open days held, and their estimates (memory accounting: bench/processor-memory.ts). */
export function impedanceHeld(state: ImpedanceState): { legDays: number; estimates: number } {
  let legDays = 0;
  let estimates = 0;
  for (const dt of state.dts.values())
    for (const day of dt.days.values()) {
      legDays += day.legs.length;
      estimates += day.estimates;
    }
  return { legDays, estimates };
}

/** Applies one input; the state is updated in place (see stepEnvelope). */
export function stepImpedance(
  state: ImpedanceState,
  input: ImpedanceInput,
  config: ImpedanceConfig = DEFAULT_IMPEDANCE_CONFIG,
): { state: ImpedanceState; outputs: ImpedanceOutput[] } {
  const outputs: ImpedanceOutput[] = [];
  if (input.type === 'reading') applyImpedanceReading(state, input.reading, config, outputs);
  else emitDirty(state, config, outputs);
  return { state, outputs };
}

const estimates: StepEstimate[] = [];

/** stepImpedance of a `reading` input, its outputs pushed to `outputs` (the hot path: no input object). */
export function applyImpedanceReading(
  state: ImpedanceState,
  reading: MeterReading,
  config: ImpedanceConfig,
  outputs: ImpedanceOutput[],
): void {
  const dt = dtState(state, reading.dt_id, config);
  const sign = reading.p_kw < 0 ? -1 : 1;
  let closed = false;
  for (const leg of reading.legs)
    closed =
      dt.steps.add(reading.meter_id, leg.leg, reading.ts, leg.v, sign * leg.i, reading.received_at) ===
        'closed' || closed;
  if (closed) outputs.push({ type: 'too-late', reading });
  if (reading.ts > state.streamTime) {
    state.streamTime = reading.ts;
    advance(state, config, outputs);
  }
}

function dtState(state: ImpedanceState, dtId: string, config: ImpedanceConfig): DtImpedance {
  let dt = state.dts.get(dtId);
  if (!dt) {
    dt = { steps: new LegSteps(config.steps), days: new Map(), history: new Map() };
    state.dts.set(dtId, dt);
  }
  return dt;
}

function record(state: ImpedanceState, dtId: string, dt: DtImpedance, found: StepEstimate[]): void {
  for (const e of found) {
    const day = Math.floor(e.ts / DAY_MS) * DAY_MS;
    let estimates = dt.days.get(day);
    if (!estimates) dt.days.set(day, (estimates = new DayEstimates()));
    estimates.add(e.leg, e.mohm, e.weight, e.receivedAt);
    state.dirty.add(`${dtId}\u0000${day}\u0000${e.leg}`);
  }
}

/** Evaluates what stream time has closed, releases what it has passed, and makes finished days final. */
function advance(state: ImpedanceState, config: ImpedanceConfig, outputs: ImpedanceOutput[]): void {
  const closeUpTo = state.streamTime - config.allowedLatenessMs;
  for (const [dtId, dt] of state.dts) {
    estimates.length = 0;
    dt.steps.close(closeUpTo, estimates);
    record(state, dtId, dt, estimates);
  }
  // A step is evaluated once the plateau after it is closed: at most plateauReadings gaps later.
  const evaluated = closeUpTo - config.steps.plateauReadings * config.steps.maxGapMs;
  const finalBefore = Math.floor(evaluated / DAY_MS) * DAY_MS;
  if (finalBefore <= state.finalBefore) return;
  state.finalBefore = finalBefore;
  for (const [dtId, dt] of state.dts) {
    for (const day of [...dt.days.keys()].sort((a, b) => a - b)) {
      if (day >= finalBefore) continue;
      finishDay(state, dtId, dt, day, config, outputs);
    }
  }
}

function finishDay(
  state: ImpedanceState,
  dtId: string,
  dt: DtImpedance,
  day: number,
  config: ImpedanceConfig,
  outputs: ImpedanceOutput[],
): void {
  const flags = config.flags;
  const estimates = dt.days.get(day)!;
  dt.days.delete(day);
  const rows = new Map<number, LegDayImpedance>();
  for (const leg of estimates.legs) {
    state.dirty.delete(`${dtId}\u0000${day}\u0000${leg}`);
    const row = legDayRow(dtId, dt, day, leg, estimates, true, config.evidence);
    rows.set(leg, row);
    if (sufficient(row, config.evidence)) outputs.push({ type: 'leg-day', row });
    else {
      const { meter_id, leg: legNumber, event_count } = row;
      outputs.push({ type: 'insufficient', dt_id: dtId, meter_id, leg: legNumber, day, event_count });
    }
  }
  const published = [...rows].filter(([, row]) => sufficient(row, config.evidence));
  for (const [leg, row] of rows) {
    // A flag needs confidence, not a published median: the day's value is above the bar even at its lower
    // bound (median − flagConfidenceZ standard errors). A joint heating up must not wait for a quiet day.
    if (row.effective_events < flags.minFlagEvents) continue;
    const low = row.median_mohm - flags.flagConfidenceZ * row.stderr_mohm;
    const flag = (kind: ImpedanceFlagKind, reference: number) =>
      outputs.push({
        type: 'flag',
        flag: {
          dt_id: dtId,
          meter_id: row.meter_id,
          leg: row.leg,
          day,
          kind,
          median_mohm: row.median_mohm,
          reference_mohm: reference,
        },
      });
    if (low >= flags.absoluteMohm) flag('absolute', flags.absoluteMohm);
    const history = dt.history.get(leg) ?? [];
    if (history.length >= flags.minHistoryDays) {
      const baseline = median([...history]);
      if (low >= flags.riseFactor * baseline) flag('own_rise', baseline);
    }
    const peers = published.filter(([other]) => other !== leg).map(([, r]) => r.median_mohm);
    if (peers.length >= flags.minPeers) {
      const typical = median(peers);
      if (low >= flags.peerFactor * typical) flag('peer_rise', typical);
    }
    // Only published medians become history: the baseline must be sound.
    if (sufficient(row, config.evidence)) {
      history.push(row.median_mohm);
      if (history.length > flags.historyDays) history.shift();
      dt.history.set(leg, history);
    }
  }
}

function sufficient(row: LegDayImpedance, evidence: ImpedanceEvidenceConfig): boolean {
  return (
    row.effective_events >= evidence.minEffectiveEvents &&
    row.stderr_mohm <= evidence.maxRelativeStdErr * row.median_mohm
  );
}

function emitDirty(state: ImpedanceState, config: ImpedanceConfig, outputs: ImpedanceOutput[]): void {
  for (const key of state.dirty) {
    const [dtId, dayText, legText] = key.split('\u0000') as [string, string, string];
    const dt = state.dts.get(dtId)!;
    const day = Number(dayText);
    const leg = Number(legText);
    const estimates = dt.days.get(day);
    if (!estimates?.has(leg)) continue;
    const row = legDayRow(dtId, dt, day, leg, estimates, false, config.evidence);
    if (sufficient(row, config.evidence)) outputs.push({ type: 'leg-day', row });
  }
  state.dirty.clear();
}

function legDayRow(
  dtId: string,
  dt: DtImpedance,
  day: number,
  leg: number,
  estimates: DayEstimates,
  final: boolean,
  evidence: ImpedanceEvidenceConfig,
): LegDayImpedance {
  const [meterId, legNumber] = dt.steps.legOf(leg);
  const { values, weights } = estimates.of(leg);
  const receivedAt = estimates.receivedAt(leg);
  const centre = weightedMedian(values, weights);
  return {
    dt_id: dtId,
    meter_id: meterId,
    leg: legNumber,
    day,
    median_mohm: centre,
    stderr_mohm: Math.max(
      weightedMedianStdErr(values, weights, centre),
      noiseFloorStdErr(weights, evidence.voltageNoiseV),
    ),
    event_count: values.length,
    effective_events: effectiveCount(weights),
    received_at: receivedAt,
    version: 2 * (receivedAt + values.length) + (final ? 1 : 0),
    is_final: final,
  };
}
