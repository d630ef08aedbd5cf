import { DAY_MS, MINUTE_MS, SLOT_MS, iso } from '../core/time.js';
import type {
  TelemetryPayload,
  TopologyAsset,
  TopologyMeter,
  TopologyTransformer,
  WeatherPayload,
} from '../schemas/types.gen.js';
import { PowerFlowSolver, radialNetwork, type RadialNetwork } from './power-flow.js';
import { Rng, hashSeed, rngFor, tagOf } from './random.js';
import { telemetryTopic } from '../ingest/mqtt-topics.js';

/**
 * The feeder model: a deterministic, pure simulation of low-voltage distribution transformers (DTs) and the
 * smart meters behind them. No I/O and no clock: the output is a function of the options alone, and it is
 * produced lazily, one reading interval at a time, so memory stays bounded however long the run.
 *
 * Physics and behaviour, per simulated minute:
 * - households: a diurnal base load (morning and evening peaks, low at night, weekday/weekend), per-household
 *   scale, minute-to-minute noise, appliance switching (0.6–2.2 kW for 2–20 minutes) and air conditioning that
 *   cycles more the hotter it is; power factor 0.88–0.97 lagging;
 * - EV charging (the EV share): evening sessions of 7.4 kW (11 kW on three-leg meters) starting 17:00–23:00
 *   local time, for as long as the day's energy need takes (about 1–4 hours);
 * - rooftop PV (the PV share): clear-sky output from the sun's elevation at the site, scaled by kWp and
 *   reduced by a cloudiness process (a cloud cover per feeder and day, with passing clouds within the day);
 * - voltage: an AC power flow (simulator/power-flow.ts, backward/forward sweep) of each DT phase's LV network
 *   every minute. The source is the DT's tap voltage moved by a slow random drift of the MV supply; behind
 *   it the DT's impedance to the busbar, then the DT's radial LV feeders (`LvNetwork`: 1 to 4 per DT, a pole
 *   every 30–50 m with 1–3 customers on it, cable of 0.2–0.6 Ω/km and 0.07–0.08 Ω/km per phase conductor),
 *   then each meter leg's service drop (resistive) from its pole to the meter. Loads are constant power
 *   (P + jQ per leg): the voltage a customer sees depends on where the load sits, and export raises it. The
 *   neutral is taken to carry no current (each phase is solved on its own). The published voltage is the
 *   solved magnitude plus measurement noise (σ 0.08 V); the published current the magnitude |P_leg| / V;
 * - energy registers accumulate the per-minute import and export;
 * - behind-the-meter batteries (the battery share, `BATTERY_KW` each; topology assets `bess-…`) idle except in
 *   the flexibility events of `flexEvents`: in an event's minutes each listed battery moves its meter's power by
 *   exactly the event's kW, down (turn-down: it discharges) or up (turn-up: it charges), at unity power factor.
 *   The meter's p_kw, per-leg currents (|P_leg| / V) and energy registers carry it; the power flow does not
 *   (voltages are those of the household load alone), so every reading outside the events' intervals is the
 *   same with and without them except the registers, which keep the events' energy. The counterfactual of an
 *   event is the same simulation without it; `flexResponseKw` gives the true response.
 *
 * Time is UTC epoch milliseconds throughout. Behaviour follows local time at the site (Bengaluru, IST, UTC+5:30,
 * no DST): "evening" means the evening there.
 *
 * A reading stamped `ts` covers [ts, ts + interval): its p_kw and q_kvar are the means of the per-minute powers,
 * v and i the means of the per-minute leg values, and the registers are read at the end of the interval. It
 * is emitted (message `ts`) at the end of its interval, ts + interval, as a real meter would send it.
 */

export const SITE = {
  name: 'Bengaluru, India',
  latitude: 12.9716,
  longitude: 77.5946,
  /** IST, no daylight saving. */
  utcOffsetMinutes: 330,
} as const;

export const NOMINAL_VOLTAGE_V = 230;
/** Longest meter communication outage: backfilled readings arrive at most this much (plus an interval) late. */
export const MAX_OUTAGE_MS = 6 * 3_600_000;
/** Standard deviation of the voltage measurement noise, V. */
export const VOLTAGE_NOISE_V = 0.08;

const HOUR_MS = 3_600_000;
const OFFSET_MS = SITE.utcOffsetMinutes * MINUTE_MS;
const STANDARD_KVA = [63, 100, 160, 200, 250, 315, 400, 500, 630, 800, 1000];

export interface TopologyOptions {
  seed: number;
  /** Number of DTs (default 5). */
  transformers?: number;
  /** Meters per DT (default 40). */
  metersPerTransformer?: number;
  /** Feeders the DTs are spread over, one weather station each (default 1). */
  feeders?: number;
  /**
   * Multiplies every DT's rating after it is sized (default 1: DTs sized for their diversified peak). Below 1
   * the fleet is undersized (overloaded DTs, deeper voltage drops through their larger impedance): a stressed
   * fleet for calibrating the stress probabilities. Ratings are rounded to 0.1 kVA.
   */
  ratingScale?: number;
  /**
   * Share of meters with a behind-the-meter battery (default 0): a topology asset `bess-<meter number>` of
   * type BESS, `BATTERY_KW` nominal, behind the meter's DT. Drawn from its own stream: the rest is unchanged.
   */
  batteryShare?: number;
}

/** A flexibility event the simulated batteries respond to. */
export interface SimFlexEvent {
  /** Battery assets of the topology (`bess-…`). */
  assetIds: readonly string[];
  direction: 'turn-down' | 'turn-up';
  /** [startMs, endMs), epoch ms on whole minutes. */
  startMs: number;
  endMs: number;
  /** Per asset, kW: more than 0 and at most its nominal power. */
  kw: number;
}

export interface SimulationOptions extends TopologyOptions {
  /** Start of the simulated window, epoch ms; the first reading is at the first interval boundary at or after it. */
  startMs: number;
  /** End of the window, epoch ms (exclusive; readings whose interval ends after it are not produced); Infinity runs forever. */
  endMs: number;
  /** Reading interval in ms: a multiple of one minute that divides a day (default 60 000). */
  intervalMs?: number;
  /** Share of meters with an EV charger (default 0.15). */
  evShare?: number;
  /** Share of meters with rooftop PV (default 0.25). */
  pvShare?: number;
  /** Share of meters with communication outages (default 0.03). */
  silentShare?: number;
  /** Whether a meter back from an outage publishes its stored readings as one array (default true). */
  backfillSilent?: boolean;
  /**
   * Added to every ambient temperature, °C (default 0). A hotter climate: more air conditioning and hotter
   * transformers.
   */
  ambientOffsetC?: number;
  /**
   * Multiplies the impedance of every LV feeder segment (default 1). 0 puts every pole at the busbar: all of
   * a DT's customers share one voltage behind their service drops, as on a DT without a feeder network.
   */
  lvFeederScale?: number;
  /** Flexibility events (default none); one asset is in at most one event at a time. */
  flexEvents?: readonly SimFlexEvent[];
}

export type ResolvedTopologyOptions = Required<TopologyOptions>;
export type ResolvedSimulationOptions = Required<SimulationOptions>;

