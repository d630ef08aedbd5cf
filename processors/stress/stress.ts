import { SLOT_MS, SLOTS_PER_DAY } from '../../core/time.js';
import { transformerTimeZone } from '../../core/schedule.js';
import { ZoneOffsets } from '../../core/zone-offsets.js';
import type {
  AmbientSource,
  DataQuality,
  DtEnvelope,
  DtOperatingEnvelope,
  DtStress,
  TopologyTransformer,
  WeatherObservation,
} from '../../schemas/types.gen.js';
import {
  customerSensitivities,
  initialCustomerVoltages,
  learnCustomers,
  SENSITIVITY_FORGET,
  type CustomerSensitivity,
  type CustomerVoltages,
} from './customer-voltage.js';
import {
  OperatingEnvelopeSolver,
  allocateForecast,
  type ConfidenceQuantiles,
  type EnvelopeDt,
  type SlotForecast,
} from './operating-envelope.js';
import {
  ClassMeans,
  DEFAULT_SERIES_CONFIG,
  SeasonalSeries,
  StationHistory,
  classOf,
  type SeriesConfig,
} from './stress-history.js';
import { normalQuantile, t4Quantile } from './stress-math.js';
import {
  ModelCache,
  NORMAL_CYCLIC_LIMITS,
  constantsOf,
  type SlotKernel,
  type ThermalLimits,
} from './stress-thermal.js';
import { ThermalStates, type Paper, type ThermalModel } from '../thermal/thermal.js';

/**
 * The stress processor: per DT and 15-minute slot, the transformer's thermal state (top oil, hot spot, ageing,
 * loss of life) carried from slot to slot, the probabilities of thermal and voltage stress, and the dynamic
 * operating envelope of the next 24 hours. Pure: no clock, no I/O; (state, input) → (state, outputs), one
 * state per log partition (everything is keyed by DT id; weather is broadcast to every partition).
 *
 * Inputs (`StressInput`): DT nameplates from the topology, final DT envelopes, weather observations, and a
 * punctuation. Provisional envelopes (`is_final` false) are not used: the processor acts once per slot, on the
 * final envelope. A revision of a slot already processed, or an envelope older than the last processed slot,
 * is reported (`skipped`) and not applied: the thermal state has moved on (the envelope itself is stored).
 *
 * Per slot, from the envelope (`slotLoad`):
 * - apparent power. Net active power P is the envelope's `net_mean_kw`, scaled by meters connected / meters
 *   reporting when some did not report and the envelope has not imputed their load (missing meters assumed
 *   like the reporting ones); an envelope with imputed meters already includes them. A modelled slot (a DT
 *   without AMI: nameplate × load shape) drives the thermal state but teaches the history nothing, and its
 *   `thermal_exceeded` is the model's. The thermal model wants the RMS of the apparent power over the slot
 *   (losses go with K²), so the within-slot spread of the one-minute DT series is added as a variance
 *   W = ((max_kw − min_kw) / 3.472)² (3.472: the mean range of 15 normal samples over their sd), scaled by the
 *   same factor; reactive power Q is `q_mean_kvar` scaled alike, or |P|·tan φ at `powerFactor` when no meter
 *   reports it. S = √(P² + W + Q²), K = S / rated kVA. Per-phase imbalance is not seen (the envelope is a
 *   total): a DT loaded on one phase is hotter than this says.
 * - ambient: the mean of the DT's weather station's observations in the slot (`observed`); else its latest
 *   observation, if at most `carryAmbientMs` old (`carried`); else `defaultAmbientC` (`default`). A slot
 *   waits for its station's weather until an observation at or after its end has arrived, or the weather
 *   as a whole (the newest observation of any station) is `weatherWaitMs` past its end (its station is
 *   silent), or, when the weather feed itself stops, stream time (the newest envelope end, or a
 *   punctuation's watermark) is `weatherOutageMs` past it. Both waits go by event time, so a slot's ambient
 *   does not depend on when the weather topic happened to be read.
 * - the thermal state (IEC 60076-7, processors/thermal/thermal.ts) is stepped through the slot; on first sight of a
 *   DT (or after a gap longer than `maxGapSlots`) it starts in the steady state of the slot's K and ambient.
 *   Slots missing in a shorter gap are stepped at the forecast load of their comparable slots.
 * - observed exceedances: the peak hot spot, end top oil or K over the limits (`thermal_exceeded`); the
 *   lowest leg voltage below, or the highest above, the statutory band (`voltage_exceeded`).
 * - the history of comparable slots (stress-history.ts) learns the slot.
 * Then a forecast of the next `horizonSlots` slots (load, ambient, voltages; stress-history.ts) gives the
 * stress probabilities and the operating envelope (operating-envelope.ts). The probabilities in a slot's
 * `DtStress` row are those forecast for it before its data came (`forecast_lead_slots` ahead, normally 1),
 * so the rows verify the forecast: a reliability table is one query (`gridstream calibrate` does it on
 * simulated ground truth).
 */

