/**
 * npm run bench:processor-memory — the processor's memory at a revision horizon of 24 h, with late data: the
 * pure processors the processor role runs on the readings and the envelopes (processors/load-envelope,
 * impedance, and stress with its thermal model), one state per partition each as their stages keep them, fed
 * a fleet's one-minute readings over a simulated day and more, in two child processes run one after the other
 * with the same input:
 *
 *   unbounded   every closed slot's readings held (packed) for the whole horizon
 *               (GRIDSTREAM_RESIDENT_SLOTS_H = the horizon: the envelope stage without its bound)
 *   bounded     closed slots held for GRIDSTREAM_RESIDENT_SLOTS_H (1 h); a late reading for an older slot
 *               asks for that slot's stored readings, answered here as the warehouse would (every reading
 *               delivered so far: the readings task writes a batch before it loads)
 *
 * The processors are driven as their stage tasks drive them, without a broker or a warehouse (a 26 h day of
 * 100,000 meters through the whole pipeline would take most of an hour on two cores, twice; what the edges
 * hold, librdkafka's buffers and the writers' batches, `npm run bench` shows): each reading to the envelope
 * and impedance states of its DT's partition, each envelope they emit to the stress state of that partition
 * (with the DTs' nameplates and a weather observation a minute per station), and the punctuations after each
 * quarter hour's uploads. Each child prints the peak RSS (VmHWM) of its process, the largest V8 heap and
 * off-heap (typed arrays) seen at the end of a quarter hour, each stage's share of the memory at the end (what
 * releasing its states gives back, after full collections), the readings and impedance estimates held, the
 * slots loaded and its CPU time; the parent prints both, their ratios, and whether the outputs are the same
 * in both: the newest envelope of every DT slot, and every impedance output and stress row in order.
 *
 * The fleet: `--transformers` (1000) × `--meters` (100) meters, each uploading its 15 one-minute readings of a
 * quarter hour at the quarter hour's end (as `npm run bench` does), over `--hours` (26: the 24 h horizon
 * filled, and two more, so the first UTC day's impedance becomes final). Late data as the simulator makes it:
 * `--outage-pct` (3) % of the meters are silent once, from a random quarter hour for 1 to 24 quarter hours (up
 * to 6 h), and then send what they stored with their next upload. Readings go to `--partitions` (8) states by
 * DT, as the log partitions them. The children run with the processor role's malloc settings and V8 heap
 * growth (bench/distributed.ts, core/heap.ts). `--bounded-only 1` runs the bounded child alone and prints its
 * outputs' digests whole, to compare two builds of the processors.
 */
import { createHash } from 'node:crypto';
import { PROCESSOR_HEAP_GROWTH_PCT, applyHeapGrowth } from '../core/heap.js';
import { SLOT_MS } from '../core/time.js';
import { partitionFor } from '../io/log/partitioner.js';
import {
  initialImpedanceState,
  impedanceHeld,
  stepImpedance,
  DEFAULT_IMPEDANCE_CONFIG,
  type ImpedanceConfig,
  type ImpedanceInput,
  type ImpedanceState,
} from '../processors/impedance/impedance.js';
import {
  initialEnvelopeState,
  stepEnvelope,
  type EnvelopeConfig,
  type EnvelopeInput,
  type EnvelopeState,
} from '../processors/load-envelope/load-envelope.js';
import {
  DEFAULT_STRESS_CONFIG,
  initialStressState,
  stepStress,
  type StressConfig,
  type StressInput,
  type StressState,
} from '../processors/stress/stress.js';
import type { DtEnvelope, MeterReading, TopologyTransformer } from '../schemas/types.gen.js';
import { MALLOC_ENV, runChild, setting } from './common.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 6, 1);

const TRANSFORMERS = setting('transformers', 1000);
const METERS = setting('meters', 100);
const HOURS = setting('hours', 26);
const HORIZON_H = setting('horizon-h', 24);
const RESIDENT_H = setting('resident-h', 1);
const LATENESS_S = setting('lateness-s', 300);
const OUTAGE_PCT = setting('outage-pct', 3);
const PARTITIONS = setting('partitions', 8);
/** 1: the bounded run alone (its outputs' digests printed whole, to compare with another build's run). */
const BOUNDED_ONLY = setting('bounded-only', 0) === 1;
const QUARTERS = Math.round(HOURS * 4);
const STATIONS = 10;