export const SIMULATION_DEFAULTS = {
  transformers: 5,
  metersPerTransformer: 40,
  feeders: 1,
  intervalMs: 60_000,
  evShare: 0.15,
  pvShare: 0.25,
  silentShare: 0.03,
  backfillSilent: true,
  ratingScale: 1,
  ambientOffsetC: 0,
  lvFeederScale: 1,
  batteryShare: 0,
} as const;

/** Nominal power of a simulated battery, kW. */
export const BATTERY_KW = 5;

export class SimulationOptionsError extends Error {
  override readonly name = 'SimulationOptionsError';
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new SimulationOptionsError(
      `${name} must be an integer from ${min} to ${max} (got ${String(value)})`,
    );
}

function requireShare(name: string, value: number): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    throw new SimulationOptionsError(`${name} must be a share from 0 to 1 (got ${String(value)})`);
}

export function resolveTopologyOptions(options: TopologyOptions): ResolvedTopologyOptions {
  const o = {
    seed: options.seed,
    transformers: options.transformers ?? SIMULATION_DEFAULTS.transformers,
    metersPerTransformer: options.metersPerTransformer ?? SIMULATION_DEFAULTS.metersPerTransformer,
    feeders: options.feeders ?? SIMULATION_DEFAULTS.feeders,
    ratingScale: options.ratingScale ?? SIMULATION_DEFAULTS.ratingScale,
    batteryShare: options.batteryShare ?? SIMULATION_DEFAULTS.batteryShare,
  };
  requireInteger('seed', o.seed, 0, Number.MAX_SAFE_INTEGER);
  requireInteger('transformers', o.transformers, 1, 9999);
  requireInteger('metersPerTransformer', o.metersPerTransformer, 1, 10_000);
  if (o.transformers * o.metersPerTransformer > 999_999)
    throw new SimulationOptionsError(
      `transformers × metersPerTransformer must be at most 999999 (got ${o.transformers * o.metersPerTransformer})`,
    );
  requireInteger('feeders', o.feeders, 1, Math.min(99, o.transformers));
  if (typeof o.ratingScale !== 'number' || !(o.ratingScale >= 0.05 && o.ratingScale <= 20))
    throw new SimulationOptionsError(
      `ratingScale must be a number from 0.05 to 20 (got ${String(o.ratingScale)})`,
    );
  requireShare('batteryShare', o.batteryShare);
  return o;
}

export function resolveSimulationOptions(options: SimulationOptions): ResolvedSimulationOptions {
  const o: ResolvedSimulationOptions = {
    ...resolveTopologyOptions(options),
    startMs: options.startMs,
    endMs: options.endMs,
    intervalMs: options.intervalMs ?? SIMULATION_DEFAULTS.intervalMs,
    evShare: options.evShare ?? SIMULATION_DEFAULTS.evShare,
    pvShare: options.pvShare ?? SIMULATION_DEFAULTS.pvShare,
    silentShare: options.silentShare ?? SIMULATION_DEFAULTS.silentShare,
    backfillSilent: options.backfillSilent ?? SIMULATION_DEFAULTS.backfillSilent,
    ambientOffsetC: options.ambientOffsetC ?? SIMULATION_DEFAULTS.ambientOffsetC,
    lvFeederScale: options.lvFeederScale ?? SIMULATION_DEFAULTS.lvFeederScale,
    flexEvents: options.flexEvents ?? [],
  };
  if (!Number.isSafeInteger(o.startMs) || o.startMs < 0)
    throw new SimulationOptionsError(
      `startMs must be a non-negative integer epoch time in ms (got ${String(o.startMs)})`,
    );
  if (!(o.endMs === Number.POSITIVE_INFINITY || (Number.isSafeInteger(o.endMs) && o.endMs >= o.startMs)))
    throw new SimulationOptionsError(
      `endMs must be an integer epoch time in ms not before startMs, or Infinity (got ${String(o.endMs)})`,
    );
  if (
    !Number.isInteger(o.intervalMs) ||
    o.intervalMs <= 0 ||
    o.intervalMs % MINUTE_MS !== 0 ||
    DAY_MS % o.intervalMs !== 0
  )
    throw new SimulationOptionsError(
      `intervalMs must be a whole number of minutes that divides a day, e.g. 60000, 300000 or 900000 (got ${String(o.intervalMs)})`,
    );
  requireShare('evShare', o.evShare);
  requireShare('pvShare', o.pvShare);
  requireShare('silentShare', o.silentShare);
  if (typeof o.ambientOffsetC !== 'number' || !(o.ambientOffsetC >= -30 && o.ambientOffsetC <= 30))
    throw new SimulationOptionsError(
      `ambientOffsetC must be a number of kelvin from -30 to 30 (got ${String(o.ambientOffsetC)})`,
    );
  if (typeof o.lvFeederScale !== 'number' || !(o.lvFeederScale >= 0 && o.lvFeederScale <= 10))
    throw new SimulationOptionsError(
      `lvFeederScale must be a number from 0 to 10 (got ${String(o.lvFeederScale)})`,
    );
  if (typeof o.backfillSilent !== 'boolean')
    throw new SimulationOptionsError(
      `backfillSilent must be true or false (got ${String(o.backfillSilent)})`,
    );
  return o;
}

// ---------------------------------------------------------------------------------------------------------
// Topology

export interface SimTopology {
  transformers: TopologyTransformer[];
  meters: TopologyMeter[];
  /** The meters' behind-the-meter batteries (none unless `batteryShare` > 0), in meter order. */
  assets: TopologyAsset[];
}

export const dtId = (index: number): string => `dt-${String(index + 1).padStart(4, '0')}`;
export const meterId = (index: number): string => `mtr-${String(index + 1).padStart(6, '0')}`;
/** The battery behind meter `index` (numbered as its meter). */
export const batteryId = (index: number): string => `bess-${String(index + 1).padStart(6, '0')}`;
export const feederId = (index: number): string => `fdr-${String(index + 1).padStart(2, '0')}`;
export const stationId = (index: number): string => `ws-${String(index + 1).padStart(2, '0')}`;
export { telemetryTopic };
export const weatherTopic = (station: string): string => `gridstream/v1/weather/${station}`;

/** Feeder of DT `index`: DTs are spread over the feeders in contiguous blocks. */
function feederOf(index: number, o: ResolvedTopologyOptions): number {
  return Math.floor((index * o.feeders) / o.transformers);
}

const round = (x: number, decimals: number): number => {
  const f = 10 ** decimals;
  const r = Math.round(x * f) / f;
  return r === 0 ? 0 : r; // no -0
};

/**
 * The CIS/GIS topology of a simulation: depends only on the seed and the counts, not on the time window, so a
 * demo can load it before it publishes anything.
 */
