/**
 * npm run bench:physics — throughput of the grid-physics code on one core, in DT-slots per second (one DT
 * advanced by one 15-minute slot). Each section runs a simulated fleet slot by slot, every DT of the fleet
 * per slot, the way a processor closes a slot for all the DTs of its partition.
 *
 *   thermal model   IEC 60076-7 top oil, hot spot, ageing and loss of life (processors/thermal/thermal.ts)
 *   stress          the stress processor (processors/stress/stress.ts) fed final envelopes and weather: thermal
 *                   state, observed exceedances and the next slot's stress probabilities, no operating
 *                   envelopes (envelopeEverySlots 0)
 *   stress + DOE    the same processor, as configured by default: after every slot also the operating
 *                   envelope and stress probabilities of the next 96 slots (96 rows a DT-slot)
 *
 * BENCH_DTS (default 10000) and BENCH_DAYS (default 365) size the fleet and the thermal model's period. The
 * stress sections run BENCH_STRESS_DAYS (default 7) days without operating envelopes (which also gives
 * every DT a history of comparable slots), then BENCH_DOE_DAYS (default 1) with them, from mid-year (day
 * 180 of the fleet's weather: summer, the stressful season).
 */
import { SLOT_MS } from '../core/time.js';
import {
  DEFAULT_STRESS_CONFIG,
  initialStressState,
  stepStress,
  type StressConfig,
  type StressState,
} from '../processors/stress/stress.js';
import {
  COOLING_SETS,
  ThermalModel,
  ThermalStates,
  type ThermalConstants,
} from '../processors/thermal/thermal.js';
import type { DtEnvelope, TopologyTransformer } from '../schemas/types.gen.js';

const DTS = Number(process.env.BENCH_DTS ?? 10_000);
const DAYS = Number(process.env.BENCH_DAYS ?? 365);
const SLOTS_PER_DAY = 96;

interface SectionResult {
  /** What was run, for the first line. */
  description: string;
  dtSlots: number;
  seconds: number;
  /** Further lines: what the run computed, so a reader can see it did real work. */
  details: string[];
}

interface Section {
  name: string;
  run(fleet: Fleet): SectionResult;
}

/** A deterministic simulated fleet: per DT a rating margin and a phase; one ambient series for all. */
interface Fleet {
  dts: number;
  days: number;
  /** Per DT: peak load factor (0.4 to 1.2) and a shift of its daily shape in slots. */
  peak: Float64Array;
  shift: Int32Array;
  /** A residential daily shape (96 slots, peak 1). */
  shape: Float64Array;
  /** Ambient °C per slot of the period (shared: one weather station). */
  ambient: Float64Array;
  /** Per day: a load level (weekends, seasons). */
  dayLevel: Float64Array;
}

function makeFleet(dts: number, days: number): Fleet {
  let seed = 42;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32;
  const shape = new Float64Array(SLOTS_PER_DAY);
  for (let s = 0; s < SLOTS_PER_DAY; s++) {
    const hour = s / 4;
    const morning = Math.exp(-((hour - 7.5) ** 2) / 3);
    const evening = Math.exp(-((hour - 19) ** 2) / 5);
    shape[s] = 0.25 + 0.35 * morning + 0.75 * evening;
  }
  const max = Math.max(...shape);
  for (let s = 0; s < SLOTS_PER_DAY; s++) shape[s]! /= max;
  const ambient = new Float64Array(days * SLOTS_PER_DAY);
  const dayLevel = new Float64Array(days);
  for (let d = 0; d < days; d++) {
    const season = Math.cos((2 * Math.PI * (d - 200)) / 365);
    dayLevel[d] = (d % 7 >= 5 ? 1.1 : 1) * (1 + 0.15 * season * season);
    const mean = 15 + 10 * season + 4 * (random() - 0.5);
    for (let s = 0; s < SLOTS_PER_DAY; s++)
      ambient[d * SLOTS_PER_DAY + s] = mean + 6 * Math.sin((2 * Math.PI * (s / 4 - 9)) / 24);
  }
  const peak = new Float64Array(dts);
  const shift = new Int32Array(dts);
  for (let i = 0; i < dts; i++) {
    peak[i] = 0.4 + 0.8 * random();
    shift[i] = Math.floor(random() * 8) - 4;
  }
  return { dts, days, peak, shift, shape, ambient, dayLevel };
}

/** 16 distinct models: the three standard sets with varied heat-run figures, both papers. */
function fleetModels(): ThermalModel[] {
  const sets = [COOLING_SETS['distribution-ONAN'], COOLING_SETS['power-ONAN'], COOLING_SETS['power-ONAF']];
  return Array.from({ length: 16 }, (_, m) => {
    const base = sets[m % 3]!;
    const constants: ThermalConstants = {
      ...base,
      top_oil_rise_k: base.top_oil_rise_k - 4 + (m % 5) * 2,
      hot_spot_gradient_k: base.hot_spot_gradient_k - 2 + (m % 4),
    };
    return new ThermalModel(constants, { paper: m % 4 === 3 ? 'upgraded' : 'normal' });
  });
}