/** A small deterministic hash of integers (for the fleet's outages and values). */
function mix(a: number, b = 0): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

const dtId = (dt: number) => `dt-${String(dt).padStart(5, '0')}`;
const meterId = (dt: number, m: number) => `m-${String(dt).padStart(5, '0')}-${String(m).padStart(3, '0')}`;
const stationId = (dt: number) => `ws-${dt % STATIONS}`;

/** The quarter hours [from, to) a meter is silent for (it sends them with the upload of `to`), or null. */
function outageOf(dt: number, m: number): [number, number] | null {
  const h = mix(dt, m);
  if (h % 10_000 >= OUTAGE_PCT * 100) return null;
  const from = mix(h, 1) % Math.max(1, QUARTERS - 1);
  // An outage that ends after the run is never sent.
  return [from, from + 1 + (mix(h, 2) % 24)];
}

/** When a meter's upload of quarter `q` is delivered: at the end of q, or with the upload after its outage. */
function deliveredAt(outage: [number, number] | null, q: number): number {
  return outage && q >= outage[0] && q < outage[1] ? outage[1] : q;
}

/**
 * A meter's reading: household load in kW (decimals as meters send them): a daily base, two appliances
 * switching on and off in blocks of 10 to 45 minutes (the steps the impedance estimator needs; a household
 * shows a few dozen a day), a seventh of the meters exporting rooftop PV at midday; one or three legs. The
 * voltage is the DT's terminal voltage (a slow daily swing) less the leg's current through its service drop
 * (50–400 mΩ), in 0.1 V.
 */
function reading(dt: number, m: number, ts: number, received: number): MeterReading {
  const minute = (ts - T0) / MINUTE;
  const id = dt * 1000 + m;
  const sun = Math.max(0, Math.sin(((minute / 60 - 6) * Math.PI) / 12));
  let p =
    0.3 + 0.4 * Math.max(0, Math.sin(((minute / 60 - 12) * Math.PI) / 12)) - (m % 7 === 0 ? 2 * sun : 0);
  for (let k = 0; k < 2; k++) {
    const block = 10 + (mix(id, k) % 36);
    if (mix(id, 1000 * k + Math.floor(minute / block)) % 100 < 18) p += 1 + (mix(id, 7 + k) % 20) / 10;
  }
  p = Math.round(1000 * (p + (mix(id, minute) % 20) / 1000)) / 1000;
  const legs = m % 10 === 0 ? 3 : 1;
  const i = Math.round((100 * Math.abs(p) * 1000) / 230 / legs) / 100;
  const zOhm = (50 + (mix(id, 3) % 350)) / 1000;
  const terminal = 236 + 2 * Math.sin((minute / 1440) * 2 * Math.PI + dt);
  const v = (leg: number) => Math.round(10 * (terminal + (leg - 2) * 0.3 - zOhm * i)) / 10;
  return {
    meter_id: meterId(dt, m),
    dt_id: dtId(dt),
    ts,
    p_kw: p,
    q_kvar: Math.round(p * 300) / 1000,
    legs: legs === 3 ? [1, 2, 3].map((leg) => ({ leg, v: v(leg), i })) : [{ leg: 1 + (m % 3), v: v(2), i }],
    e_imp_kwh: null,
    e_exp_kwh: null,
    received_at: received,
  };
}

/** The quarter's 15 readings of a meter, received when delivered. */
function upload(dt: number, m: number, q: number, delivered: number): MeterReading[] {
  const received = T0 + (delivered + 1) * SLOT_MS + 20_000 + (mix(dt, m) % 30_000);
  return Array.from({ length: 15 }, (_, k) => reading(dt, m, T0 + q * SLOT_MS + k * MINUTE, received));
}