export function buildTopology(options: TopologyOptions): SimTopology {
  const o = resolveTopologyOptions(options);
  const rng = rngFor(o.seed, tagOf('topology'));
  const feederCentres = Array.from({ length: o.feeders }, () => ({
    lat: SITE.latitude + rng.uniform(-0.03, 0.03),
    lon: SITE.longitude + rng.uniform(-0.03, 0.03),
  }));
  const transformers: TopologyTransformer[] = [];
  for (let d = 0; d < o.transformers; d++) {
    const f = feederOf(d, o);
    const centre = feederCentres[f]!;
    // Sized for the expected diversified evening peak, with the spread of real fleets (some tight, some roomy).
    const target = o.metersPerTransformer * rng.uniform(1.6, 3.0);
    const sized = STANDARD_KVA.find((kva) => kva >= target) ?? Math.ceil(target / 100) * 100;
    const rated = o.ratingScale === 1 ? sized : round(sized * o.ratingScale, 1);
    transformers.push({
      dt_id: dtId(d),
      feeder_id: feederId(f),
      rated_kva: rated,
      cooling_class: 'ONAN',
      latitude: round(centre.lat + rng.uniform(-0.008, 0.008), 6),
      longitude: round(centre.lon + rng.uniform(-0.008, 0.008), 6),
      weather_station_id: stationId(f),
      nominal_voltage_v: NOMINAL_VOLTAGE_V,
      top_oil_rise_k: null,
      hot_spot_gradient_k: null,
      loss_ratio: null,
      tau_oil_min: null,
      tau_winding_min: null,
      tenant: 'default',
      timezone: null,
      topology_version: 1,
    });
  }
  const numberBase = 1_000_000_000 + rng.int(800_000_000);
  const servicePointBase = 9_000_000_000 + rng.int(800_000_000);
  const meters: TopologyMeter[] = [];
  const total = o.transformers * o.metersPerTransformer;
  for (let i = 0; i < total; i++) {
    const u = rng.next();
    const legs = u < 0.8 ? 1 : u < 0.85 ? 2 : 3;
    const number = String(numberBase + i);
    const servicePoint = String(servicePointBase + i);
    meters.push({
      meter_id: meterId(i),
      meter_number: number,
      electronic_serial_number: `2.16.840.1.999999.15.80.${number}`,
      service_point_id: servicePoint,
      premise_id: `P${servicePoint}`,
      legs,
      dt_id: dtId(Math.floor(i / o.metersPerTransformer)),
      topology_version: 1,
    });
  }
  // Batteries from their own stream, so a share of 0 leaves every other draw as it was.
  const batteryRng = rngFor(o.seed, tagOf('battery'));
  const withBattery = batteryRng
    .shuffled(Array.from({ length: total }, (_, i) => i))
    .slice(0, Math.round(o.batteryShare * total))
    .sort((a, b) => a - b);
  const assets: TopologyAsset[] = withBattery.map((i) => ({
    asset_id: batteryId(i),
    dt_id: meters[i]!.dt_id,
    meter_id: meters[i]!.meter_id,
    asset_type: 'BESS',
    nominal_kw: BATTERY_KW,
    topology_version: 1,
  }));
  return { transformers, meters, assets };
}

// ---------------------------------------------------------------------------------------------------------
// Ground-truth profiles

export interface TransformerProfile {
  index: number;
  dt_id: string;
  feederIndex: number;
  ratedKva: number;
  /** No-load secondary voltage set by the tap, V. */
  tapV: number;
  /** DT impedance (plus busbar leads) per phase, ohm: from the source to the busbar. */
  rOhm: number;
  xOhm: number;
  meterIndices: number[];
  /** The DT's radial LV feeders. */
  lv: LvNetwork;
}

/**
 * A DT's LV network: poles along radial feeders from the busbar (pole 0). Every phase runs along every
 * feeder with the same per-phase conductor impedance.
 */
export interface LvNetwork {
  /** Feeders out of the busbar. */
  feeders: number;
  /** Per pole (index 0 the busbar): the pole it hangs from (−1 for the busbar), its feeder (−1 for the busbar). */
  parent: number[];
  feeder: number[];
  /** Per pole: the segment from its parent pole, length m, resistance and reactance per phase, ohm. */
  lengthM: number[];
  rOhm: number[];
  xOhm: number[];
  /** Per pole: the distance along its feeder from the busbar, m. */
  distanceM: number[];
}

export interface ImpedanceDegradation {
  leg: number;
  /** UTC day number (epoch ms / DAY_MS) of the first degraded day. */
  onsetDay: number;
  /** Impedance multiplies by this every day from the onset (capped at DEGRADED_CAP_MOHM). */
  dailyFactor: number;
}

export const DEGRADED_CAP_MOHM = 3000;

export interface MeterProfile {
  index: number;
  meter_id: string;
  dtIndex: number;
  feederIndex: number;
  legs: number;
  /** DT phase (1..3) each meter leg is connected to. */
  phases: number[];
  /** Household base-load scale, kW. */
  baseKw: number;
  powerFactor: number;
  /** Hours (local) of the household's weekday morning and evening peaks. */
  morningHour: number;
  eveningHour: number;
  /** Air-conditioner compressor power, kW; 0 = none. */
  acKw: number;
  /** Rooftop PV peak power, kWp; 0 = none. */
  pvKwp: number;
  pvOrientation: number;
  /** EV charger power, kW; 0 = none. */
  evKw: number;
  /** Has communication outages. */
  silent: boolean;
  /** Pole of the DT's LV network the meter's service drop starts at (`TransformerProfile.lv`; 0 = busbar). */
  pole: number;
  /** Service-drop impedance per leg (index leg − 1) before any degradation, milliohm. */
  impedanceMohm: number[];
  degradation: ImpedanceDegradation | null;
  /** Register readings at the start of the run, kWh. */
  importKwh0: number;
  exportKwh0: number;
}

export type TelemetryReading = TelemetryPayload & {
  ts: string;
  q_kvar: number;
  e_imp_kwh: number;
  e_exp_kwh: number;
};
export type WeatherReading = WeatherPayload & { ts: string };

/** One message as a meter or station would publish it. */
export type SimMessage =
  | {
      kind: 'telemetry';
      topic: string;
      /** meter_id */
      source: string;
      /** One reading, or the readings stored during an outage (array, oldest first). */
      payload: TelemetryReading | TelemetryReading[];
      /** Readings in the payload. */
      readings: number;
      /** Simulated time the message is sent, epoch ms (the end of its newest reading's interval). */
      ts: number;
    }
  | { kind: 'weather'; topic: string; source: string; payload: WeatherReading; readings: 1; ts: number };

/** Everything the model computed for one reading interval [ts, ts + interval). */
export interface SimStep {
  ts: number;
  /** ts + interval: when the readings are sent. */
  emitTs: number;
  /** The published reading of every meter, by meter index. */
  readings: TelemetryReading[];
  /** 1 where the meter is in a communication outage for this reading (it is stored or lost, not sent now). */
  outage: Uint8Array;
  /** Mean source voltage (tap × MV supply, before the DT's impedance) of each DT over the interval, V. */
  sourceVoltage: Float64Array;
  /** Mean secondary (busbar) voltage of each DT phase over the interval: dtVoltage[dtIndex][phase − 1], V. */
  dtVoltage: Float64Array[];
  /**
   * Mean voltage, without the measurement noise, at the pole each meter leg's service drop starts from:
   * poleVoltage[meterIndex][leg − 1], V.
   */
  poleVoltage: Float64Array[];
  /** Mean true voltage (no measurement noise) of each meter leg: meterVoltage[meterIndex][leg − 1], V. */
  meterVoltage: Float64Array[];
  /** Mean service-drop impedance of each meter leg in the interval: impedanceMohm[meterIndex][leg − 1]. */
  impedanceMohm: number[][];
  /** One observation per weather station (by feeder index). */
  weather: WeatherReading[];
}