const thermal: Section = {
  name: 'thermal model',
  run(fleet) {
    const models = fleetModels();
    const modelOf = Array.from({ length: fleet.dts }, (_, i) => models[i % models.length]!);
    const states = new ThermalStates(fleet.dts);
    const slots = fleet.days * SLOTS_PER_DAY;
    const pass = (slotCount: number) => {
      for (let i = 0; i < fleet.dts; i++) modelOf[i]!.initSteady(states, i, 0.3, fleet.ambient[0]!);
      for (let t = 0; t < slotCount; t++) {
        const ambient = fleet.ambient[t]!;
        const level = fleet.dayLevel[(t / SLOTS_PER_DAY) | 0]!;
        const daySlot = t % SLOTS_PER_DAY;
        for (let i = 0; i < fleet.dts; i++) {
          const load = fleet.peak[i]! * level * fleet.shape[(daySlot + fleet.shift[i]! + 96) % 96]!;
          modelOf[i]!.stepSlot(states, i, load, ambient);
        }
      }
    };
    pass(Math.min(slots, 2 * SLOTS_PER_DAY)); // warm-up: let the JIT settle
    const started = process.hrtime.bigint();
    pass(slots);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;

    let hottest = -Infinity;
    let meanLoss = 0;
    let substeps = 0;
    for (let i = 0; i < fleet.dts; i++) {
      hottest = Math.max(hottest, states.hotSpotC(i));
      meanLoss += states.lossOfLifeMin(i) / fleet.dts;
    }
    for (const m of models) substeps += m.slotPlan.substeps / models.length;
    return {
      description: `${fleet.dts} DTs x ${fleet.days} days of 15-min slots (${slots} slots; ${models.length} models, ${substeps.toFixed(1)} sub-steps a slot on average)`,
      dtSlots: fleet.dts * slots,
      seconds,
      details: [
        `mean loss of life ${(meanLoss / 60 / 24).toFixed(1)} days in ${fleet.days} days; hottest hot spot at the end ${hottest.toFixed(1)} °C`,
      ],
    };
  },
};

const STRESS_DAYS = Number(process.env.BENCH_STRESS_DAYS ?? 7);
const DOE_DAYS = Number(process.env.BENCH_DOE_DAYS ?? 1);
/** Fleet day the stress sections start on (wrapping round the fleet's period). */
const STRESS_START_DAY = 180;

/** The stress processor's state, carried from the `stress` section into `stress + DOE`. */
const stressRun: { state: StressState | null; slot: number; rated: Float64Array } = {
  state: null,
  slot: 0,
  rated: new Float64Array(0),
};

/**
 * Feeds `slots` slots of the fleet to the stress processor: per slot one weather observation (at the start of
 * the next slot, which completes this one's weather), then every DT's final envelope. Load: the fleet's
 * profile with a per-DT random departure (AR(1), 10 %), so the forecasts have errors to learn; voltage falls
 * with load. Returns the time and what came out.
 */