export interface StressConfig {
  limits: ThermalLimits;
  /** Insulating paper of every DT (topology does not say): `normal` kraft, the conservative assumption. */
  paper: Paper;
  /** Statutory band around the DT's nominal voltage, percent below and above. */
  voltageBand: { lowPct: number; highPct: number };
  /** Confidence of the operating envelope (0.5 to 0.999). */
  confidence: number;
  /** Slots forecast after each slot: the operating envelope's horizon. */
  horizonSlots: number;
  /** Operating envelopes every this many slots (1: every slot; 0: none, only the stress rows). */
  envelopeEverySlots: number;
  /** How far past a slot's end the other stations' weather may be before a silent station's slot goes on. */
  weatherWaitMs: number;
  /**
   * How far past a slot's end stream time may be before the slot goes on without weather at all (the feed is
   * down, or there has never been one: then `weatherWaitMs` applies to stream time instead).
   */
  weatherOutageMs: number;
  carryAmbientMs: number;
  defaultAmbientC: number;
  /** Sd of an ambient forecast without any weather history, K. */
  defaultAmbientSdC: number;
  /** Sd of the thermal model's own error, K. */
  thermalModelSdK: number;
  /**
   * Load and voltage forecast errors as a unit-variance Student t with 4 degrees of freedom (true) rather
   * than normal: they are heavy-tailed (see stress-math.ts), and the calibration says so.
   */
  heavyTails: boolean;
  /** Power factor assumed when no meter reports reactive power. */
  powerFactor: number;
  /**
   * Prior of the DT's voltage sensitivity: per-unit resistance of DT and LV network on the DT's own base, so
   * s₀ = r·V_nominal / rated kVA volts per kW (0.05: a 100 kVA DT at 230 V drops 0.115 V per kW).
   */
  voltageSensitivityPriorPu: number;
  /** A gap of more slots than this restarts the thermal state. */
  maxGapSlots: number;
  /** Envelopes held per DT while its nameplate or weather is awaited; older ones are skipped. */
  maxPendingSlots: number;
  /**
   * IANA zone of the DTs whose topology row names none (GRIDSTREAM_TIMEZONE); undefined: the zone at their
   * coordinates. A DT's classes are its local quarter hours and day types (core/schedule.ts transformerTimeZone).
   */
  timeZone: string | undefined;
  history: SeriesConfig;
}

export const DEFAULT_STRESS_CONFIG: StressConfig = {
  limits: NORMAL_CYCLIC_LIMITS,
  paper: 'normal',
  voltageBand: { lowPct: 6, highPct: 10 },
  confidence: 0.95,
  horizonSlots: SLOTS_PER_DAY,
  envelopeEverySlots: 1,
  weatherWaitMs: SLOT_MS,
  weatherOutageMs: 2 * 3_600_000,
  carryAmbientMs: 6 * 3_600_000,
  defaultAmbientC: 25,
  defaultAmbientSdC: 5,
  thermalModelSdK: 1,
  heavyTails: true,
  powerFactor: 0.95,
  voltageSensitivityPriorPu: 0.05,
  maxGapSlots: SLOTS_PER_DAY,
  maxPendingSlots: 2 * SLOTS_PER_DAY,
  timeZone: undefined,
  history: DEFAULT_SERIES_CONFIG,
};

/** The customer-voltage band of a DT of nominal voltage `nominalV`, volts: what `voltage_exceeded` judges by. */
export function voltageBandV(
  nominalV: number,
  band: StressConfig['voltageBand'] = DEFAULT_STRESS_CONFIG.voltageBand,
): { vLow: number; vHigh: number } {
  return { vLow: nominalV * (1 - band.lowPct / 100), vHigh: nominalV * (1 + band.highPct / 100) };
}

/**
 * The output records, `DtStress` (one per DT slot) and `DtOperatingEnvelope` (one per DT, issue and coming
 * slot), are the Avro schemas' (schemas/dt-stress.avsc, dt-operating-envelope.avsc; the field docs are there):
 * they go on the log and into the warehouse as they are.
 */
export type { AmbientSource, DtOperatingEnvelope, DtStress };

export type StressInput =
  /** The DT's nameplate (rating, cooling, thermal constants, weather station, nominal voltage). */
  | { type: 'transformer'; transformer: TopologyTransformer }
  | { type: 'envelope'; envelope: DtEnvelope }
  | { type: 'weather'; observation: WeatherObservation }
  /** Punctuation: process slots held for weather; `watermark` (event time) advances stream time. */
  | { type: 'emit'; watermark?: number }
  /**
   * Resume a DT after a restart from its last row written (`row`, the warehouse's newest for the DT), given
   * before the envelopes that rebuild its history. Those envelopes, up to the row's slot, are learnt again
   * without outputs (their rows are written already); at the row's slot the thermal state (top oil, the two
   * hot-spot rises, loss of life) becomes the row's, so the slots after it come out as in an uninterrupted
   * run. An envelope after the row's slot arriving first resumes from the row at once.
   */
  | { type: 'resume'; row: DtStress };