export interface Simulation {
  readonly options: ResolvedSimulationOptions;
  readonly topology: SimTopology;
  readonly transformers: readonly TransformerProfile[];
  readonly meters: readonly MeterProfile[];
  readonly stations: readonly string[];
  /** First reading time (the first interval boundary at or after startMs). */
  readonly firstTs: number;
  /** True service-drop impedance of a meter leg on a UTC day (day = floor(ms / DAY_MS)), milliohm. */
  impedanceMohm(meterIndex: number, leg: number, utcDay: number): number;
  /** Cloud cover (0 clear … 0.9 overcast) over a feeder on a local day (day of (ms + UTC offset) / DAY_MS). */
  cloudCover(feederIndex: number, localDay: number): number;
  /** Ambient temperature at a feeder at an instant, before the small minute-to-minute noise, °C. */
  ambientBaseC(feederIndex: number, ms: number): number;
  /** The EV charging session a meter starts on a local day, as [start, end) epoch ms, or null. */
  evSession(meterIndex: number, localDay: number): [number, number] | null;
  /** The communication outage of a silent meter starting on a UTC day, as [start, end) epoch ms, or null. */
  outage(meterIndex: number, utcDay: number): [number, number] | null;
  /**
   * The true response of a meter's battery to the flexibility events over [periodStart, periodStart +
   * periodMs) (default a 15-minute period): the mean change of its metered power, kW, negative for a turn-down
   * (the delivered flexibility of a turn-down is its negation), 0 outside events.
   */
  flexResponseKw(meterIndex: number, periodStart: number, periodMs?: number): number;
  /** Per meter index, its batteries' power changes [startMs, endMs, kW] (empty without events). */
  readonly flexSpans: readonly (readonly FlexSpan[])[];
  /** A fresh lazy iterator over the reading intervals with all model internals. */
  steps(): Generator<SimStep, void, undefined>;
  /** A fresh lazy, time-ordered iterator over the messages meters and stations publish. */
  messages(): Generator<SimMessage, void, undefined>;
}

/** [startMs, endMs, kW]: a battery's change of its meter's power over [startMs, endMs). */
export type FlexSpan = readonly [number, number, number];

/** Checks the flexibility events against the topology's batteries; per meter index, its spans. */
function flexSpansOf(events: readonly SimFlexEvent[], topology: SimTopology): FlexSpan[][] {
  const meterOf = new Map(topology.meters.map((m, i) => [m.meter_id, i]));
  const assets = new Map(topology.assets.map((a) => [a.asset_id, a]));
  const spans: FlexSpan[][] = topology.meters.map(() => []);
  if (!Array.isArray(events)) throw new SimulationOptionsError('flexEvents must be an array');
  events.forEach((e, k) => {
    const at = `flexEvents[${k}]`;
    if (e.direction !== 'turn-down' && e.direction !== 'turn-up')
      throw new SimulationOptionsError(
        `${at}.direction must be turn-down or turn-up (got ${String(e.direction)})`,
      );
    if (
      !Number.isSafeInteger(e.startMs) ||
      !Number.isSafeInteger(e.endMs) ||
      e.startMs % MINUTE_MS ||
      e.endMs % MINUTE_MS ||
      e.endMs <= e.startMs
    )
      throw new SimulationOptionsError(
        `${at}: startMs < endMs, both epoch ms on whole minutes (got ${String(e.startMs)}, ${String(e.endMs)})`,
      );
    if (!Array.isArray(e.assetIds) || e.assetIds.length === 0)
      throw new SimulationOptionsError(`${at}.assetIds must list at least one battery`);
    for (const id of e.assetIds) {
      const asset = assets.get(id);
      if (!asset)
        throw new SimulationOptionsError(
          `${at}: ${String(id)} is not a battery of this simulation (see batteryShare)`,
        );
      if (typeof e.kw !== 'number' || !(e.kw > 0 && e.kw <= (asset.nominal_kw ?? 0)))
        throw new SimulationOptionsError(
          `${at}.kw must be more than 0 and at most ${id}'s ${asset.nominal_kw} kW (got ${String(e.kw)})`,
        );
      const list = spans[meterOf.get(asset.meter_id!)!]!;
      if (list.some(([s, end]) => s < e.endMs && e.startMs < end))
        throw new SimulationOptionsError(`${at}: ${id} is already in an event that overlaps it`);
      list.push([e.startMs, e.endMs, e.direction === 'turn-down' ? -e.kw : e.kw]);
    }
  });
  return spans;
}

const TAG = {
  profiles: tagOf('profiles'),
  degradation: tagOf('degradation'),
  noise: tagOf('noise'),
  ev: tagOf('ev'),
  outage: tagOf('outage'),
  cloud: tagOf('cloud'),
  temperature: tagOf('temperature'),
  dt: tagOf('dt'),
  lv: tagOf('lv'),
};

/** Wrapped Gaussian bump over the 24-hour clock. */
function bump(hour: number, centre: number, width: number): number {
  let d = hour - centre;
  if (d >= 12) d -= 24;
  else if (d < -12) d += 24;
  const z = d / width;
  return Math.exp(-0.5 * z * z);
}

/** Household activity (relative base load) by local hour. */
function activity(hour: number, weekend: boolean, morning: number, evening: number): number {
  if (!weekend)
    return 0.25 + 0.6 * bump(hour, morning, 0.9) + 0.2 * bump(hour, 13, 2.5) + 1.0 * bump(hour, evening, 1.7);
  return (
    0.27 +
    0.5 * bump(hour, morning + 1.5, 1.4) +
    0.45 * bump(hour, 13.5, 2.8) +
    1.05 * bump(hour, evening, 1.9)
  );
}

/** Share of the time somebody is home to run the air conditioning. */
function acOccupancy(hour: number, weekend: boolean): number {
  if (hour >= 18 && hour < 23) return 1;
  if (hour >= 23 || hour < 6) return 0.8;
  if (hour < 9) return 0.3;
  return weekend ? 0.6 : 0.2;
}

/** Diurnal temperature shape: −1 at 06:00 local, +1 at 15:00, cosine in between. */
function diurnalShape(hour: number): number {
  if (hour >= 6 && hour < 15) return -Math.cos((Math.PI * (hour - 6)) / 9);
  const x = (hour - 15 + 24) % 24; // 0 at 15:00 … 15 at 06:00
  return Math.cos((Math.PI * x) / 15);
}

const DEG = Math.PI / 180;
const SIN_LAT = Math.sin(SITE.latitude * DEG);
const COS_LAT = Math.cos(SITE.latitude * DEG);

/** Day of the year (0-based) of a UTC day number. */
function dayOfYear(utcDay: number): number {
  const d = new Date(utcDay * DAY_MS);
  return utcDay - Date.UTC(d.getUTCFullYear(), 0, 1) / DAY_MS;
}

