/**
 * npm run bench:streams — CPU per reading of gridstream's envelope stage next to a Kafka Streams application
 * computing the same 15-minute DT envelope (bench/kafka-streams/), over the same gridstream.readings records.
 *
 * It starts a Kafka broker (test/support/kafka.ts, as the tests and `npm run bench` do), publishes the
 * simulated fleet's topology, and puts the fleet's readings on gridstream.readings once, as the bridge writes
 * them (an upload of one meter's readings-per-message one-minute readings in one MeterReadings record, keyed
 * by DT, Confluent wire format). Then, one after the other on the otherwise idle broker:
 *   (a) gridstream: the processor's readings task with its envelope stage only (bench/streams-gridstream.ts:
 *       no record sink, so nothing is written to ClickHouse; envelopes to gridstream.envelopes);
 *   (b) Kafka Streams: bench/kafka-streams (built by its build.sh: jars from Maven Central cached under
 *       .local/kafka-streams), envelopes as JSON to bench.streams-envelopes;
 * each as its own process from the beginning of the topic until its consumer group has committed the topic's
 * end. Each one's CPU time (/proc/<pid>/stat utime + stime) is read when it reports running (partitions
 * assigned: start-up, the JVM's or Node's, and the topology read are before) and when its group has committed
 * the end; the difference per reading is its figure, and the ratio Kafka Streams / gridstream is printed
 * (above 1: gridstream needs less CPU per reading). Then both output topics are read back and the last envelope
 * of every DT slot compared (mean, min, max, p95 kW, import and export kWh, meters reporting, readings), with a
 * sample printed side by side.
 *
 * Settings (`npm run bench:streams -- --name N` or BENCH_NAME=N), defaults in brackets: transformers [1000],
 * meters per DT [100], hours of one-minute readings [1], readings-per-message [15], partitions [8],
 * lateness-s [300], horizon-h [1], seed [42], changelog [1: the Kafka Streams window store keeps its changelog
 * topic, as Kafka Streams does by default; 0 turns it off], sample [5 slots printed]. BENCH_ROLE_NODE_ARGS
 * (e.g. "--cpu-prof") go to gridstream's process, BENCH_JAVA_ARGS to the JVM's; GRIDSTREAM_HEAP_GROWTH_PCT
 * sets gridstream's heap growth (default the processor's 20%).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import kafkaJs from '@confluentinc/kafka-javascript';
import { decode, encode, rememberEncodedRecords, schemaId } from '../core/codec.js';
import { PROCESSOR_HEAP_GROWTH_PCT } from '../core/heap.js';
import { packageRoot, schemasDir } from '../core/paths.js';
import { SLOT_MS } from '../core/time.js';
import { decodeMessage } from '../ingest/decode.js';
import { KafkaLog } from '../io/log/kafka-log.js';
import { ownGroup, type ProduceRecord } from '../io/log/log.js';
import { GROUPS, TOPICS, topicSpecs, TOPIC_RETENTION_MS } from '../pipelines/log-topics.js';
import { publishTopology } from '../pipelines/topology-table.js';
import type { DtEnvelope, MeterReading } from '../schemas/types.gen.js';
import { planSimulation } from '../simulator/command.js';
import { createSimulation, telemetryTopic } from '../simulator/model.js';
import { startKafka, type TestKafka } from '../test/support/kafka.js';
import { cpuSeconds, machineCpuSeconds, MALLOC_ENV, mib, peakRss, printReport, setting } from './common.js';

const run = promisify(execFile);
const HOUR_MS = 3_600_000;

const TRANSFORMERS = setting('transformers', 1000);
const METERS = setting('meters', 100);
const HOURS = setting('hours', 1);
const READINGS_PER_MESSAGE = setting('readings-per-message', 15);
const PARTITIONS = setting('partitions', 8);
const LATENESS_S = setting('lateness-s', 300);
const HORIZON_H = setting('horizon-h', 1);
const SEED = setting('seed', 42);
const CHANGELOG = setting('changelog', 1) !== 0;
const SAMPLE = setting('sample', 5);

/** gridstream's V8 heap growth (core/heap.ts): GRIDSTREAM_HEAP_GROWTH_PCT, else the processor's default. */
const HEAP_GROWTH = process.env.GRIDSTREAM_HEAP_GROWTH_PCT
  ? Number(process.env.GRIDSTREAM_HEAP_GROWTH_PCT) === 0
    ? "V8's own (GRIDSTREAM_HEAP_GROWTH_PCT=0)"
    : `${process.env.GRIDSTREAM_HEAP_GROWTH_PCT}%`
  : `${PROCESSOR_HEAP_GROWTH_PCT}% (the processor's default)`;