export type StressOutput =
  | { type: 'stress'; row: DtStress }
  | { type: 'operating-envelope'; row: DtOperatingEnvelope }
  | { type: 'skipped'; dt_id: string; slot_start: number; reason: string };

/** Load of one slot as the thermal model sees it (see the module comment). */
export interface SlotLoad {
  /** Net active power, kW (coverage-scaled). */
  p: number;
  /** Reactive power, kvar. */
  q: number;
  /** Within-slot variance of the net power, kW². */
  w: number;
  /** RMS apparent power, kVA. */
  s: number;
}

/** The d2 constant of the range of 15 normal samples: E[max − min] = 3.472·σ. */
const RANGE_OVER_SD_15 = 3.472;

/**
 * Envelope fields that come with imputation (`ami-imputed` slots filled from feeder patterns, `modelled-only`
 * DTs given a nameplate profile): absent from envelopes written before it, hence optional here.
 */
type ImputedEnvelope = DtEnvelope & { imputed_meters?: number; profile_source?: string };

/** Whether the envelope's figures are a model (no meter reported): the thermal state follows it, nothing is learnt. */
export function isModelled(envelope: DtEnvelope): boolean {
  return (envelope as ImputedEnvelope).profile_source === 'modelled';
}

export function slotLoad(envelope: DtEnvelope, powerFactor: number): SlotLoad {
  const e = envelope as ImputedEnvelope;
  const reporting = e.meters_reporting;
  // An envelope with imputation already carries the missing meters' load; one without, only the reporting.
  const imputed =
    (e.imputed_meters ?? 0) > 0 || (e.profile_source !== undefined && e.profile_source !== 'measured');
  const f = !imputed && reporting > 0 && e.meters_connected > reporting ? e.meters_connected / reporting : 1;
  const p = e.net_mean_kw * f;
  const spread = Math.max(0, e.max_kw - e.min_kw) / RANGE_OVER_SD_15;
  const w = spread * spread * f;
  const q =
    e.q_mean_kvar !== null
      ? e.q_mean_kvar * f
      : Math.abs(p) * Math.tan(Math.acos(Math.min(1, Math.max(0.1, powerFactor))));
  return { p, q, w, s: Math.sqrt(p * p + w + q * q) };
}

interface Nameplate {
  ratedKva: number;
  nominalV: number;
  station: string | null;
  zone: ZoneOffsets;
  model: ThermalModel;
  kernel: SlotKernel;
}

interface DtState {
  id: string;
  /** The stored row to resume from (a 'resume' input), until its slot has been reached. */
  resume: DtStress | null;
  nameplate: Nameplate | null;
  thermal: ThermalStates;
  initialised: boolean;
  /** Start of the last processed slot (NaN: none). */
  lastSlot: number;
  /** Final envelopes waiting for the nameplate or the weather, in slot order. */
  pending: DtEnvelope[];
  load: SeasonalSeries | null;
  vMin: SeasonalSeries;
  vMax: SeasonalSeries;
  /** Class means of Q and W. */
  means: ClassMeans;
  lastLoad: SlotLoad | null;
  lastVMean: number;
  /** Voltage sensitivity regression: Σ(−ΔV·ΔP), ΣΔP² (exponentially forgotten). */
  sensXY: number;
  sensXX: number;
  /** Each customer's own voltage sensitivities (customer-voltage.ts). */
  customers: CustomerVoltages;
  /** The last forecast's probabilities, from slot `forecastFrom` (the last slot observed then). */
  forecastFrom: number;
  forecastHorizon: number;
  thermalProb: Float64Array;
  voltageProb: Float64Array;
  coverage: number;
  quality: DataQuality;
}

export interface StressState {
  /** Newest envelope slot end, or punctuation watermark, seen. */
  streamTime: number;
  /** Newest weather observation of any station (the weather's own event time). */
  weatherTime: number;
  dts: Map<string, DtState>;
  stations: Map<string, StationHistory>;
  /** Station id → DTs on it. */
  stationDts: Map<string, Set<string>>;
  models: ModelCache;
  solver: OperatingEnvelopeSolver | null;
  forecast: SlotForecast | null;
  scratch: ForecastScratch | null;
}

interface ForecastScratch {
  classes: Int16Array;
  counts: Float64Array;
  thermal: Float64Array;
  voltage: Float64Array;
}

export function initialStressState(): StressState {
  return {
    streamTime: Number.NEGATIVE_INFINITY,
    weatherTime: Number.NEGATIVE_INFINITY,
    dts: new Map(),
    stations: new Map(),
    stationDts: new Map(),
    models: new ModelCache(),
    solver: null,
    forecast: null,
    scratch: null,
  };
}

