/**
 * npm run bench:physics — throughput of the grid-physics code on one core, in DT-slots per second (one DT
 * advanced by one 15-minute slot). Each section runs a simulated fleet slot by slot, every DT of the fleet
 * per slot, the way a processor closes a slot for all the DTs of its partition.
 *
 *   thermal model   IEC 60076-7 top oil, hot spot, ageing and loss of life (processors/thermal.ts)
 *
 * BENCH_DTS (default 10000) and BENCH_DAYS (default 365) size the fleet and the period. The stress
 * processor's section goes in SECTIONS next to the thermal model's.
 */
import { COOLING_SETS, ThermalModel, ThermalStates, type ThermalConstants } from '../processors/thermal.js';

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

const SECTIONS: Section[] = [thermal];

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
