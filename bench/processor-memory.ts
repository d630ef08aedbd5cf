/**
 * npm run bench:envelope-memory — the envelope processor's memory at a revision horizon of 24 h, with late
 * data: the pure processor (processors/load-envelope/load-envelope.ts), one state per partition as the
 * readings task keeps them, fed a fleet's one-minute readings over a simulated day and more, in two child
 * processes run one after the other with the same input:
 *
 *   in memory   every closed slot's readings held (packed) for the whole horizon
 *               (GRIDSTREAM_RESIDENT_SLOTS_H = the horizon: the processor as it was)
 *   resident    closed slots held for GRIDSTREAM_RESIDENT_SLOTS_H (1 h); a late reading for an older slot
 *               asks for that slot's stored readings, answered here as the warehouse would (every reading
 *               delivered so far: the readings task writes a batch before it loads)
 *
 * Each prints the peak RSS (VmHWM) of its process, the largest V8 heap and off-heap (typed arrays) seen at
 * the end of a quarter hour, the readings held at the end, the slots loaded and its CPU time; the parent
 * prints both, their ratios, and whether the newest envelope of every DT slot is the same in both.
 *
 * The fleet: `--transformers` (1000) × `--meters` (100) meters, each uploading its 15 one-minute readings of a
 * quarter hour at the quarter hour's end (as `npm run bench` does), over `--hours` (26: the 24 h horizon
 * filled, and two more). Late data as the simulator makes it: `--outage-pct` (3) % of the meters are silent
 * once, from a random quarter hour for 1 to 24 quarter hours (up to 6 h), and then send what they stored with
 * their next upload. Readings go to `--partitions` (8) states by DT, as the log partitions them; the
 * punctuation (emit) runs after each quarter hour's uploads, and so do the loads. The children run with the
 * processor role's malloc settings and V8 heap growth (bench/distributed.ts, core/heap.ts).
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PROCESSOR_HEAP_GROWTH_PCT, applyHeapGrowth } from '../core/heap.js';
import { SLOT_MS } from '../core/time.js';
import { partitionFor } from '../io/log/partitioner.js';
import {
  initialEnvelopeState,
  stepEnvelope,
  type EnvelopeConfig,
  type EnvelopeInput,
  type EnvelopeState,
} from '../processors/load-envelope/load-envelope.js';
import type { MeterReading } from '../schemas/types.gen.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 6, 1);

function setting(name: string, fallback: number): number {
  const flag = process.argv.indexOf(`--${name}`);
  const raw =
    flag >= 0 ? process.argv[flag + 1] : process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: ${raw} is not a number`);
  return value;
}

const TRANSFORMERS = setting('transformers', 1000);
const METERS = setting('meters', 100);
const HOURS = setting('hours', 26);
const HORIZON_H = setting('horizon-h', 24);
const RESIDENT_H = setting('resident-h', 1);
const LATENESS_S = setting('lateness-s', 300);
const OUTAGE_PCT = setting('outage-pct', 3);
const PARTITIONS = setting('partitions', 8);
const QUARTERS = Math.round(HOURS * 4);

/** A small deterministic hash of integers (for the fleet's outages and values). */
function mix(a: number, b = 0): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

const dtId = (dt: number) => `dt-${String(dt).padStart(5, '0')}`;
const meterId = (dt: number, m: number) => `m-${String(dt).padStart(5, '0')}-${String(m).padStart(3, '0')}`;

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