/**
 * Applies one input. The state is updated in place and returned (as the envelope processor does: a copy per
 * input would dominate the cost).
 */
export function stepStress(
  state: StressState,
  input: StressInput,
  config: StressConfig = DEFAULT_STRESS_CONFIG,
): { state: StressState; outputs: StressOutput[] } {
  const outputs: StressOutput[] = [];
  switch (input.type) {
    case 'transformer':
      applyTransformer(state, input.transformer, config);
      drain(state, dtState(state, input.transformer.dt_id, config), config, outputs);
      break;
    case 'envelope':
      applyEnvelope(state, input.envelope, config, outputs);
      break;
    case 'weather':
      applyWeather(state, input.observation, config, outputs);
      break;
    case 'resume':
      dtState(state, input.row.dt_id, config).resume = input.row;
      break;
    case 'emit':
      if (input.watermark !== undefined && input.watermark > state.streamTime)
        state.streamTime = input.watermark;
      for (const dt of state.dts.values()) if (dt.pending.length) drain(state, dt, config, outputs);
      break;
  }
  return { state, outputs };
}

function dtState(state: StressState, id: string, config: StressConfig): DtState {
  let dt = state.dts.get(id);
  if (!dt) {
    const h = config.history;
    dt = {
      id,
      resume: null,
      nameplate: null,
      thermal: new ThermalStates(1),
      initialised: false,
      lastSlot: Number.NaN,
      pending: [],
      load: null,
      vMin: new SeasonalSeries(h, 0.3, () => 2),
      vMax: new SeasonalSeries(h, 0.3, () => 2),
      means: new ClassMeans(2, h.minWeight),
      lastLoad: null,
      lastVMean: Number.NaN,
      sensXY: 0,
      sensXX: 0,
      customers: initialCustomerVoltages(),
      forecastFrom: Number.NaN,
      forecastHorizon: 0,
      thermalProb: new Float64Array(0),
      voltageProb: new Float64Array(0),
      coverage: 0,
      quality: 'modelled_only',
    };
    state.dts.set(id, dt);
  }
  return dt;
}

function applyTransformer(state: StressState, t: TopologyTransformer, config: StressConfig): void {
  const dt = dtState(state, t.dt_id, config);
  if (!(t.rated_kva > 0)) {
    // Nothing to load it against: its envelopes wait, and are skipped once too many are held.
    dt.nameplate = null;
    return;
  }
  const { model, kernel } = state.models.get(constantsOf(t), config.paper);
  const previous = dt.nameplate;
  if (previous?.station && previous.station !== t.weather_station_id)
    state.stationDts.get(previous.station)?.delete(dt.id);
  dt.nameplate = {
    ratedKva: t.rated_kva,
    nominalV: t.nominal_voltage_v,
    station: t.weather_station_id,
    zone: ZoneOffsets.of(transformerTimeZone(t, config.timeZone)),
    model,
    kernel,
  };
  if (t.weather_station_id) {
    let set = state.stationDts.get(t.weather_station_id);
    if (!set) state.stationDts.set(t.weather_station_id, (set = new Set()));
    set.add(dt.id);
  }
  // The history is in kW: it survives a new rating. The series' floors scale with the first rating seen.
  if (!dt.load) {
    const rated = t.rated_kva;
    dt.load = new SeasonalSeries(config.history, 0.005 * rated, (x) => 0.25 * Math.abs(x) + 0.02 * rated);
  }
}

function applyEnvelope(
  state: StressState,
  e: DtEnvelope,
  config: StressConfig,
  outputs: StressOutput[],
): void {
  if (!e.is_final) return;
  const dt = dtState(state, e.dt_id, config);
  if (!Number.isNaN(dt.lastSlot) && e.slot_start <= dt.lastSlot) {
    outputs.push({
      type: 'skipped',
      dt_id: e.dt_id,
      slot_start: e.slot_start,
      reason:
        e.slot_start === dt.lastSlot
          ? 'a revision of the last slot processed (the thermal state has moved on)'
          : 'a revision, or a late first arrival, of a slot before the last one processed (the thermal state has moved on)',
    });
    return;
  }
  const end = e.slot_start + SLOT_MS;
  if (end > state.streamTime) state.streamTime = end;
  // Insert in slot order (normally at the end); a second final envelope of a pending slot replaces it.
  const pending = dt.pending;
  let at = pending.length;
  while (at > 0 && pending[at - 1]!.slot_start > e.slot_start) at--;
  if (at > 0 && pending[at - 1]!.slot_start === e.slot_start) pending[at - 1] = e;
  else pending.splice(at, 0, e);
  while (pending.length > config.maxPendingSlots) {
    const old = pending.shift()!;
    outputs.push({
      type: 'skipped',
      dt_id: old.dt_id,
      slot_start: old.slot_start,
      reason: dt.nameplate
        ? 'held too long waiting for weather'
        : 'no usable nameplate: the DT is not in the topology the processor has seen, or its rated_kva is not positive',
    });
  }
  drain(state, dt, config, outputs);
}

