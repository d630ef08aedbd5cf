/**
 * npm run bench:restore-memory — the memory of a partition's restore: the state of one partition of
 * `--transformers` (125) DTs × `--meters` (100) one-minute meters (12,500: a partition of 100,000 meters over
 * 8) rebuilt from `--hours` (24) of their readings, as the readings task rebuilds a partition it takes over
 * (pipelines/stage-task.ts): the envelope stage (24 h revision horizon, 1 h resident) and the impedance stage
 * each restore their 24 h from the warehouse (the embedded engine, in this process), then the log's lookback
 * (the in-process log, the same readings 15 to a record) is replayed to both. The parent writes the readings
 * once; two child processes, one after the other, rebuild from them:
 *
 *   whole    each restore as one answer and the replay decoded whole before it is applied (the old path)
 *   pieces   each restore in pieces of RESTORE_PIECE_READINGS (`--piece-readings`), the replay a batch of REPLAY_BATCH_RECORDS at a
 *            time (pipelines/recent-readings.ts, io/log/log.ts)
 *
 * Each child prints its resident memory once the log and the warehouse are open, its peak (VmHWM, reset then)
 * during the rebuild, and its CPU time; the parent prints both, their ratio, and whether the rebuilds are the
 * same: a digest of every output each stage gave, in order, and of the outputs of a last punctuation.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '../core/codec.js';
import { applyHeapGrowth } from '../core/heap.js';
import { createMetrics } from '../core/metrics.js';
import { SLOT_MS } from '../core/time.js';
import { REPLAY_BATCH_RECORDS, type LogRecord } from '../io/log/log.js';
import { MemoryLog } from '../io/log/memory-log.js';
import { migrate } from '../io/warehouse/migrate.js';
import { openWarehouse } from '../io/warehouse/open.js';
import { readingRow } from '../io/warehouse/rows.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { Replayed, Stage } from '../pipelines/keyed-stage.js';
import { impedanceStage } from '../pipelines/impedance-stage.js';
import { envelopeStage } from '../pipelines/load-envelope-stage.js';
import { RESTORE_PIECE_READINGS, recentReadings, slotReadings } from '../pipelines/recent-readings.js';
import { decodeReadings } from '../pipelines/readings-task.js';
import { TopologyTable } from '../pipelines/topology-table.js';
import { DEFAULT_IMPEDANCE_CONFIG } from '../processors/impedance/impedance.js';
import type { MeterReading } from '../schemas/types.gen.js';
import { procStatus, runChild, setting } from './common.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const TRANSFORMERS = setting('transformers', 125);
const METERS = setting('meters', 100);
const HOURS = setting('hours', 24);
const HORIZON_MS = 24 * HOUR;
const LATENESS_MS = 5 * MINUTE;
const PIECE_READINGS = setting('piece-readings', RESTORE_PIECE_READINGS);
const TOPIC = 'gridstream.readings';
/** Recent (the warehouse's retention drops old rows on insert), a UTC quarter hour; the parent's, in a child. */
const T0 = setting('t0', 0) || Math.floor((Date.now() - HOURS * HOUR) / SLOT_MS) * SLOT_MS - SLOT_MS;
const DTS = Array.from({ length: TRANSFORMERS }, (_, d) => `dt-${String(d).padStart(4, '0')}`);

/** Each meter's 15 one-minute readings of quarter hour `q`, received at its end. */
function upload(dt: string, meter: string, q: number): MeterReading[] {
  const start = T0 + q * SLOT_MS;
  const phase = meter.length + Number(meter.slice(-3));
  return Array.from({ length: 15 }, (_, k) => {
    const ts = start + k * MINUTE;
    const p = 0.4 + 0.3 * Math.sin((ts / HOUR + phase) / 3);
    return {
      meter_id: meter,
      dt_id: dt,
      ts,
      p_kw: Math.round(p * 1000) / 1000,
      q_kvar: null,
      legs: [{ leg: 1, v: Math.round((231 - p * 2) * 10) / 10, i: Math.round((p / 0.23) * 100) / 100 }],
      e_imp_kwh: null,
      e_exp_kwh: null,
      received_at: start + SLOT_MS + 2_000,
    };
  });
}

/** Every upload, quarter hour by quarter hour. */
function* uploads(): Generator<MeterReading[]> {
  for (let q = 0; q < HOURS * 4; q++)
    for (const dt of DTS)
      for (let m = 0; m < METERS; m++) yield upload(dt, `${dt}-m${String(m).padStart(3, '0')}`, q);
}