function nameplate(dt: number): TopologyTransformer {
  return {
    dt_id: dtId(dt),
    feeder_id: `f-${dt % 50}`,
    rated_kva: [100, 160, 250][dt % 3]!,
    cooling_class: 'ONAN',
    latitude: 12.9 + (dt % 20) / 100,
    longitude: 77.5 + (dt % 30) / 100,
    weather_station_id: stationId(dt),
    nominal_voltage_v: 230,
    top_oil_rise_k: null,
    hot_spot_gradient_k: null,
    loss_ratio: null,
    tau_oil_min: null,
    tau_winding_min: null,
    tenant: 'default',
    timezone: 'UTC',
    topology_version: 1,
  };
}

type Stage = 'envelope' | 'impedance' | 'stress';
const STAGES: Stage[] = ['envelope', 'impedance', 'stress'];

interface ChildResult {
  mode: string;
  peakRssMiB: number;
  peakHeapMiB: number;
  peakOffHeapMiB: number;
  /** Per stage: MiB of heap and typed arrays its states held at the end (what releasing them gave back). */
  shareMiB: Record<Stage, number>;
  /** Heap and typed arrays left once every state was released (the bench's own, Node's). */
  restMiB: number;
  heldReadings: number;
  heldSlots: number;
  heldBytes: number;
  peakEstimates: number;
  peakLegDays: number;
  loads: number;
  loadedReadings: number;
  readings: number;
  tooLate: number;
  cpuS: number;
  wallS: number;
  digests: Record<Stage, string>;
  counts: Record<Stage, number>;
}

/**
 * A digest of the newest envelope of each DT slot (by version): the same whatever order revisions came in (a
 * run holding fewer slots revises through loads). In typed arrays, a DT slot at a fixed place, so that the
 * comparison adds little to the memory measured (a Map of keys and hashes would add ~15 MiB for 104,000 DT
 * slots).
 */
class NewestEnvelopes {
  private readonly versions = new Float64Array(TRANSFORMERS * QUARTERS).fill(-1);
  private readonly hashes = new Uint8Array(TRANSFORMERS * QUARTERS * 20);
  size = 0;
  offer(e: DtEnvelope): void {
    const at = Number(e.dt_id.slice(3)) * QUARTERS + (e.slot_start - T0) / SLOT_MS;
    if (this.versions[at]! >= e.version) return;
    if (this.versions[at] === -1) this.size++;
    this.versions[at] = e.version;
    this.hashes.set(createHash('sha1').update(JSON.stringify(e)).digest(), at * 20);
  }
  digest(): string {
    return createHash('sha1').update(this.versions).update(this.hashes).digest('hex');
  }
}