function applyWeather(
  state: StressState,
  o: WeatherObservation,
  config: StressConfig,
  outputs: StressOutput[],
): void {
  let station = state.stations.get(o.station_id);
  if (!station) state.stations.set(o.station_id, (station = new StationHistory(config.history)));
  const before = Math.floor(station.newestTs / SLOT_MS);
  station.observe(o.ts, o.ambient_c);
  const weatherBefore = Math.floor(state.weatherTime / SLOT_MS);
  if (o.ts > state.weatherTime) state.weatherTime = o.ts;
  // Slots waiting for weather can only be released when it reaches a new slot: this station's for its own
  // DTs, the weather as a whole for every DT (a silent station's slots).
  if (Math.floor(state.weatherTime / SLOT_MS) !== weatherBefore) {
    for (const dt of state.dts.values()) if (dt.pending.length) drain(state, dt, config, outputs);
  } else if (Math.floor(station.newestTs / SLOT_MS) !== before)
    for (const id of state.stationDts.get(o.station_id) ?? []) {
      const dt = state.dts.get(id)!;
      if (dt.pending.length) drain(state, dt, config, outputs);
    }
}

/** Processes the DT's pending slots, in order, while each is ready. */
function drain(state: StressState, dt: DtState, config: StressConfig, outputs: StressOutput[]): void {
  const plate = dt.nameplate;
  if (!plate) return;
  const station = plate.station ? state.stations.get(plate.station) : undefined;
  while (dt.pending.length) {
    const e = dt.pending[0]!;
    const end = e.slot_start + SLOT_MS;
    const ready =
      !plate.station ||
      (station !== undefined && station.newestTs >= end) ||
      state.weatherTime >= end + config.weatherWaitMs ||
      state.streamTime >=
        end +
          (state.weatherTime === Number.NEGATIVE_INFINITY ? config.weatherWaitMs : config.weatherOutageMs);
    if (!ready) return;
    dt.pending.shift();
    processSlot(state, dt, plate, station, e, config, outputs);
  }
}

function ambientFor(
  station: StationHistory | undefined,
  slot: number,
  config: StressConfig,
): { c: number; source: AmbientSource } {
  if (station) {
    const mean = station.slotMean(slot);
    if (!Number.isNaN(mean)) return { c: mean, source: 'observed' };
    if (
      station.lastValueTs <= slot + SLOT_MS &&
      slot + SLOT_MS - station.lastValueTs <= config.carryAmbientMs
    )
      return { c: station.lastValue, source: 'carried' };
  }
  return { c: config.defaultAmbientC, source: 'default' };
}

function voltages(e: DtEnvelope): { min: number; max: number; mean: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const leg of e.legs) {
    if (leg.v_min < min) min = leg.v_min;
    if (leg.v_max > max) max = leg.v_max;
    sum += leg.v_mean;
  }
  return e.legs.length
    ? { min, max, mean: sum / e.legs.length }
    : { min: Number.NaN, max: Number.NaN, mean: Number.NaN };
}

/** The prior of the DT's voltage sensitivity, V per kW (see `StressConfig.voltageSensitivityPriorPu`). */
function sensitivityPrior(plate: Nameplate, config: StressConfig): number {
  return (config.voltageSensitivityPriorPu * plate.nominalV) / plate.ratedKva;
}

/** Voltage sensitivity, V per kW: the regression of slot-to-slot voltage changes on load changes, with a prior. */
function sensitivity(dt: DtState, plate: Nameplate, config: StressConfig): number {
  const prior = sensitivityPrior(plate, config);
  // The prior counts as 20 slot pairs with load steps of a tenth of the rating.
  const priorXX = 20 * (0.1 * plate.ratedKva) ** 2;
  const s = (dt.sensXY + prior * priorXX) / (dt.sensXX + priorXX);
  return Math.min(10 * prior, Math.max(0.2 * prior, s));
}