/** Sine of the sun's elevation at the site at `ms` (negative at night). */
export function sunElevationSine(ms: number): number {
  const utcDay = Math.floor(ms / DAY_MS);
  const n = dayOfYear(utcDay) + 1;
  const declination = 23.44 * DEG * Math.sin((2 * Math.PI * (284 + n)) / 365);
  const b = (2 * Math.PI * (n - 81)) / 364;
  const equationOfTimeMin = 9.87 * Math.sin(2 * b) - 7.53 * Math.cos(b) - 1.5 * Math.sin(b);
  const solarMinutes = (ms - utcDay * DAY_MS) / MINUTE_MS + 4 * SITE.longitude + equationOfTimeMin;
  const hourAngle = (solarMinutes / 4 - 180) * DEG;
  return SIN_LAT * Math.sin(declination) + COS_LAT * Math.cos(declination) * Math.cos(hourAngle);
}

export function localDayOf(ms: number): number {
  return Math.floor((ms + OFFSET_MS) / DAY_MS);
}

/** Local hour of day (fractional) at the site. */
export function localHourOf(ms: number): number {
  const local = ms + OFFSET_MS;
  return (local - Math.floor(local / DAY_MS) * DAY_MS) / HOUR_MS;
}

/** Saturday or Sunday at the site. Day 0 (1970-01-01) was a Thursday. */
export function isWeekend(localDay: number): boolean {
  const dow = (((localDay + 4) % 7) + 7) % 7; // 0 = Sunday
  return dow === 0 || dow === 6;
}

/** Customers per LV feeder the layout aims at (a DT of 40 meters gets 3 feeders). */
const CUSTOMERS_PER_LV_FEEDER = 16;

/**
 * Lays a DT's meters along radial LV feeders: ⌈meters / 16⌉ feeders (at most 4), the DT's meters dealt to
 * them in turn, along each a pole every 30–50 m with 1–3 customers on it, one cable per feeder of
 * 0.2–0.6 Ω/km resistance and 0.07–0.08 Ω/km reactance per phase conductor (LV aluminium cables and
 * overhead lines span about that range), times `scale`. Draws from its own stream, so the rest of the model
 * is unchanged.
 */
function layLvNetwork(dt: TransformerProfile, meters: MeterProfile[], rng: Rng, scale: number): void {
  const count = dt.meterIndices.length;
  const feeders = Math.max(1, Math.min(4, Math.ceil(count / CUSTOMERS_PER_LV_FEEDER)));
  const lv = dt.lv;
  lv.feeders = feeders;
  for (let f = 0; f < feeders; f++) {
    const rPerKm = rng.uniform(0.2, 0.6);
    const xPerKm = rng.uniform(0.07, 0.08);
    const onFeeder = dt.meterIndices.filter((_, k) => k % feeders === f);
    let pole = 0;
    let left = 0;
    for (const index of onFeeder) {
      if (left === 0) {
        const length = round(rng.uniform(30, 50), 1);
        lv.parent.push(pole);
        lv.feeder.push(f);
        lv.lengthM.push(length);
        lv.rOhm.push((scale * rPerKm * length) / 1000);
        lv.xOhm.push((scale * xPerKm * length) / 1000);
        lv.distanceM.push(round((pole === 0 ? 0 : lv.distanceM[pole]!) + length, 1));
        pole = lv.parent.length - 1;
        left = 1 + rng.int(3);
      }
      meters[index]!.pole = pole;
      left--;
    }
  }
}

/**
 * One phase of a DT's LV network as a radial network for the power flow: node 0 the source, node 1 the
 * busbar (through the DT's impedance), nodes 2 … the poles, then one node per meter leg on the phase (its
 * service drop, resistance set per day by the caller). `legNode[i * 3 + l]` is meter i's leg l + 1's node.
 */
export function phaseNetwork(
  dt: TransformerProfile,
  meters: readonly MeterProfile[],
  phase: number,
  legNode: Int32Array,
): RadialNetwork {
  const lv = dt.lv;
  const parent = [-1, 0];
  const r = [0, dt.rOhm];
  const x = [0, dt.xOhm];
  for (let k = 1; k < lv.parent.length; k++) {
    parent.push(lv.parent[k]! + 1);
    r.push(lv.rOhm[k]!);
    x.push(lv.xOhm[k]!);
  }
  for (const index of dt.meterIndices) {
    const m = meters[index]!;
    for (let l = 0; l < m.legs; l++) {
      if (m.phases[l] !== phase) continue;
      legNode[index * 3 + l] = parent.length;
      parent.push(m.pole + 1);
      r.push(m.impedanceMohm[l]! / 1000);
      x.push(0);
    }
  }
  return radialNetwork(parent, r, x);
}