/** A meter's reading: household load in watts (decimals as meters send them), one or three legs. */
function reading(dt: number, m: number, ts: number, received: number): MeterReading {
  const minute = (ts - T0) / MINUTE;
  const h = mix(dt * 1000 + m, minute);
  const base = 0.3 + 1.5 * Math.max(0, Math.sin(((minute / 60 - 6) * Math.PI) / 12));
  const p = Math.round(1000 * (base + (h % 1000) / 1000 - (m % 7 === 0 ? 1.2 : 0))) / 1000;
  const v = (k: number) => Math.round(2300 + ((h >>> (4 * k)) % 60) - 30) / 10;
  return {
    meter_id: meterId(dt, m),
    dt_id: dtId(dt),
    ts,
    p_kw: p,
    q_kvar: Math.round(p * 300) / 1000,
    legs:
      m % 10 === 0
        ? [1, 2, 3].map((leg) => ({ leg, v: v(leg), i: Math.abs(p) * 1.5 }))
        : [{ leg: 1 + (m % 3), v: v(0), i: Math.abs(p) * 4.3 }],
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

interface ChildResult {
  mode: string;
  peakRssMiB: number;
  peakHeapMiB: number;
  peakOffHeapMiB: number;
  heldReadings: number;
  heldSlots: number;
  heldBytes: number;
  loads: number;
  loadedReadings: number;
  readings: number;
  tooLate: number;
  cpuS: number;
  wallS: number;
  digest: string;
  slots: number;
}

function child(mode: 'in-memory' | 'resident'): ChildResult {
  applyHeapGrowth(undefined, true);
  const config: EnvelopeConfig = {
    allowedLatenessMs: LATENESS_S * 1000,
    revisionHorizonMs: HORIZON_H * HOUR,
    residentMs: mode === 'resident' ? RESIDENT_H * HOUR : HORIZON_H * HOUR,
  };
  const states = new Map<number, EnvelopeState>();
  const partitionOf = Array.from({ length: TRANSFORMERS }, (_, dt) => partitionFor(dtId(dt), PARTITIONS));
  for (let p = 0; p < PARTITIONS; p++) states.set(p, initialEnvelopeState());
  const outages = Array.from({ length: TRANSFORMERS }, (_, dt) =>
    Array.from({ length: METERS }, (_, m) => outageOf(dt, m)),
  );
  // The newest envelope of each DT slot: its version and a hash of the whole record.
  const newest = new Map<string, { version: number; hash: string }>();
  let loads = 0;
  let loadedReadings = 0;
  let readings = 0;
  let tooLate = 0;
  /** Time spent hashing envelopes for the comparison: not the processor's, taken off its CPU time. */
  let hashingMs = 0;
  const asks: Array<{ partition: number; dt: string; start: number }> = [];
  const step = (partition: number, input: EnvelopeInput) => {
    const { outputs } = stepEnvelope(states.get(partition)!, input, config);
    for (const output of outputs)
      if (output.type === 'envelope') {
        const e = output.envelope;
        const key = `${e.dt_id}|${e.slot_start}`;
        const seen = newest.get(key);
        if (!seen || seen.version < e.version) {
          const from = performance.now();
          newest.set(key, {
            version: e.version,
            hash: createHash('sha1').update(JSON.stringify(e)).digest('base64'),
          });
          hashingMs += performance.now() - from;
        }
      } else if (output.type === 'load-slot')
        asks.push({ partition, dt: output.dt_id, start: output.slot_start });
      else tooLate++;
  };
  let peakHeap = 0;
  let peakOffHeap = 0;
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
            for (const r of upload(dt, m, late, q)) {
              step(partition, { type: 'reading', reading: r });
              readings++;
            }
        for (const r of upload(dt, m, q, q)) {
          step(partition, { type: 'reading', reading: r });
          readings++;
        }
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
      step(partition, { type: 'slot-readings', dt_id: dt, slot_start: start, readings: stored });
    }
    for (let p = 0; p < PARTITIONS; p++) step(p, { type: 'emit' });
    const memory = process.memoryUsage();
    peakHeap = Math.max(peakHeap, memory.heapUsed);
    // external includes arrayBuffers (the typed arrays' memory).
    peakOffHeap = Math.max(peakOffHeap, memory.external);
  }
  const cpu = process.cpuUsage(started);
  let heldReadings = 0;
  let heldSlots = 0;
  let heldBytes = 0;
  for (const state of states.values())
    for (const dt of state.dts.values())
      for (const slot of dt.slots.values()) {
        heldSlots++;
        heldReadings += slot.readings.size;
        heldBytes += slot.readings.bytes;
      }
  const digest = createHash('sha1');
  for (const key of [...newest.keys()].sort()) digest.update(`${key}:${newest.get(key)!.hash};`);
  return {
    mode,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    peakHeapMiB: peakHeap / 2 ** 20,
    peakOffHeapMiB: peakOffHeap / 2 ** 20,
    heldReadings,
    heldSlots,
    heldBytes,
    loads,
    loadedReadings,
    readings,
    tooLate,
    cpuS: (cpu.user + cpu.system) / 1e6 - hashingMs / 1000,
    wallS: (performance.now() - wall) / 1000,
    digest: digest.digest('hex'),
    slots: newest.size,
  };
}