function processSlot(
  state: StressState,
  dt: DtState,
  plate: Nameplate,
  station: StationHistory | undefined,
  e: DtEnvelope,
  config: StressConfig,
  outputs: StressOutput[],
): void {
  const slot = e.slot_start;
  const resume = dt.resume;
  if (resume && slot > resume.slot_start) {
    // The history replay did not reach the stored slot: resume from it here.
    restoreThermal(dt, plate.model, resume);
    dt.lastSlot = resume.slot_start;
    dt.resume = null;
  }
  // A slot up to the stored one is only learnt again: its rows are written already.
  const silent = dt.resume !== null;
  if (silent) outputs = [];
  const model = plate.model;
  const kernel = plate.kernel;
  const limits = config.limits;
  const load = slotLoad(e, config.powerFactor);
  const k = load.s / plate.ratedKva;
  const ambient = ambientFor(station, slot, config);
  const cls = classOf(slot, plate.zone);
  const series = dt.load!;

  // Bridge a short gap at the forecast load; restart after a long one.
  let initialised = false;
  if (dt.initialised && !Number.isNaN(dt.lastSlot)) {
    const missing = Math.round((slot - dt.lastSlot) / SLOT_MS) - 1;
    if (missing > config.maxGapSlots) dt.initialised = false;
    else
      for (let i = 1; i <= missing; i++) {
        const s = dt.lastSlot + i * SLOT_MS;
        const expected = { mean: 0, sd: 0 };
        series.expected(classOf(s, plate.zone), expected);
        const a = ambientFor(station, s, config);
        model.stepSlot(dt.thermal, 0, Math.abs(expected.mean) / plate.ratedKva, a.c);
      }
  }
  if (!dt.initialised) {
    const lossBefore = dt.thermal.lossOfLifeMin(0);
    model.initSteady(dt.thermal, 0, k, ambient.c);
    // Loss of life carries over a restart.
    dt.thermal.data[ThermalStates.LOSS_OF_LIFE] = lossBefore;
    dt.initialised = true;
    initialised = true;
  }
  const th = dt.thermal;
  const peak = kernel.slotExact(th.topOilC(0), th.rise1(0), th.rise2(0), k, ambient.c).peakHotSpotC;
  const lossBefore = th.lossOfLifeMin(0);
  model.stepSlot(th, 0, k, ambient.c);
  const lossInSlot = th.lossOfLifeMin(0) - lossBefore;
  if (resume && slot === resume.slot_start) {
    restoreThermal(dt, plate.model, resume);
    dt.resume = null;
  }
  const v = voltages(e);
  const { vLow, vHigh } = voltageBandV(plate.nominalV, config.voltageBand);

  // The probabilities forecast for this slot.
  let thermalProb: number | null = null;
  let voltageProb: number | null = null;
  let lead = 0;
  if (!Number.isNaN(dt.forecastFrom)) {
    const l = Math.round((slot - dt.forecastFrom) / SLOT_MS);
    if (l >= 1 && l <= dt.forecastHorizon) {
      lead = l;
      thermalProb = dt.thermalProb[l - 1]!;
      const vp = dt.voltageProb[l - 1]!;
      voltageProb = Number.isNaN(vp) ? null : vp;
    }
  }
  const historySlots = series.count(cls);

  outputs.push({
    type: 'stress',
    row: {
      dt_id: dt.id,
      slot_start: slot,
      version: e.version,
      rated_kva: plate.ratedKva,
      net_kw: load.p,
      apparent_kva: load.s,
      load_factor: k,
      ambient_c: ambient.c,
      ambient_source: ambient.source,
      top_oil_c: th.topOilC(0),
      hot_spot_c: th.hotSpotC(0),
      hot_spot_rise1_k: th.rise1(0),
      hot_spot_rise2_k: th.rise2(0),
      peak_hot_spot_c: peak,
      ageing_rate: lossInSlot / (SLOT_MS / 60_000),
      loss_of_life_min: th.lossOfLifeMin(0),
      thermal_exceeded: peak > limits.hotSpotC || th.topOilC(0) > limits.topOilC || k > limits.loadFactor,
      v_min: Number.isNaN(v.min) ? null : v.min,
      v_max: Number.isNaN(v.max) ? null : v.max,
      voltage_exceeded: v.min < vLow || v.max > vHigh,
      thermal_stress_prob: thermalProb,
      voltage_stress_prob: voltageProb,
      forecast_lead_slots: lead,
      history_slots: historySlots,
      state_initialised: initialised,
      ami_coverage_pct: e.ami_coverage_pct,
      data_quality: e.data_quality,
      customers: customerSensitivities(dt.customers, {
        dtVPerKw: sensitivityPrior(plate, config),
        ratedKva: plate.ratedKva,
      }).map((c) => ({
        meter_id: c.meter_id,
        own_v_per_kw: c.ownVPerKw,
        dt_v_per_kw: c.dtVPerKw,
        low_offset_v: c.lowOffsetV,
        high_offset_v: c.highOffsetV,
      })),
    },
  });

  // Learn the slot (not from a model of it).
  const measured = !isModelled(e);
  if (measured) {
    series.observe(slot, cls, load.p);
    dt.means.observe(cls, [load.q, load.w]);
  }
  if (measured) learnCustomers(dt.customers, e, dt.lastSlot);
  if (measured && !Number.isNaN(v.min)) {
    dt.vMin.observe(slot, cls, v.min);
    dt.vMax.observe(slot, cls, v.max);
    if (dt.lastLoad && !Number.isNaN(dt.lastVMean) && slot === dt.lastSlot + SLOT_MS) {
      const dp = load.p - dt.lastLoad.p;
      const dv = v.mean - dt.lastVMean;
      dt.sensXY = SENSITIVITY_FORGET * dt.sensXY - dv * dp;
      dt.sensXX = SENSITIVITY_FORGET * dt.sensXX + dp * dp;
    }
  }
  dt.lastVMean = v.mean;
  dt.lastLoad = load;
  dt.lastSlot = slot;
  dt.coverage = e.ami_coverage_pct;
  dt.quality = e.data_quality;

  // Forecast the slots ahead.
  const every = config.envelopeEverySlots;
  const withEnvelope = every > 0 && Math.round(slot / SLOT_MS) % every === 0;
  // A silent slot forecasts as far (the history records its long-lead forecasts) but issues no envelope.
  forecastAhead(
    state,
    dt,
    plate,
    station,
    config,
    withEnvelope ? config.horizonSlots : 1,
    withEnvelope && !silent,
    {
      vLow,
      vHigh,
      outputs,
      // Before the resume slot no row carries these probabilities: only the history's own forecasts count.
      withProbabilities: dt.resume === null,
    },
  );
}