function feedStress(fleet: Fleet, slots: number, config: StressConfig) {
  const T0 = Date.UTC(2026, 0, 1) + STRESS_START_DAY * 86_400_000;
  const totalSlots = fleet.days * SLOTS_PER_DAY;
  const ambientAt = (t: number) => fleet.ambient[(STRESS_START_DAY * SLOTS_PER_DAY + t) % totalSlots]!;
  if (!stressRun.state) {
    const state = initialStressState();
    stressRun.rated = new Float64Array(fleet.dts);
    for (let i = 0; i < fleet.dts; i++) {
      const rated = [50, 100, 160, 250, 400][i % 5]!;
      stressRun.rated[i] = rated;
      const transformer: TopologyTransformer = {
        dt_id: `dt-${i}`,
        feeder_id: `fdr-${i % 100}`,
        rated_kva: rated,
        cooling_class: 'ONAN',
        latitude: 51.5,
        longitude: 0,
        weather_station_id: 'ws-1',
        nominal_voltage_v: 230,
        top_oil_rise_k: null,
        hot_spot_gradient_k: null,
        loss_ratio: null,
        tau_oil_min: null,
        tau_winding_min: null,
        tenant: 'default',
        timezone: null,
        topology_version: 1,
      };
      stepStress(state, { type: 'transformer', transformer }, config);
    }
    stepStress(state, { type: 'weather', observation: obs(T0, ambientAt(0)) }, config);
    stressRun.state = state;
  }
  const state = stressRun.state;
  const departure = new Float64Array(fleet.dts);
  let seed = 7 + stressRun.slot;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32 - 0.5;
  let rows = 0;
  let envelopes = 0;
  let stressed = 0;
  let importKw = 0;
  const started = process.hrtime.bigint();
  for (let n = 0; n < slots; n++) {
    const t = stressRun.slot++;
    const slot = T0 + t * SLOT_MS;
    stepStress(state, { type: 'weather', observation: obs(slot + SLOT_MS, ambientAt(t + 1)) }, config);
    const level = fleet.dayLevel[((STRESS_START_DAY + t / SLOTS_PER_DAY) | 0) % fleet.days]!;
    const daySlot = t % SLOTS_PER_DAY;
    for (let i = 0; i < fleet.dts; i++) {
      departure[i] = 0.9 * departure[i]! + 0.09 * random();
      const k =
        fleet.peak[i]! * level * fleet.shape[(daySlot + fleet.shift[i]! + 96) % 96]! * (1 + departure[i]!);
      const kw = 0.95 * k * stressRun.rated[i]!;
      const envelope: DtEnvelope = {
        dt_id: `dt-${i}`,
        slot_start: slot,
        version: 2 * (slot + SLOT_MS) + 1,
        is_final: true,
        net_mean_kw: kw,
        min_kw: 0.9 * kw,
        max_kw: 1.1 * kw,
        p95_kw: 1.08 * kw,
        import_kwh: kw / 4,
        export_kwh: 0,
        q_mean_kvar: 0.33 * kw,
        legs: [
          {
            leg: 1,
            v_min: 238 - (30 * kw) / stressRun.rated[i]!,
            v_mean: 239 - (15 * kw) / stressRun.rated[i]!,
            v_max: 242,
          },
        ],
        meters_reporting: 40,
        meters_connected: 40,
        readings: 600,
        ami_coverage_pct: 100,
        data_quality: 'ami_direct',
        ...{ imputed_kw: 0, imputed_meters: 0, profile_source: 'measured' },
      } as DtEnvelope;
      const outputs = stepStress(state, { type: 'envelope', envelope }, config).outputs;
      rows += outputs.length;
      for (const o of outputs) {
        if (o.type === 'stress' && (o.row.thermal_stress_prob ?? 0) > 0.5) stressed++;
        else if (o.type === 'operating-envelope' && o.row.lead_slots === 1) {
          envelopes++;
          importKw += o.row.import_kw;
        }
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, rows, stressed, envelopes, importKw };
}

function obs(ts: number, ambient: number) {
  return { station_id: 'ws-1', ts, ambient_c: ambient, received_at: ts };
}

const stress: Section = {
  name: 'stress',
  run(fleet) {
    const config = { ...DEFAULT_STRESS_CONFIG, envelopeEverySlots: 0 };
    const slots = STRESS_DAYS * SLOTS_PER_DAY;
    const r = feedStress(fleet, slots, config);
    return {
      description: `${fleet.dts} DTs x ${STRESS_DAYS} days: thermal state, exceedances, next-slot stress probabilities (no operating envelopes)`,
      dtSlots: fleet.dts * slots,
      seconds: r.seconds,
      details: [
        `${r.rows} rows; ${r.stressed} DT-slots forecast more likely than not to be thermally stressed`,
      ],
    };
  },
};

const stressEnvelope: Section = {
  name: 'stress + DOE',
  run(fleet) {
    const slots = DOE_DAYS * SLOTS_PER_DAY;
    const r = feedStress(fleet, slots, DEFAULT_STRESS_CONFIG);
    return {
      description: `${fleet.dts} DTs x ${DOE_DAYS} day(s) more, after every slot also the next 96 slots' operating envelope and probabilities`,
      dtSlots: fleet.dts * slots,
      seconds: r.seconds,
      details: [
        `${r.rows} rows (${(r.rows / (fleet.dts * slots)).toFixed(0)} a DT-slot); mean extra import for the next slot ${(r.importKw / r.envelopes).toFixed(1)} kW`,
      ],
    };
  },
};

const SECTIONS: Section[] = [thermal, stress, stressEnvelope];

console.log(`physics benchmark: single core (node ${process.version}), ${DTS} DTs, ${DAYS} days`);
const fleet = makeFleet(DTS, DAYS);
for (const section of SECTIONS) {
  const result = section.run(fleet);
  const rate = result.dtSlots / result.seconds;
  console.log(`  ${section.name.padEnd(16)} ${result.description}`);
  console.log(
    `  ${''.padEnd(16)} ${result.dtSlots} DT-slots in ${result.seconds.toFixed(2)} s: ${Math.round(rate)} DT-slots/s`,
  );
  for (const line of result.details) console.log(`  ${''.padEnd(16)} ${line}`);
}