export function createSimulation(options: SimulationOptions): Simulation {
  const o = resolveSimulationOptions(options);
  const topology = buildTopology(o);
  const seed = o.seed;
  const interval = o.intervalMs;
  const firstTs = Math.ceil(o.startMs / interval) * interval;
  const startDay = Math.floor(firstTs / DAY_MS);
  const runDays = Number.isFinite(o.endMs) ? Math.max(1, Math.ceil((o.endMs - firstTs) / DAY_MS)) : 10;

  // DTs: impedance from the rating (4–5 % short-circuit impedance, X/R 1.5) plus busbar leads; tap a little
  // above nominal, as utilities set it to keep the far end of the feeder inside the band.
  const dtRng = rngFor(seed, TAG.dt);
  const lvRng = rngFor(seed, TAG.lv);
  const transformers: TransformerProfile[] = topology.transformers.map((t, index) => {
    const zPct = t.rated_kva <= 100 ? 0.04 : t.rated_kva <= 250 ? 0.045 : 0.05;
    const zBase = (3 * NOMINAL_VOLTAGE_V * NOMINAL_VOLTAGE_V) / (t.rated_kva * 1000);
    const z = zPct * zBase;
    const r = z / Math.sqrt(1 + 1.5 * 1.5);
    const leads = dtRng.uniform(0.012, 0.035) / 6;
    return {
      index,
      dt_id: t.dt_id,
      feederIndex: feederOf(index, o),
      ratedKva: t.rated_kva,
      tapV: round(NOMINAL_VOLTAGE_V * dtRng.uniform(1.025, 1.048), 2),
      rOhm: r + leads,
      xOhm: 1.5 * r + 0.3 * leads,
      meterIndices: [],
      lv: { feeders: 0, parent: [-1], feeder: [-1], lengthM: [0], rOhm: [0], xOhm: [0], distanceM: [0] },
    };
  });

  const prng = rngFor(seed, TAG.profiles);
  const total = topology.meters.length;
  const pick = (share: number): Set<number> =>
    new Set(prng.shuffled(Array.from({ length: total }, (_, i) => i)).slice(0, Math.round(share * total)));
  const ev = pick(o.evShare);
  const pv = pick(o.pvShare);
  const silent = pick(o.silentShare);
  const phaseCursor = transformers.map(() => prng.int(3));
  const meters: MeterProfile[] = topology.meters.map((m, index) => {
    const dtIndex = Math.floor(index / o.metersPerTransformer);
    const dt = transformers[dtIndex]!;
    dt.meterIndices.push(index);
    let phases: number[];
    if (m.legs === 3) phases = [1, 2, 3];
    else {
      const first = phaseCursor[dtIndex]!;
      phaseCursor[dtIndex] = (first + m.legs) % 3;
      phases = Array.from({ length: m.legs }, (_, l) => ((first + l) % 3) + 1);
    }
    const drop = Math.min(400, Math.max(50, prng.logNormal(150, 0.4)));
    const hasPv = pv.has(index);
    return {
      index,
      meter_id: m.meter_id,
      dtIndex,
      feederIndex: dt.feederIndex,
      legs: m.legs,
      phases,
      pole: 0,
      baseKw: Math.min(2.5, Math.max(0.25, prng.logNormal(0.7, 0.35))),
      powerFactor: prng.uniform(0.88, 0.97),
      morningHour: prng.normal(7, 0.5),
      eveningHour: prng.normal(20, 0.6),
      acKw: prng.chance(0.4) ? prng.uniform(1.0, 2.0) : 0,
      pvKwp: hasPv ? round(prng.uniform(2, 6), 1) : 0,
      pvOrientation: prng.uniform(0.85, 1),
      evKw: ev.has(index) ? (m.legs === 3 ? 11 : 7.4) : 0,
      silent: silent.has(index),
      impedanceMohm: Array.from({ length: m.legs }, () =>
        round(Math.min(400, Math.max(50, drop * prng.uniform(0.92, 1.08))), 1),
      ),
      degradation: null,
      importKwh0: round(prng.uniform(500, 25_000), 3),
      exportKwh0: hasPv ? round(prng.uniform(50, 4000), 3) : 0,
    };
  });
  for (const dt of transformers) layLvNetwork(dt, meters, lvRng, o.lvFeederScale);
  // A few connections whose impedance climbs day after day (a loosening or corroding joint).
  const drng = rngFor(seed, TAG.degradation);
  const degrading = total >= 20 ? Math.max(1, Math.round(0.03 * total)) : 0;
  for (const index of drng.shuffled(meters.map((m) => m.index)).slice(0, degrading)) {
    const m = meters[index]!;
    m.degradation = {
      leg: 1 + drng.int(m.legs),
      onsetDay: startDay + drng.int(Math.min(10, runDays)),
      dailyFactor: drng.uniform(1.08, 1.3),
    };
  }

  const stations = Array.from({ length: o.feeders }, (_, f) => stationId(f));
  const flexSpans = flexSpansOf(o.flexEvents, topology);
  const flexResponseKw = (meterIndex: number, periodStart: number, periodMs = SLOT_MS): number => {
    let sum = 0;
    for (const [start, end, kw] of flexSpans[meterIndex] ?? [])
      sum += kw * Math.max(0, Math.min(end, periodStart + periodMs) - Math.max(start, periodStart));
    return sum / periodMs;
  };

  const impedanceMohm = (meterIndex: number, leg: number, utcDay: number): number => {
    const m = meters[meterIndex]!;
    const base = m.impedanceMohm[leg - 1]!;
    const d = m.degradation;
    if (!d || d.leg !== leg || utcDay < d.onsetDay) return base;
    return round(Math.min(DEGRADED_CAP_MOHM, base * d.dailyFactor ** (utcDay - d.onsetDay + 1)), 1);
  };

  const cloudCover = (feederIndex: number, localDay: number): number => {
    const r = rngFor(seed, TAG.cloud, feederIndex, localDay);
    const u = r.next();
    if (u < 0.45) return r.uniform(0, 0.1);
    if (u < 0.8) return r.uniform(0.15, 0.6);
    return r.uniform(0.6, 0.9);
  };

  // Daily mean temperature: a moving average of daily shocks (day-to-day persistence), cooler under cloud.
  const dayShock = (f: number, day: number) => rngFor(seed, TAG.temperature, f, day).normal();
  const weatherMemo = new Map<string, { mean: number; amplitude: number }>();
  const dayWeather = (f: number, day: number) => {
    const key = `${f}:${day}`;
    const memo = weatherMemo.get(key);
    if (memo) return memo;
    if (weatherMemo.size > 64) weatherMemo.clear();
    const ma =
      (dayShock(f, day) +
        0.8 * dayShock(f, day - 1) +
        0.6 * dayShock(f, day - 2) +
        0.4 * dayShock(f, day - 3)) /
      Math.sqrt(1 + 0.64 + 0.36 + 0.16);
    const cloud = cloudCover(f, day);
    const value = {
      mean: 27 + o.ambientOffsetC + 1.3 * ma - 2.2 * cloud,
      amplitude: 5.8 * (1 - 0.45 * cloud),
    };
    weatherMemo.set(key, value);
    return value;
  };
  const ambientBaseC = (f: number, ms: number): number => {
    // Mean and amplitude are interpolated between local noons, so there is no jump at midnight.
    const dayF = (ms + OFFSET_MS) / DAY_MS - 0.5;
    const d0 = Math.floor(dayF);
    const w = dayF - d0;
    const a = dayWeather(f, d0);
    const b = dayWeather(f, d0 + 1);
    return (
      (1 - w) * a.mean +
      w * b.mean +
      ((1 - w) * a.amplitude + w * b.amplitude) * diurnalShape(localHourOf(ms))
    );
  };

  const evSession = (meterIndex: number, localDay: number): [number, number] | null => {
    const m = meters[meterIndex]!;
    if (!m.evKw) return null;
    const r = rngFor(seed, TAG.ev, meterIndex, localDay);
    if (!r.chance(isWeekend(localDay) ? 0.45 : 0.6)) return null;
    const startMinute = 17 * 60 + r.int(361); // 17:00 … 23:00 local
    const energyKwh = r.uniform(6, 28);
    const minutes = Math.max(30, Math.round((energyKwh / m.evKw) * 60));
    const start = localDay * DAY_MS - OFFSET_MS + startMinute * MINUTE_MS;
    return [start, start + minutes * MINUTE_MS];
  };

  // Outages start and end on quarter hours, so a meter's slot is either complete or absent.
  const outage = (meterIndex: number, utcDay: number): [number, number] | null => {
    if (!meters[meterIndex]!.silent) return null;
    const r = rngFor(seed, TAG.outage, meterIndex, utcDay);
    if (!r.chance(0.4)) return null;
    const start = utcDay * DAY_MS + r.int(96) * SLOT_MS;
    return [start, start + (4 + r.int(21)) * SLOT_MS];
  };

  const sim: Simulation = {
    options: o,
    topology,
    transformers,
    meters,
    stations,
    firstTs,
    impedanceMohm,
    cloudCover,
    ambientBaseC,
    evSession,
    outage,
    flexResponseKw,
    flexSpans,
    steps: () => runSteps(sim),
    messages: () => runMessages(sim),
  };
  return sim;
}

/** Per-day values cached while the run is on that day. */
class DayCache<T> {
  private day = Number.NaN;
  private value: T | undefined;
  constructor(private readonly compute: (day: number) => T) {}
  get(day: number): T {
    if (day !== this.day) {
      this.value = this.compute(day);
      this.day = day;
    }
    return this.value as T;
  }
}