/**
 * The DT's customers' voltage sensitivities as the processor holds them now (for a meter-located headroom:
 * the API's and the tests'); empty when the DT has no nameplate yet or no per-meter voltages.
 */
export function dtCustomerSensitivities(
  state: StressState,
  dtId: string,
  config: StressConfig = DEFAULT_STRESS_CONFIG,
): CustomerSensitivity[] {
  const dt = state.dts.get(dtId);
  if (!dt?.nameplate) return [];
  return customerSensitivities(dt.customers, {
    dtVPerKw: sensitivityPrior(dt.nameplate, config),
    ratedKva: dt.nameplate.ratedKva,
  });
}

/** Sets the DT's thermal state to a stored row's (the hot spot follows from top oil and the two rises). */
function restoreThermal(dt: DtState, model: ThermalModel, row: DtStress): void {
  const d = dt.thermal.data;
  d[ThermalStates.TOP_OIL] = row.top_oil_c;
  d[ThermalStates.RISE1] = row.hot_spot_rise1_k;
  d[ThermalStates.RISE2] = row.hot_spot_rise2_k;
  d[ThermalStates.HOT_SPOT] = row.top_oil_c + row.hot_spot_rise1_k - row.hot_spot_rise2_k;
  d[ThermalStates.AGEING] = model.ageingRate(d[ThermalStates.HOT_SPOT]!);
  d[ThermalStates.LOSS_OF_LIFE] = row.loss_of_life_min;
  d[ThermalStates.PEAK_HOT_SPOT] = d[ThermalStates.HOT_SPOT]!;
  dt.initialised = true;
}

const quantileCache = new Map<string, ConfidenceQuantiles>();

/** The standardised quantiles of the configured confidence (load and voltage: t₄ or normal; ambient: normal). */
export function confidenceQuantiles(config: StressConfig): ConfidenceQuantiles {
  const key = `${config.confidence}|${config.heavyTails}`;
  let q = quantileCache.get(key);
  if (!q) {
    q = {
      load: config.heavyTails ? t4Quantile(config.confidence) : normalQuantile(config.confidence),
      ambient: normalQuantile(config.confidence),
    };
    quantileCache.set(key, q);
  }
  return q;
}