function runChild(mode: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), ['--child', mode, ...process.argv.slice(2)], {
      env: {
        ...process.env,
        MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '1',
        GLIBC_TUNABLES:
          process.env.GLIBC_TUNABLES ??
          'glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072',
      },
    });
    let result: ChildResult | undefined;
    proc.on('message', (message) => (result = message as ChildResult));
    proc.on('error', reject);
    proc.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`the ${mode} run exited with ${code} and no result`)),
    );
  });
}

async function main() {
  const childAt = process.argv.indexOf('--child');
  if (childAt >= 0) {
    process.send!(child(process.argv[childAt + 1] as 'in-memory' | 'resident'));
    return;
  }
  const fleet = TRANSFORMERS * METERS;
  console.log(
    'envelope processor memory at the revision horizon, with late data (pure processor, one process each)',
  );
  console.log(
    `  fleet        ${TRANSFORMERS} DTs x ${METERS} meters = ${fleet} meters, one-minute readings, 15 per upload, ${HOURS} h simulated, ${PARTITIONS} partition states`,
  );
  console.log(
    `  settings     revision horizon ${HORIZON_H} h, allowed lateness ${LATENESS_S} s, resident ${RESIDENT_H} h; ${OUTAGE_PCT}% of meters silent once for 15 min to 6 h, then sending what they stored; heap growth ${PROCESSOR_HEAP_GROWTH_PCT}%, MALLOC_ARENA_MAX=1`,
  );
  const results: ChildResult[] = [];
  for (const mode of ['in-memory', 'resident']) {
    const r = await runChild(mode);
    results.push(r);
    const label = mode === 'in-memory' ? `in memory (${HORIZON_H} h)` : `resident (${RESIDENT_H} h)`;
    console.log(`  ${label}`);
    console.log(
      `    peak RSS   ${r.peakRssMiB.toFixed(0)} MiB (${((r.peakRssMiB * 2 ** 20) / 1e6).toFixed(0)} MB); V8 heap up to ${r.peakHeapMiB.toFixed(0)} MiB, off-heap (typed arrays) up to ${r.peakOffHeapMiB.toFixed(0)} MiB`,
    );
    console.log(
      `    held       ${r.heldSlots} DT slots, ${r.heldReadings} readings in ${(r.heldBytes / 2 ** 20).toFixed(1)} MiB at the end (${(r.heldBytes / Math.max(1, r.heldReadings)).toFixed(1)} bytes a reading)`,
    );
    console.log(
      `    loads      ${r.loads} DT slots loaded (${r.loadedReadings} stored readings re-applied, ${((100 * r.loadedReadings) / r.readings).toFixed(1)}% of the ${r.readings} readings); ${r.tooLate} too late`,
    );
    console.log(
      `    CPU        ${r.cpuS.toFixed(1)} s (${((1e6 * r.cpuS) / r.readings).toFixed(2)} µs a reading: the processor, making the readings and the loads' answers) in ${r.wallS.toFixed(1)} s`,
    );
  }
  const [memory, resident] = results as [ChildResult, ChildResult];
  console.log(
    `  ratios       resident / in memory: peak RSS ${(resident.peakRssMiB / memory.peakRssMiB).toFixed(2)}, readings held ${(resident.heldReadings / Math.max(1, memory.heldReadings)).toFixed(3)}, CPU ${(resident.cpuS / memory.cpuS).toFixed(2)}`,
  );
  const same = memory.digest === resident.digest && memory.slots === resident.slots;
  console.log(
    `  envelopes    ${same ? 'identical' : 'DIFFERENT'}: the newest envelope of each of ${memory.slots} DT slots (sha1 ${memory.digest.slice(0, 12)}${same ? '' : ` vs ${resident.digest.slice(0, 12)}`})`,
  );
  if (!same) process.exitCode = 1;
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