function* runSteps(sim: Simulation): Generator<SimStep, void, undefined> {
  const o = sim.options;
  const meters = sim.meters;
  const dts = sim.transformers;
  const n = meters.length;
  const nDt = dts.length;
  const nF = o.feeders;
  const interval = o.intervalMs;
  const perInterval = interval / MINUTE_MS;
  const noise = new Rng(hashSeed(o.seed, TAG.noise, sim.firstTs));

  // Per-meter state.
  const logNoise = new Float64Array(n); // AR(1) of the log base load
  const applianceKw = new Float64Array(n);
  const applianceUntil = new Float64Array(n);
  const acOn = new Uint8Array(n);
  const importKwh = new Float64Array(n);
  const exportKwh = new Float64Array(n);
  const tanPhi = new Float64Array(n);
  const legPhase = new Int32Array(n * 3); // DT phase index 0..2 per meter leg
  const zOhm = new Float64Array(n * 3);
  const zSum = new Float64Array(n * 3);
  const minuteP = new Float64Array(n);
  const sumP = new Float64Array(n);
  const sumQ = new Float64Array(n);
  const sumV = new Float64Array(n * 3);
  const sumI = new Float64Array(n * 3);
  const NOISE_SD = 0.25;
  const NOISE_PHI = 0.9;
  const NOISE_INNOVATION = NOISE_SD * Math.sqrt(1 - NOISE_PHI * NOISE_PHI);
  for (let i = 0; i < n; i++) {
    const m = meters[i]!;
    logNoise[i] = noise.normal(0, NOISE_SD);
    importKwh[i] = m.importKwh0;
    exportKwh[i] = m.exportKwh0;
    tanPhi[i] = Math.tan(Math.acos(m.powerFactor));
    for (let l = 0; l < m.legs; l++) legPhase[i * 3 + l] = m.phases[l]! - 1;
  }
  const evCache = meters.map((m) =>
    m.evKw ? new DayCache((day) => [sim.evSession(m.index, day - 1), sim.evSession(m.index, day)]) : null,
  );
  const outageCache = meters.map((m) =>
    m.silent ? new DayCache((day) => [sim.outage(m.index, day - 1), sim.outage(m.index, day)]) : null,
  );

  // Per-feeder state: MV voltage drift (Ornstein-Uhlenbeck, τ 2 h, σ 0.8 %), passing clouds, temperature noise.
  const DRIFT_SD = 0.008;
  const DRIFT_PHI = Math.exp(-1 / 120);
  const CLOUD_PHI = 0.97;
  const TEMP_SD = 0.4;
  const TEMP_PHI = 0.98;
  const drift = new Float64Array(nF);
  const cloudAr = new Float64Array(nF);
  const tempAr = new Float64Array(nF);
  for (let f = 0; f < nF; f++) {
    drift[f] = noise.normal(0, DRIFT_SD);
    cloudAr[f] = noise.normal();
    tempAr[f] = noise.normal(0, TEMP_SD);
  }
  const cloudCache = Array.from({ length: nF }, (_, f) => new DayCache((day) => sim.cloudCover(f, day)));
  const transmittance = new Float64Array(nF);
  const ambient = new Float64Array(nF);
  const sumAmbient = new Float64Array(nF);
  const supply = new Float64Array(nF);

  // Per-DT phase: the LV network's power flow (loads per node: the meter legs' leaves).
  const legNode = new Int32Array(n * 3);
  const solvers: PowerFlowSolver[] = [];
  const nodeP: Float64Array[] = [];
  const nodeQ: Float64Array[] = [];
  for (const dt of dts)
    for (let ph = 1; ph <= 3; ph++) {
      const solver = new PowerFlowSolver(phaseNetwork(dt, meters, ph, legNode));
      solvers.push(solver);
      nodeP.push(new Float64Array(solver.network.parent.length));
      nodeQ.push(new Float64Array(solver.network.parent.length));
    }
  const poleNode = new Int32Array(n); // the meter's pole's node in its phase networks
  for (let i = 0; i < n; i++) poleNode[i] = meters[i]!.pole + 1;
  const sumDtV = new Float64Array(nDt * 3);
  const sumSource = new Float64Array(nDt);
  const sumPoleV = new Float64Array(n * 3);
  const sumTrueV = new Float64Array(n * 3);

  let zDay = Number.NaN;

  for (let ts = sim.firstTs; ts + interval <= o.endMs; ts += interval) {
    sumP.fill(0);
    sumQ.fill(0);
    sumV.fill(0);
    sumI.fill(0);
    zSum.fill(0);
    sumDtV.fill(0);
    sumSource.fill(0);
    sumPoleV.fill(0);
    sumTrueV.fill(0);
    sumAmbient.fill(0);

    for (let k = 0; k < perInterval; k++) {
      const t = ts + k * MINUTE_MS;
      const utcDay = Math.floor(t / DAY_MS);
      if (utcDay !== zDay) {
        zDay = utcDay;
        for (let i = 0; i < n; i++) {
          const m = meters[i]!;
          for (let l = 0; l < m.legs; l++) {
            const at = i * 3 + l;
            zOhm[at] = sim.impedanceMohm(i, l + 1, utcDay) / 1000;
            solvers[m.dtIndex * 3 + legPhase[at]!]!.network.r[legNode[at]!] = zOhm[at]!;
          }
        }
      }
      const localDay = localDayOf(t);
      const hour = localHourOf(t);
      const weekend = isWeekend(localDay);
      const sinEl = sunElevationSine(t);
      const sun = sinEl > 0 ? sinEl ** 1.2 : 0;
      const occupancy = acOccupancy(hour, weekend);
      const mvPattern = -0.007 * bump(hour, 20, 2) + 0.005 * bump(hour, 3.5, 3);

      for (let f = 0; f < nF; f++) {
        cloudAr[f] = CLOUD_PHI * cloudAr[f]! + Math.sqrt(1 - CLOUD_PHI * CLOUD_PHI) * noise.normal();
        const passing = Math.min(1, Math.max(0, 0.55 + 0.3 * cloudAr[f]!));
        transmittance[f] = 1 - cloudCache[f]!.get(localDay) * passing;
        tempAr[f] = TEMP_PHI * tempAr[f]! + TEMP_SD * Math.sqrt(1 - TEMP_PHI * TEMP_PHI) * noise.normal();
        ambient[f] = sim.ambientBaseC(f, t) + tempAr[f]!;
        sumAmbient[f] = sumAmbient[f]! + ambient[f]!;
        drift[f] = DRIFT_PHI * drift[f]! + DRIFT_SD * Math.sqrt(1 - DRIFT_PHI * DRIFT_PHI) * noise.normal();
        supply[f] = 1 + drift[f]! + mvPattern;
      }

      for (let i = 0; i < n; i++) {
        const m = meters[i]!;
        const a = activity(hour, weekend, m.morningHour, m.eveningHour);
        logNoise[i] = NOISE_PHI * logNoise[i]! + NOISE_INNOVATION * noise.normal();
        if (t >= applianceUntil[i]!) applianceKw[i] = 0;
        if (applianceKw[i] === 0 && noise.chance(0.005 * a)) {
          applianceKw[i] = noise.uniform(0.6, 2.2);
          applianceUntil[i] = t + (2 + noise.int(19)) * MINUTE_MS;
        }
        let acKw = 0;
        if (m.acKw) {
          const duty = Math.min(1, Math.max(0, (ambient[m.feederIndex]! - 23) / 9)) * occupancy;
          const u = noise.next();
          if (acOn[i] ? u < 0.15 * (1 - duty) : u < 0.15 * duty) acOn[i] = acOn[i] ? 0 : 1;
          acKw = acOn[i] ? m.acKw : 0;
        }
        const base =
          m.baseKw * a * Math.exp(logNoise[i]! - (NOISE_SD * NOISE_SD) / 2) + applianceKw[i]! + acKw;
        let q = base * tanPhi[i]!;
        let p = base;
        if (m.evKw) {
          const [yesterday, today] = evCache[i]!.get(localDay);
          if (
            (yesterday && t >= yesterday[0] && t < yesterday[1]) ||
            (today && t >= today[0] && t < today[1])
          ) {
            p += m.evKw;
            q += 0.05 * m.evKw;
          }
        }
        if (m.pvKwp) p -= m.pvKwp * 0.82 * m.pvOrientation * sun * transmittance[m.feederIndex]!;
        // The power flow sees the household without its battery (module comment); the meter sees both.
        const pFlow = p;
        for (const [start, end, kw] of sim.flexSpans[i]!) if (t >= start && t < end) p += kw;
        minuteP[i] = p;
        sumP[i] = sumP[i]! + p;
        sumQ[i] = sumQ[i]! + q;
        if (p > 0) importKwh[i] = importKwh[i]! + p / 60;
        else exportKwh[i] = exportKwh[i]! - p / 60;
        const pLeg = (pFlow * 1000) / m.legs;
        const qLeg = (q * 1000) / m.legs;
        for (let l = 0; l < m.legs; l++) {
          const at = i * 3 + l;
          const net = m.dtIndex * 3 + legPhase[at]!;
          nodeP[net]![legNode[at]!] = pLeg;
          nodeQ[net]![legNode[at]!] = qLeg;
        }
      }

      for (let d = 0; d < nDt; d++) {
        const dt = dts[d]!;
        const source = dt.tapV * supply[dt.feederIndex]!;
        sumSource[d] = sumSource[d]! + source;
        for (let ph = 0; ph < 3; ph++) {
          const at = d * 3 + ph;
          const solver = solvers[at]!;
          solver.solve(source, nodeP[at]!, nodeQ[at]!, { warm: true });
          sumDtV[at] = sumDtV[at]! + solver.magnitude(1);
        }
      }

      for (let i = 0; i < n; i++) {
        const m = meters[i]!;
        const pLeg = (minuteP[i]! * 1000) / m.legs;
        for (let l = 0; l < m.legs; l++) {
          const at = i * 3 + l;
          const solver = solvers[m.dtIndex * 3 + legPhase[at]!]!;
          const v = solver.magnitude(legNode[at]!);
          sumTrueV[at] = sumTrueV[at]! + v;
          sumPoleV[at] = sumPoleV[at]! + solver.magnitude(poleNode[i]!);
          sumV[at] = sumV[at]! + v + noise.normal(0, VOLTAGE_NOISE_V);
          sumI[at] = sumI[at]! + Math.abs(pLeg / v);
          zSum[at] = zSum[at]! + zOhm[at]!;
        }
      }
    }

    const tsIso = iso(ts);
    const readings: TelemetryReading[] = new Array(n);
    const outage = new Uint8Array(n);
    const impedance: number[][] = new Array(n);
    const poleVoltage: Float64Array[] = new Array(n);
    const meterVoltage: Float64Array[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const m = meters[i]!;
      const legs = new Array(m.legs);
      const z = new Array(m.legs);
      const vPole = new Float64Array(m.legs);
      const vTrue = new Float64Array(m.legs);
      for (let l = 0; l < m.legs; l++) {
        const at = i * 3 + l;
        legs[l] = { leg: l + 1, v: round(sumV[at]! / perInterval, 1), i: round(sumI[at]! / perInterval, 2) };
        z[l] = (zSum[at]! / perInterval) * 1000;
        vPole[l] = sumPoleV[at]! / perInterval;
        vTrue[l] = sumTrueV[at]! / perInterval;
      }
      impedance[i] = z;
      poleVoltage[i] = vPole;
      meterVoltage[i] = vTrue;
      readings[i] = {
        ts: tsIso,
        p_kw: round(sumP[i]! / perInterval, 3),
        q_kvar: round(sumQ[i]! / perInterval, 3),
        legs,
        e_imp_kwh: round(importKwh[i]!, 3),
        e_exp_kwh: round(exportKwh[i]!, 3),
      };
      const oc = outageCache[i];
      if (oc) {
        const day = Math.floor(ts / DAY_MS);
        for (const span of oc.get(day)) if (span && ts >= span[0] && ts < span[1]) outage[i] = 1;
      }
    }
    const dtVoltage: Float64Array[] = new Array(nDt);
    for (let d = 0; d < nDt; d++) {
      const v = new Float64Array(3);
      for (let ph = 0; ph < 3; ph++) v[ph] = sumDtV[d * 3 + ph]! / perInterval;
      dtVoltage[d] = v;
    }
    const weather: WeatherReading[] = new Array(nF);
    for (let f = 0; f < nF; f++)
      weather[f] = { ts: tsIso, ambient_c: round(sumAmbient[f]! / perInterval, 1) };
    yield {
      ts,
      emitTs: ts + interval,
      readings,
      outage,
      sourceVoltage: sumSource.map((v) => v / perInterval),
      dtVoltage,
      poleVoltage,
      meterVoltage,
      impedanceMohm: impedance,
      weather,
    };
  }
}