function forecastAhead(
  state: StressState,
  dt: DtState,
  plate: Nameplate,
  station: StationHistory | undefined,
  config: StressConfig,
  horizon: number,
  withEnvelope: boolean,
  ctx: { vLow: number; vHigh: number; outputs: StressOutput[]; withProbabilities: boolean },
): void {
  const capacity = Math.max(config.horizonSlots, 1);
  if (!state.solver || state.solver.capacity < capacity) {
    state.solver = new OperatingEnvelopeSolver(capacity, config.thermalModelSdK, config.heavyTails);
    state.forecast = allocateForecast(capacity);
    state.scratch = {
      classes: new Int16Array(capacity),
      counts: new Float64Array(capacity),
      thermal: new Float64Array(capacity),
      voltage: new Float64Array(capacity),
    };
  }
  const solver = state.solver;
  const fc = state.forecast!;
  const scratch = state.scratch!;
  const from = dt.lastSlot;
  for (let j = 0; j < horizon; j++) scratch.classes[j] = classOf(from + (j + 1) * SLOT_MS, plate.zone);
  if (!ctx.withProbabilities) {
    // Learning the history again (before a resume point): only what the forecasts leave in the history.
    dt.load!.forecast(from, horizon, scratch.classes, fc.pMean, fc.pSd, null, true);
    if (station?.hasHistoryAt(from)) station.forecast(from, horizon, fc.ambMean, fc.ambSd, true);
    if (dt.vMin.seen) {
      dt.vMin.forecast(from, horizon, scratch.classes, fc.vMinMean, fc.vMinSd, null, true);
      dt.vMax.forecast(from, horizon, scratch.classes, fc.vMaxMean, fc.vMaxSd, null, true);
    }
    return;
  }

  dt.load!.forecast(from, horizon, scratch.classes, fc.pMean, fc.pSd, scratch.counts);
  const last = dt.lastLoad!;
  for (let j = 0; j < horizon; j++) {
    const c = scratch.classes[j]!;
    fc.q[j] = dt.means.mean(c, 0, last.q);
    fc.w[j] = dt.means.mean(c, 1, last.w);
  }
  if (station?.hasHistoryAt(from)) station.forecast(from, horizon, fc.ambMean, fc.ambSd);
  else {
    const fallback = station && !Number.isNaN(station.lastValue) ? station.lastValue : config.defaultAmbientC;
    fc.ambMean.fill(fallback, 0, horizon);
    fc.ambSd.fill(config.defaultAmbientSdC, 0, horizon);
  }
  if (dt.vMin.seen) {
    dt.vMin.forecast(from, horizon, scratch.classes, fc.vMinMean, fc.vMinSd, null);
    dt.vMax.forecast(from, horizon, scratch.classes, fc.vMaxMean, fc.vMaxSd, null);
  } else {
    fc.vMinMean.fill(Number.NaN, 0, horizon);
    fc.vMaxMean.fill(Number.NaN, 0, horizon);
  }

  const th = dt.thermal;
  const customers = customerSensitivities(dt.customers, {
    dtVPerKw: sensitivityPrior(plate, config),
    ratedKva: plate.ratedKva,
  });
  // The sensitivity reported: the most sensitive customer's to the DT's load, or without customers the DT's.
  let sens = sensitivity(dt, plate, config);
  if (customers.length) sens = Math.max(...customers.map((c) => c.dtVPerKw));
  const env: EnvelopeDt = {
    kernel: plate.kernel,
    ratedKva: plate.ratedKva,
    limits: config.limits,
    vLow: ctx.vLow,
    vHigh: ctx.vHigh,
    sensitivityVPerKw: sens,
    customers,
    topOilC: th.topOilC(0),
    rise1: th.rise1(0),
    rise2: th.rise2(0),
  };
  solver.thermalProbabilities(env, fc, horizon, scratch.thermal);
  solver.voltageProbabilities(env, fc, horizon, scratch.voltage);
  if (dt.thermalProb.length < horizon) {
    dt.thermalProb = new Float64Array(config.horizonSlots);
    dt.voltageProb = new Float64Array(config.horizonSlots);
  }
  dt.thermalProb.set(scratch.thermal.subarray(0, horizon));
  dt.voltageProb.set(scratch.voltage.subarray(0, horizon));
  dt.forecastFrom = from;
  dt.forecastHorizon = horizon;
  if (!withEnvelope) return;

  const quantiles = confidenceQuantiles(config);
  const zc = quantiles.load;
  const res = solver.envelope(env, fc, horizon, quantiles);
  const issuedAt = from + SLOT_MS;
  for (let j = 0; j < horizon; j++) {
    const vp = scratch.voltage[j]!;
    const vMinLow = fc.vMinMean[j]! - zc * fc.vMinSd[j]!;
    const vMaxHigh = fc.vMaxMean[j]! + zc * fc.vMaxSd[j]!;
    ctx.outputs.push({
      type: 'operating-envelope',
      row: {
        dt_id: dt.id,
        slot_start: issuedAt + j * SLOT_MS,
        issued_at: issuedAt,
        lead_slots: j + 1,
        version: issuedAt,
        confidence: config.confidence,
        rated_kva: plate.ratedKva,
        base_kw: fc.pMean[j]!,
        base_kw_high: fc.pMean[j]! + zc * fc.pSd[j]!,
        base_kw_low: fc.pMean[j]! - zc * fc.pSd[j]!,
        ambient_c: fc.ambMean[j]!,
        hot_spot_c: res.hotSpotC[j]!,
        top_oil_c: res.topOilC[j]!,
        thermal_stress_prob: scratch.thermal[j]!,
        voltage_stress_prob: Number.isNaN(vp) ? null : vp,
        import_kw: res.importKw[j]!,
        export_kw: res.exportKw[j]!,
        import_slot_kw: res.importSlotKw[j]!,
        export_slot_kw: res.exportSlotKw[j]!,
        import_limited_by: res.importLimitedBy[j]!,
        export_limited_by: res.exportLimitedBy[j]!,
        v_min_low: Number.isNaN(vMinLow) ? null : vMinLow,
        v_max_high: Number.isNaN(vMaxHigh) ? null : vMaxHigh,
        v_min_mean: Number.isNaN(vMinLow) ? null : fc.vMinMean[j]!,
        v_min_sd: Number.isNaN(vMinLow) ? null : fc.vMinSd[j]!,
        v_max_mean: Number.isNaN(vMaxHigh) ? null : fc.vMaxMean[j]!,
        v_max_sd: Number.isNaN(vMaxHigh) ? null : fc.vMaxSd[j]!,
        voltage_sensitivity_v_per_kw: sens,
        history_slots: scratch.counts[j]!,
        data_quality: dt.quality,
      },
    });
  }
}