async function writeReadings(dataDir: string): Promise<number> {
  const warehouse = await openWarehouse({ dataDir });
  await migrate(warehouse);
  let rows: ReturnType<typeof readingRow>[] = [];
  let count = 0;
  for (const readings of uploads()) {
    for (const r of readings) rows.push(readingRow(r));
    if (rows.length >= 200_000) {
      await warehouse.insert('readings', rows);
      count += rows.length;
      rows = [];
    }
  }
  await warehouse.insert('readings', rows);
  count += rows.length;
  await warehouse.close();
  return count;
}

type Mode = 'whole' | 'pieces';
interface ChildResult {
  baseMiB: number;
  peakMiB: number;
  /** The largest V8 heap seen during the restore, and what it holds after it (the states, after a full GC). */
  heapMiB: number;
  stateMiB: number;
  cpuS: number;
  records: number;
  digests: Record<string, string>;
  outputs: number;
}

/** A memory field of this process's /proc status, MiB. */
const statusMiB = (field: string) => procStatus(process.pid)(field) / 1024;

async function child(mode: Mode, dataDir: string): Promise<ChildResult> {
  applyHeapGrowth(undefined, true);
  const warehouse: Warehouse = await openWarehouse({ dataDir });
  // The log as a partition's readings topic holds them: 15 readings a record, copied so the codec's cache of
  // what it encoded does not keep the decoded readings alive.
  const log = new MemoryLog({ maxBacklogPerPartition: Number.MAX_SAFE_INTEGER });
  await log.ensureTopics([{ name: TOPIC, partitions: 1 }]);
  log.consumer({ group: 'holder', topics: [TOPIC], fromBeginning: true });
  const producer = log.producer();
  let batch: Array<{ key: string; value: Buffer }> = [];
  let records = 0;
  for (const readings of uploads()) {
    batch.push({ key: readings[0]!.dt_id, value: Buffer.from(encode('MeterReadings', { readings })) });
    if (batch.length >= 10_000) {
      records += batch.length;
      await producer.send(TOPIC, batch);
      batch = [];
    }
  }
  records += batch.length;
  await producer.send(TOPIC, batch);

  const piece = mode === 'whole' ? Number.MAX_SAFE_INTEGER : PIECE_READINGS;
  // The readings task's two stages as pipelines/start-pipeline.ts builds them, on a topology that is never read
  // (no meter counts or nameplates) and a registry of their own.
  const metrics = createMetrics();
  const topology = new TopologyTable(log);
  const envelopeConfig = { allowedLatenessMs: LATENESS_MS, revisionHorizonMs: HORIZON_MS, residentMs: HOUR };
  const envelopes = envelopeStage({
    partitions: 1,
    config: envelopeConfig,
    metrics,
    topology,
    restore: () => recentReadings(warehouse, DTS, envelopeConfig.revisionHorizonMs, piece),
    slotReadings: (dts, from, to) => slotReadings(warehouse, dts, from, to),
  });
  const impedance = impedanceStage({
    partitions: 1,
    config: { ...DEFAULT_IMPEDANCE_CONFIG, allowedLatenessMs: LATENESS_MS },
    metrics,
    topology,
    restore: () => recentReadings(warehouse, DTS, 24 * HOUR, piece),
  });
  const stages: Array<Stage<MeterReading>> = [envelopes.stage, impedance];
  const digests = new Map(stages.map((stage) => [stage.name, createHash('sha256')]));
  let outputs = 0;
  /** The records a stage's outputs became since the last call, counted and digested in order, none sent. */
  const take = (stage: Stage<MeterReading>) => {
    const hash = digests.get(stage.name)!;
    for (const [topic, records] of stage.takeOutputs()) {
      outputs += records.length;
      for (const r of records) hash.update(`${topic}|${r.key}|${r.timestamp}|`).update(r.value);
    }
  };
  const decode = (batch: LogRecord[]): Array<Replayed<MeterReading>> =>
    batch.flatMap((record) =>
      decodeReadings(record.value).map((value) => ({ value, timestamp: record.timestamp })),
    );

  global.gc?.();
  const baseMiB = statusMiB('VmRSS');
  writeFileSync('/proc/self/clear_refs', '5');
  // V8's heap as the restore runs (sampled when the loop turns: between the warehouse's pieces).
  let heapMiB = 0;
  const sample = setInterval(
    () => (heapMiB = Math.max(heapMiB, process.memoryUsage().heapTotal / 2 ** 20)),
    20,
  );
  const cpu = process.cpuUsage();
  // As pipelines/stage-task.ts rebuilds a partition; `whole` holds the replay decoded, as it did before.
  // The rebuild's outputs are held until it ends, as the task takes them.
  for (const stage of stages) await stage.assign(0);
  const replay = log.replay(TOPIC, 0, records, Math.max(...stages.map((s) => s.replayLookbackMs)));
  let replayed = false;
  if (mode === 'whole') {
    const all: LogRecord[] = [];
    let last = 0;
    for await (const b of replay) {
      all.push(...b.records);
      last = b.lastTimestamp;
    }
    const values = decode(all);
    replayed = values.length > 0;
    for (const stage of stages) stage.replay(0, values, last);
  } else
    for await (const b of replay) {
      replayed = true;
      const values = decode(b.records);
      for (const stage of stages) stage.replay(0, values, b.lastTimestamp);
    }
  for (const stage of stages) {
    await stage.assigned(0, replayed);
    take(stage);
    stage.punctuate(0, true);
    take(stage);
  }
  const used = process.cpuUsage(cpu);
  const peakMiB = statusMiB('VmHWM');
  clearInterval(sample);
  // The replay runs without turning the loop (the in-process log's batches are at hand): sampled at its end too.
  heapMiB = Math.max(heapMiB, process.memoryUsage().heapTotal / 2 ** 20);
  global.gc?.();
  const stateMiB = process.memoryUsage().heapUsed / 2 ** 20;
  // What the stages only count (a replayed reading too late, a slot loaded, a leg-day without a median).
  const counted = createHash('sha256');
  for (const counter of [
    metrics.slotsWritten,
    metrics.tooLate,
    metrics.slotsLoaded,
    metrics.impedanceLegDays,
    metrics.impedanceFlags,
    metrics.impedanceTooLate,
  ])
    counted.update(JSON.stringify(await counter.get()));
  digests.set('counted', counted);
  envelopes.close();
  await warehouse.close();
  await log.close();
  return {
    baseMiB,
    peakMiB,
    heapMiB,
    stateMiB,
    cpuS: (used.user + used.system) / 1e6,
    records,
    outputs,
    digests: Object.fromEntries([...digests].map(([name, hash]) => [name, hash.digest('hex').slice(0, 16)])),
  };
}