function* runMessages(sim: Simulation): Generator<SimMessage, void, undefined> {
  const meters = sim.meters;
  const topics = meters.map((m) => telemetryTopic(m.meter_id));
  const weatherTopics = sim.stations.map(weatherTopic);
  const stored: TelemetryReading[][] = meters.map(() => []);
  const backfill = sim.options.backfillSilent;
  for (const step of sim.steps()) {
    for (let i = 0; i < meters.length; i++) {
      const reading = step.readings[i]!;
      if (step.outage[i]) {
        if (backfill) stored[i]!.push(reading);
        continue;
      }
      const source = meters[i]!.meter_id;
      const pending = stored[i]!;
      if (pending.length) {
        yield {
          kind: 'telemetry',
          topic: topics[i]!,
          source,
          payload: pending,
          readings: pending.length,
          ts: step.emitTs,
        };
        stored[i] = [];
      }
      yield { kind: 'telemetry', topic: topics[i]!, source, payload: reading, readings: 1, ts: step.emitTs };
    }
    for (let f = 0; f < step.weather.length; f++)
      yield {
        kind: 'weather',
        topic: weatherTopics[f]!,
        source: sim.stations[f]!,
        payload: step.weather[f]!,
        readings: 1,
        ts: step.emitTs,
      };
  }
}