function child(mode: 'unbounded' | 'bounded'): ChildResult {
  applyHeapGrowth(undefined, true);
  const envelopeConfig: EnvelopeConfig = {
    allowedLatenessMs: LATENESS_S * 1000,
    revisionHorizonMs: HORIZON_H * HOUR,
    residentMs: mode === 'bounded' ? RESIDENT_H * HOUR : HORIZON_H * HOUR,
  };
  const impedanceConfig: ImpedanceConfig = {
    ...DEFAULT_IMPEDANCE_CONFIG,
    allowedLatenessMs: LATENESS_S * 1000,
  };
  const stressConfig: StressConfig = { ...DEFAULT_STRESS_CONFIG, timeZone: 'UTC' };
  const envelopes = new Map<number, EnvelopeState>();
  const impedance = new Map<number, ImpedanceState>();
  const stress = new Map<number, StressState>();
  for (let p = 0; p < PARTITIONS; p++) {
    envelopes.set(p, initialEnvelopeState());
    impedance.set(p, initialImpedanceState());
    stress.set(p, initialStressState());
  }
  const partitionOf = Array.from({ length: TRANSFORMERS }, (_, dt) => partitionFor(dtId(dt), PARTITIONS));
  const outages = Array.from({ length: TRANSFORMERS }, (_, dt) =>
    Array.from({ length: METERS }, (_, m) => outageOf(dt, m)),
  );
  const newestEnvelopes = new NewestEnvelopes();
  // The impedance processor sees the same readings in the same order in both runs: every output, in order.
  const impedanceOutputs = createHash('sha1');
  let impedanceCount = 0;
  const stressRows = createHash('sha1');
  let stressCount = 0;
  let loads = 0;
  let loadedReadings = 0;
  let readings = 0;
  let tooLate = 0;
  /** Time spent hashing outputs for the comparison: not the processors', taken off the CPU time. */
  let hashingMs = 0;
  const hashing = (work: () => void) => {
    const from = performance.now();
    work();
    hashingMs += performance.now() - from;
  };
  const stepStressOf = (partition: number, input: StressInput) => {
    const { outputs } = stepStress(stress.get(partition)!, input, stressConfig);
    for (const output of outputs)
      if (output.type === 'stress') {
        stressCount++;
        hashing(() => stressRows.update(JSON.stringify(output.row)));
      }
  };
  const asks: Array<{ partition: number; dt: string; start: number }> = [];
  const stepEnvelopeOf = (partition: number, input: EnvelopeInput) => {
    const { outputs } = stepEnvelope(envelopes.get(partition)!, input, envelopeConfig);
    for (const output of outputs)
      if (output.type === 'envelope') {
        const e = output.envelope;
        hashing(() => newestEnvelopes.offer(e));
        stepStressOf(partition, { type: 'envelope', envelope: e });
      } else if (output.type === 'load-slot')
        asks.push({ partition, dt: output.dt_id, start: output.slot_start });
      else tooLate++;
  };
  const stepImpedanceOf = (partition: number, input: ImpedanceInput) => {
    const { outputs } = stepImpedance(impedance.get(partition)!, input, impedanceConfig);
    for (const output of outputs)
      if (output.type !== 'too-late') {
        impedanceCount++;
        hashing(() => impedanceOutputs.update(JSON.stringify(output)));
      }
  };
  const apply = (partition: number, r: MeterReading) => {
    stepEnvelopeOf(partition, { type: 'reading', reading: r });
    stepImpedanceOf(partition, { type: 'reading', reading: r });
    readings++;
  };
  for (let dt = 0; dt < TRANSFORMERS; dt++)
    stepStressOf(partitionOf[dt]!, { type: 'transformer', transformer: nameplate(dt) });
  let peakHeap = 0;
  let peakOffHeap = 0;
  let peakEstimates = 0;
  let peakLegDays = 0;
  const started = process.cpuUsage();
  const wall = performance.now();
  for (let q = 0; q < QUARTERS; q++) {
    for (let dt = 0; dt < TRANSFORMERS; dt++) {
      const partition = partitionOf[dt]!;
      for (let m = 0; m < METERS; m++) {
        const outage = outages[dt]![m]!;
        if (deliveredAt(outage, q) !== q) continue;
        // Back from an outage: what it stored first, then this quarter's upload.
        if (outage && q === outage[1])
          for (let late = outage[0]; late < outage[1]; late++)
            for (const r of upload(dt, m, late, q)) apply(partition, r);
        for (const r of upload(dt, m, q, q)) apply(partition, r);
      }
    }
    // The warehouse's answers: every reading delivered so far of the DT with ts in the slot.
    while (asks.length) {
      const { partition, dt, start } = asks.shift()!;
      const dtIndex = Number(dt.slice(3));
      const sq = (start - T0) / SLOT_MS;
      const stored: MeterReading[] = [];
      for (let m = 0; m < METERS; m++) {
        const delivered = deliveredAt(outages[dtIndex]![m]!, sq);
        if (delivered <= q) stored.push(...upload(dtIndex, m, sq, delivered));
      }
      loads++;
      loadedReadings += stored.length;
      stepEnvelopeOf(partition, { type: 'slot-readings', dt_id: dt, slot_start: start, readings: stored });
    }
    // The weather stations' observations of the quarter (one a minute), then the punctuations.
    for (let s = 0; s < STATIONS; s++)
      for (let k = 0; k < 15; k++) {
        const ts = T0 + q * SLOT_MS + k * MINUTE;
        const observation = {
          station_id: stationId(s),
          ts,
          ambient_c: 24 + 6 * Math.sin(((ts - T0) / HOUR - 9) * (Math.PI / 12)),
          received_at: ts + 5_000,
        };
        for (let p = 0; p < PARTITIONS; p++) stepStressOf(p, { type: 'weather', observation });
      }
    for (let p = 0; p < PARTITIONS; p++) {
      stepEnvelopeOf(p, { type: 'emit' });
      stepImpedanceOf(p, { type: 'emit' });
      stepStressOf(p, { type: 'emit' });
    }
    const memory = process.memoryUsage();
    peakHeap = Math.max(peakHeap, memory.heapUsed);
    // external includes arrayBuffers (the typed arrays' memory).
    peakOffHeap = Math.max(peakOffHeap, memory.external);
    let estimates = 0;
    let legDays = 0;
    for (const state of impedance.values()) {
      const held = impedanceHeld(state);
      estimates += held.estimates;
      legDays += held.legDays;
    }
    if (estimates > peakEstimates) [peakEstimates, peakLegDays] = [estimates, legDays];
  }
  const cpu = process.cpuUsage(started);
  let heldReadings = 0;
  let heldSlots = 0;
  let heldBytes = 0;
  for (const state of envelopes.values())
    for (const dt of state.dts.values())
      for (const slot of dt.slots.values()) {
        heldSlots++;
        heldReadings += slot.readings.size;
        heldBytes += slot.readings.bytes;
      }
  // Each stage's share: what releasing its states gives back, after full collections.
  const gc = (globalThis as { gc?: () => void }).gc!;
  const used = () => {
    gc();
    gc();
    const memory = process.memoryUsage();
    return (memory.heapUsed + memory.external) / 2 ** 20;
  };
  const shareMiB = {} as Record<Stage, number>;
  let before = used();
  for (const stage of ['stress', 'impedance', 'envelope'] as const) {
    ({ stress, impedance, envelope: envelopes })[stage].clear();
    const after = used();
    shareMiB[stage] = before - after;
    before = after;
  }
  return {
    mode,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    peakHeapMiB: peakHeap / 2 ** 20,
    peakOffHeapMiB: peakOffHeap / 2 ** 20,
    shareMiB,
    restMiB: before,
    heldReadings,
    heldSlots,
    heldBytes,
    peakEstimates,
    peakLegDays,
    loads,
    loadedReadings,
    readings,
    tooLate,
    cpuS: (cpu.user + cpu.system) / 1e6 - hashingMs / 1000,
    wallS: (performance.now() - wall) / 1000,
    digests: {
      envelope: newestEnvelopes.digest(),
      impedance: impedanceOutputs.digest('hex'),
      stress: stressRows.digest('hex'),
    },
    counts: { envelope: newestEnvelopes.size, impedance: impedanceCount, stress: stressCount },
  };
}