const STREAMS_TOPIC = 'bench.streams-envelopes';
const STREAMS_APP = 'gridstream-bench-envelopes';

const log = (text: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The figures both sides give a DT slot. */
const FIELDS = [
  'net_mean_kw',
  'min_kw',
  'max_kw',
  'p95_kw',
  'import_kwh',
  'export_kwh',
  'meters_reporting',
  'readings',
] as const;
type Figures = Pick<DtEnvelope, (typeof FIELDS)[number]>;

/** Puts the simulated fleet's readings on gridstream.readings as the bridge would: readings and records. */
async function produceReadings(kafkaLog: KafkaLog, endMs: number) {
  const sim = createSimulation(
    planSimulation({
      mqttUrl: 'mqtt://unused',
      seed: SEED,
      transformers: TRANSFORMERS,
      meters: METERS,
      start: endMs - HOURS * HOUR_MS,
      end: endMs,
      silentShare: 0,
      now: endMs,
    }),
  );
  await publishTopology(kafkaLog, { ...sim.topology }, 1);
  const dtOf = new Map(sim.topology.meters.map((m) => [m.meter_id, m.dt_id]));
  const lookup = { dtOf: (meter: string) => dtOf.get(meter) };
  const topics = sim.meters.map((m) => telemetryTopic(m.meter_id));
  const producer = kafkaLog.producer();
  const pending: string[][] = sim.meters.map(() => []);
  let readings = 0;
  let records = 0;
  let batch: ProduceRecord[] = [];
  const sends: Array<Promise<void>> = [];
  const flush = async () => {
    const receivedAt = Date.now();
    for (let i = 0; i < pending.length; i++) {
      if (pending[i]!.length === 0) continue;
      const decoded = decodeMessage(
        topics[i]!,
        Buffer.from(`[${pending[i]!.join(',')}]`),
        receivedAt,
        lookup,
      );
      pending[i] = [];
      if (decoded.readings.length === 0) continue;
      const upload: MeterReading[] = decoded.readings;
      batch.push({ key: upload[0]!.dt_id, value: encode('MeterReadings', { readings: upload }) });
      readings += upload.length;
      records++;
      if (batch.length >= 2_000) {
        sends.push(producer.send(TOPICS.readings.name, batch));
        batch = [];
        if (sends.length >= 8) await sends.shift();
      }
    }
  };
  let steps = 0;
  for (const step of sim.steps()) {
    for (let i = 0; i < step.readings.length; i++) pending[i]!.push(JSON.stringify(step.readings[i]));
    if (++steps % READINGS_PER_MESSAGE === 0) await flush();
  }
  await flush();
  if (batch.length) sends.push(producer.send(TOPICS.readings.name, batch));
  await Promise.all(sends);
  await producer.flush();
  await producer.close();
  return { readings, records };
}

type Admin = ReturnType<InstanceType<typeof kafkaJs.KafkaJS.Kafka>['admin']>;

/** Whether a consumer group has committed the end of every partition of the topic. */
async function committedToEnd(admin: Admin, group: string, topic: string, ends: Map<number, number>) {
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const committed = new Map<number, number>();
  for (const t of offsets) for (const p of t.partitions) committed.set(p.partition, Number(p.offset));
  // An empty partition has nothing to commit.
  for (const [partition, end] of ends) if (end > 0 && (committed.get(partition) ?? -1) < end) return false;
  return true;
}

interface SideResult {
  cpuStart: number;
  cpuRun: number;
  wallMs: number;
  peakRss: number;
  brokerCpu: number;
  otherCpu: number;
}

/**
 * Runs one side from the beginning of the readings topic until its group has committed the end: its CPU time
 * between "running" and then, the broker's meanwhile, and the rest of the machine's.
 */
async function runSide(
  name: string,
  child: ChildProcess,
  group: string,
  admin: Admin,
  ends: Map<number, number>,
  brokerPid: number,
): Promise<SideResult> {
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/^running/m.test(output)) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => reject(new Error(`${name} exited with ${code}:\n${output.slice(-4000)}`)));
  });
  child.stdout!.resume();
  const cpuStart = cpuSeconds(child.pid!);
  const broker0 = cpuSeconds(brokerPid);
  const machine0 = machineCpuSeconds();
  const started = performance.now();
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited with ${child.exitCode}:\n${output.slice(-4000)}`);
    if (await committedToEnd(admin, group, TOPICS.readings.name, ends)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const wallMs = performance.now() - started;
  const cpuEnd = cpuSeconds(child.pid!);
  const brokerCpu = cpuSeconds(brokerPid) - broker0;
  const machine = machineCpuSeconds() - machine0;
  const rss = peakRss(child.pid!);
  await stop(child);
  return {
    cpuStart,
    cpuRun: cpuEnd - cpuStart,
    wallMs,
    peakRss: rss,
    brokerCpu,
    otherCpu: Math.max(0, machine - (cpuEnd - cpuStart) - brokerCpu),
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Every record of the topics, as key and value, in each partition's order. */
async function readTopic(kafkaLog: KafkaLog, topic: string): Promise<Array<{ key: string; value: Buffer }>> {
  const consumer = kafkaLog.consumer({
    group: ownGroup('bench-streams-read'),
    topics: [topic],
    fromBeginning: true,
  });
  const out: Array<{ key: string; value: Buffer }> = [];
  let quiet = 0;
  const deadline = Date.now() + 60_000;
  while (quiet < 3 && Date.now() < deadline) {
    const records = await consumer.poll(10_000, 300);
    for (const r of records) out.push({ key: r.key, value: r.value });
    quiet = records.length === 0 && (await consumer.lag()) === 0 ? quiet + 1 : 0;
  }
  await consumer.close();
  return out;
}

function figuresOf(e: Figures): Figures {
  return Object.fromEntries(FIELDS.map((f) => [f, e[f]])) as unknown as Figures;
}

function same(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

let kafka: TestKafka | undefined;
const children: ChildProcess[] = [];
const stateDir = mkdtempSync(join(tmpdir(), 'gridstream-bench-streams-'));

async function main(): Promise<boolean> {
  rememberEncodedRecords(false);
  log(`building the Kafka Streams app (bench/kafka-streams/build.sh) and starting Kafka`);
  const buildStarted = performance.now();
  const [classpath] = await Promise.all([
    run(join(packageRoot, 'bench', 'kafka-streams', 'build.sh'), [], { maxBuffer: 1 << 20 }).then((r) =>
      r.stdout.trim().split('\n').at(-1)!,
    ),
    startKafka().then((k) => (kafka = k)),
  ]);
  const buildMs = performance.now() - buildStarted;
  if (!kafka) throw new Error('Kafka did not start');
  const brokerPid = Number(readFileSync(join(kafka.dir, 'broker.pid'), 'utf8'));
  const kafkaLog = new KafkaLog({ brokers: kafka.brokers, clientId: 'gridstream-bench' });
  await kafkaLog.ensureTopics([
    ...topicSpecs(PARTITIONS),
    { name: STREAMS_TOPIC, partitions: PARTITIONS, retentionMs: TOPIC_RETENTION_MS },
  ]);

  // A recent window (readings may not be stamped in the future), on whole hours.
  const endMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
  log(
    `putting ${TRANSFORMERS} DTs x ${METERS} meters x ${HOURS} h of one-minute readings on ${TOPICS.readings.name}`,
  );
  const produceStarted = performance.now();
  const produced = await produceReadings(kafkaLog, endMs);
  const produceMs = performance.now() - produceStarted;
  log(`${produced.readings} readings in ${produced.records} records on the topic in ${s(produceMs)}`);

  const admin = new kafkaJs.KafkaJS.Kafka({ kafkaJS: { brokers: [kafka.brokers], logLevel: 1 } }).admin();
  await admin.connect();
  const ends = new Map<number, number>();
  for (const p of await admin.fetchTopicOffsets(TOPICS.readings.name)) ends.set(p.partition, Number(p.high));

  const self = fileURLToPath(import.meta.url);
  const ext = self.endsWith('.ts') ? 'ts' : 'js';
  log('(a) gridstream: the readings task with its envelope stage only');
  const gsChild = spawn(
    process.execPath,
    [
      ...process.execArgv,
      // BENCH_ROLE_NODE_ARGS (e.g. --cpu-prof) go to gridstream's process, as in `npm run bench`.
      ...(process.env.BENCH_ROLE_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      join(packageRoot, ext === 'ts' ? 'bench' : 'dist/bench', `streams-gridstream.${ext}`),
      JSON.stringify({
        brokers: kafka.brokers,
        partitions: PARTITIONS,
        allowedLatenessMs: LATENESS_S * 1000,
        revisionHorizonMs: HORIZON_H * HOUR_MS,
      }),
    ],
    {
      env: {
        ...process.env,
        ...MALLOC_ENV,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(gsChild);
  const gs = await runSide('gridstream', gsChild, GROUPS.readings, admin, ends, brokerPid);
  log(`gridstream: ${s(gs.wallMs)}, ${gs.cpuRun.toFixed(2)} s CPU`);

  log('(b) Kafka Streams (bench/kafka-streams)');
  const ksChild = spawn(
    'java',
    [
      ...(process.env.BENCH_JAVA_ARGS?.split(' ').filter(Boolean) ?? []),
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp',
      classpath,
      'io.gridstream.bench.EnvelopeStreams',
      kafka.brokers,
      TOPICS.readings.name,
      STREAMS_TOPIC,
      STREAMS_APP,
      String(LATENESS_S * 1000),
      stateDir,
      schemasDir,
      String(schemaId('MeterReading')),
      String(schemaId('MeterReadings')),
      String(CHANGELOG),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(ksChild);
  const ks = await runSide('Kafka Streams', ksChild, STREAMS_APP, admin, ends, brokerPid);
  log(`Kafka Streams: ${s(ks.wallMs)}, ${ks.cpuRun.toFixed(2)} s CPU`);
  await admin.disconnect();

  log('reading both sides envelopes back');
  const ours = new Map<string, DtEnvelope>();
  for (const r of await readTopic(kafkaLog, TOPICS.envelopes.name)) {
    const e = decode('DtEnvelope', r.value);
    const key = `${e.dt_id} ${e.slot_start}`;
    const before = ours.get(key);
    if (!before || before.version <= e.version) ours.set(key, e);
  }
  const theirs = new Map<string, Figures & { dt_id: string; slot_start: number }>();
  let streamsRecords = 0;
  for (const r of await readTopic(kafkaLog, STREAMS_TOPIC)) {
    const e = JSON.parse(r.value.toString()) as Figures & { dt_id: string; slot_start: number };
    theirs.set(`${e.dt_id} ${e.slot_start}`, e);
    streamsRecords++;
  }
  await kafkaLog.close();
  const keys = [...ours.keys()].filter((k) => theirs.has(k)).sort();
  const differ = keys.filter((k) => {
    const a = figuresOf(ours.get(k)!);
    const b = figuresOf(theirs.get(k)!);
    return FIELDS.some((f) => !same(a[f], b[f]));
  });
  const slots = Math.round((HOURS * HOUR_MS) / SLOT_MS);

  const perReading = (cpu: number) => (cpu * 1e6) / produced.readings;
  const gsUs = perReading(gs.cpuRun);
  const ksUs = perReading(ks.cpuRun);
  const side = (r: SideResult) =>
    `${perReading(r.cpuRun).toFixed(2)} µs CPU a reading (${r.cpuRun.toFixed(2)} s over ${s(r.wallMs)}, ${Math.round((produced.readings * 1000) / r.wallMs)} readings/s; start-up before it ${r.cpuStart.toFixed(2)} s); peak RSS ${mib(r.peakRss)}; broker ${perReading(r.brokerCpu).toFixed(2)} µs a reading, rest of the machine ${r.otherCpu.toFixed(1)} s`;
  printReport('Kafka Streams peer of the 15-minute DT envelope: CPU per reading', [
    [
      'fleet',
      `${TRANSFORMERS} DTs x ${METERS} meters, ${HOURS} h of one-minute readings (${slots} slots), ${READINGS_PER_MESSAGE} a record`,
    ],
    [
      'input',
      `${produced.readings} readings in ${produced.records} MeterReadings records on ${TOPICS.readings.name} (${PARTITIONS} partitions), put there in ${s(produceMs)}`,
    ],
    [
      'settings',
      `allowed lateness ${LATENESS_S} s (Kafka Streams' grace), revision horizon ${HORIZON_H} h (gridstream), commit/emit every 1 s on both; Kafka Streams changelog ${CHANGELOG ? 'on (default)' : 'off'}, 1 stream thread; gridstream heap growth ${HEAP_GROWTH}`,
    ],
    ['build', `bench/kafka-streams/build.sh and the broker's start, side by side: ${s(buildMs)}`],
    ['gridstream', side(gs)],
    ['', 'readings task, envelope stage only; no record sink (nothing written to ClickHouse)'],
    ['Kafka Streams', side(ks)],
    ['', `windowed aggregate on RocksDB, ${streamsRecords} envelope records out`],
    [
      'ratio',
      `Kafka Streams / gridstream = ${(ksUs / gsUs).toFixed(2)} (CPU per reading; above 1: gridstream needs less)`,
    ],
    [
      'envelopes',
      `gridstream ${ours.size} DT slots, Kafka Streams ${theirs.size}; ${keys.length} in both, ${differ.length} differ (mean, min, max, p95 kW, import/export kWh, meters reporting, readings; 1e-9 relative)`,
    ],
  ]);
  const sample = keys
    .filter((_, i) => i % Math.max(1, Math.floor(keys.length / SAMPLE)) === 0)
    .slice(0, SAMPLE);
  for (const key of [...new Set([...differ.slice(0, SAMPLE), ...sample])]) {
    const a = figuresOf(ours.get(key)!);
    const b = figuresOf(theirs.get(key)!);
    const [dt, start] = key.split(' ');
    console.log(`  ${dt} ${new Date(Number(start)).toISOString().slice(0, 16)}Z`);
    console.log(`    gridstream     ${FIELDS.map((f) => `${f} ${round(a[f])}`).join(', ')}`);
    console.log(`    Kafka Streams  ${FIELDS.map((f) => `${f} ${round(b[f])}`).join(', ')}`);
  }
  return differ.length === 0 && keys.length > 0 && keys.length === ours.size && keys.length === theirs.size;
}

const round = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(6));

let ok = false;
try {
  ok = await main();
} catch (error) {
  console.error(error);
} finally {
  for (const child of children) await stop(child);
  await kafka?.destroy();
  rmSync(stateDir, { recursive: true, force: true });
}
if (!ok) console.error('bench:streams: the two sides do not give the same envelopes');
process.exit(ok ? 0 : 1);