/** A change in MiB with its sign: +12, -3. */
const signed = (mib: number) => `${mib < 0 ? '' : '+'}${mib.toFixed(0)}`;

async function main() {
  const childAt = process.argv.indexOf('--child');
  if (childAt >= 0) {
    process.send!(await child(process.argv[childAt + 1] as Mode, process.argv[childAt + 2]!));
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-restore-bench-'));
  try {
    const readings = await writeReadings(dataDir);
    console.log(
      'a partition restore: envelope and impedance state rebuilt from the warehouse and the log (embedded)',
    );
    console.log(
      `  partition    ${TRANSFORMERS} DTs x ${METERS} meters = ${TRANSFORMERS * METERS} meters, one-minute readings, ${HOURS} h: ${readings} readings in the warehouse, ${readings / 15} records on the log`,
    );
    console.log(
      `  pieces       restore ${PIECE_READINGS} readings a piece, replay ${REPLAY_BATCH_RECORDS} records a batch`,
    );
    const results: Partial<Record<Mode, ChildResult>> = {};
    for (const mode of ['whole', 'pieces'] as const) {
      const r = (results[mode] = await runChild<ChildResult>(
        import.meta.url,
        ['--child', mode, dataDir, ...process.argv.slice(2), '--t0', String(T0)],
        mode,
      ));
      console.log(
        `  ${mode.padEnd(12)} peak RSS ${r.peakMiB.toFixed(0)} MiB during the restore (${r.baseMiB.toFixed(0)} MiB before it: ${signed(r.peakMiB - r.baseMiB)} MiB); V8 heap up to ${r.heapMiB.toFixed(0)} MiB, ${r.stateMiB.toFixed(0)} MiB used after it; CPU ${r.cpuS.toFixed(1)} s`,
      );
    }
    const whole = results.whole!;
    const pieces = results.pieces!;
    const same =
      JSON.stringify(whole.digests) === JSON.stringify(pieces.digests) && whole.outputs === pieces.outputs;
    console.log(
      `  ratio        pieces/whole: peak RSS ${(pieces.peakMiB / whole.peakMiB).toFixed(2)}, the restore's own memory ${((pieces.peakMiB - pieces.baseMiB) / (whole.peakMiB - whole.baseMiB)).toFixed(2)}, CPU ${(pieces.cpuS / whole.cpuS).toFixed(2)}`,
    );
    console.log(
      `  outputs      ${same ? 'identical' : 'DIFFERENT'}: ${pieces.outputs} outputs (${whole.outputs} whole), digests ${JSON.stringify(pieces.digests)}`,
    );
    if (!same) process.exitCode = 1;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