const MB = (mib: number) => ((mib * 2 ** 20) / 1e6).toFixed(0);

async function main() {
  const childAt = process.argv.indexOf('--child');
  if (childAt >= 0) {
    process.send!(child(process.argv[childAt + 1] as 'unbounded' | 'bounded'));
    return;
  }
  const fleet = TRANSFORMERS * METERS;
  console.log(
    'processor memory at the revision horizon, with late data (envelope, impedance and stress processors, one process each)',
  );
  console.log(
    `  fleet        ${TRANSFORMERS} DTs x ${METERS} meters = ${fleet} meters, one-minute readings, 15 per upload, ${HOURS} h simulated, ${PARTITIONS} partition states a stage`,
  );
  console.log(
    `  settings     revision horizon ${HORIZON_H} h, allowed lateness ${LATENESS_S} s, resident ${RESIDENT_H} h; ${OUTAGE_PCT}% of meters silent once for 15 min to 6 h, then sending what they stored; heap growth ${PROCESSOR_HEAP_GROWTH_PCT}%, MALLOC_ARENA_MAX=${MALLOC_ENV.MALLOC_ARENA_MAX}`,
  );
  const results: ChildResult[] = [];
  for (const mode of BOUNDED_ONLY ? ['bounded'] : ['unbounded', 'bounded']) {
    const r = await runChild<ChildResult>(import.meta.url, ['--child', mode, ...process.argv.slice(2)], mode);
    results.push(r);
    const label =
      mode === 'unbounded' ? `unbounded (slots held ${HORIZON_H} h)` : `bounded (slots held ${RESIDENT_H} h)`;
    console.log(`  ${label}`);
    console.log(
      `    peak RSS   ${r.peakRssMiB.toFixed(0)} MiB (${MB(r.peakRssMiB)} MB); V8 heap up to ${r.peakHeapMiB.toFixed(0)} MiB, off-heap (typed arrays) up to ${r.peakOffHeapMiB.toFixed(0)} MiB`,
    );
    console.log(
      `    share      at the end: ${STAGES.map((s) => `${s} ${r.shareMiB[s].toFixed(0)} MiB`).join(', ')}; the rest ${r.restMiB.toFixed(0)} MiB (heap and typed arrays after a full GC)`,
    );
    console.log(
      `    held       ${r.heldSlots} DT slots, ${r.heldReadings} readings in ${(r.heldBytes / 2 ** 20).toFixed(1)} MiB at the end (${(r.heldBytes / Math.max(1, r.heldReadings)).toFixed(1)} bytes a reading); impedance estimates up to ${r.peakEstimates} in ${r.peakLegDays} leg-days (${(r.peakEstimates / Math.max(1, r.peakLegDays)).toFixed(1)} a leg-day)`,
    );
    console.log(
      `    loads      ${r.loads} DT slots loaded (${r.loadedReadings} stored readings re-applied, ${((100 * r.loadedReadings) / r.readings).toFixed(1)}% of the ${r.readings} readings); ${r.tooLate} too late`,
    );
    console.log(
      `    CPU        ${r.cpuS.toFixed(1)} s (${((1e6 * r.cpuS) / r.readings).toFixed(2)} µs a reading: the processors, making the readings and the loads' answers) in ${r.wallS.toFixed(1)} s`,
    );
  }
  const goal = (r: ChildResult) =>
    console.log(
      `  goal         bounded peak RSS ${MB(r.peakRssMiB)} MB ${r.peakRssMiB * 2 ** 20 < 500e6 ? '<' : '>='} 500 MB`,
    );
  if (BOUNDED_ONLY) {
    const [r] = results as [ChildResult];
    for (const stage of STAGES)
      console.log(
        `  ${`${stage}:`.padEnd(12)} ${r.counts[stage]} outputs compared, sha1 ${r.digests[stage]}`,
      );
    goal(r);
    return;
  }
  const [unbounded, bounded] = results as [ChildResult, ChildResult];
  console.log(
    `  ratios       bounded / unbounded: peak RSS ${(bounded.peakRssMiB / unbounded.peakRssMiB).toFixed(2)}, readings held ${(bounded.heldReadings / Math.max(1, unbounded.heldReadings)).toFixed(3)}, CPU ${(bounded.cpuS / unbounded.cpuS).toFixed(2)}`,
  );
  const what: Record<Stage, string> = {
    envelope: 'the newest envelope of each of N DT slots',
    impedance: 'each of N outputs (leg-day rows, flags, insufficient leg-days), in order',
    stress: 'each of N stress rows, in order',
  };
  let same = true;
  for (const stage of STAGES) {
    const equal =
      unbounded.digests[stage] === bounded.digests[stage] &&
      unbounded.counts[stage] === bounded.counts[stage];
    same &&= equal;
    console.log(
      `  ${`${stage}:`.padEnd(12)} ${equal ? 'identical' : 'DIFFERENT'}: ${what[stage].replace('N', String(unbounded.counts[stage]))} (sha1 ${unbounded.digests[stage].slice(0, 12)}${equal ? '' : ` vs ${bounded.digests[stage].slice(0, 12)}`})`,
    );
  }
  goal(bounded);
  if (!same) process.exitCode = 1;
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
