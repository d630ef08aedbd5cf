/**
 * npm run bench — the distributed path on local services, end to end: meters publish to Mosquitto, the bridge
 * (`gridstream run --role bridge`) puts their readings on Apache Kafka, processors (`--role processor`)
 * compute envelopes (and impedance) and write readings and envelopes to a ClickHouse server. Each role is its
 * own process, as in production; the API role runs in this process (it loads the topology). The services are
 * started on free ports in temporary directories by the same scripts the tests use (infra/), and stopped at
 * the end. The meters are a separate process (bench/publisher.ts) that renders all its messages before the
 * first publish, so the simulation's CPU time is not taken from the measured pipeline.
 *
 * It prints:
 * - readings/s and messages/s end to end: from the first MQTT publish to the last reading queryable in
 *   ClickHouse, with the accounting (published = stored + dead letters);
 * - slot-close latency, p50 and p99: per DT and 15-minute slot, from the slot's close to its final envelope
 *   being queryable. A slot [t, t + 15 min) closes in event time once its partition's stream time reaches
 *   t + 15 min + the allowed lateness (processors/load-envelope/load-envelope.ts). As the readings are replayed much faster than
 *   real time, its close instant in wall-clock time is taken as the moment the publisher published the first
 *   message holding a reading at or past that watermark: nothing can close the slot earlier, so the latency
 *   is never understated (the reading that closes a given DT's slot is published then or a little later).
 *   "Queryable" is the start of the first poll of the envelopes table (every 250 ms) that sees the final row.
 * - peak RSS (VmHWM) of the processor and bridge processes;
 * - for reference, the raw rate at which kcat (Debian's) reads the same readings topic from the beginning,
 *   after the run, and the ratio of the end-to-end rate to it;
 * - the CPU time of every process while the readings flowed (and of everything else on the machine), and per
 *   reading; with several processors (--processors N), each one's readings partitions, the readings it
 *   stored (its share) and its CPU time per reading it stored, and their totals: how the work divides;
 * - storage a reading takes: the readings topic's log segments on Kafka, and the readings table's compressed
 *   columns in ClickHouse after OPTIMIZE FINAL (docs/operations/sizing.md projects from these and the CPU).
 *
 * Load: by default a closed loop, as fast as the pipeline lands readings, with at most max-backlog readings
 * published and not yet queryable (the queues a slot's closing reading waits in are then bounded, so the
 * latency is that of a busy but stable pipeline); with --rate, at that many readings/s (the backlog bound
 * still applies: a publisher that waits for it shows the pipeline did not keep up).
 *
 * Settings (`npm run bench -- --name N` or BENCH_NAME=N), defaults in brackets:
 *   transformers [1000], meters per DT [100], hours of simulated one-minute readings [2],
 *   readings-per-message [15: one-minute readings uploaded every quarter hour], rate [0: closed loop],
 *   max-backlog [50000], connections from the meters' head-end systems to Mosquitto [4],
 *   processors [1], horizon-h (GRIDSTREAM_REVISION_HORIZON_H) [1], lateness-s
 *   (GRIDSTREAM_ALLOWED_LATENESS_S) [300], partitions (GRIDSTREAM_PARTITIONS) [8], seed [42],
 *   prerender [1; 0 simulates while publishing]. BENCH_ROLE_NODE_ARGS (e.g. "--cpu-prof") go to the roles.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkaJs from '@confluentinc/kafka-javascript';
import { startGridstream, type Gridstream } from '../app/start-gridstream.js';
import { loadConfig } from '../core/config.js';
import { PROCESSOR_HEAP_GROWTH_PCT } from '../core/heap.js';
import { packageRoot } from '../core/paths.js';
import { redactUrl } from '../core/redact.js';
import { ownGroup } from '../io/log/log.js';
import { parseDateTime64 } from '../io/warehouse/rows.js';
import { GROUPS, TOPICS } from '../pipelines/log-topics.js';
import { simulateTopology } from '../simulator/command.js';
import { startClickHouseServer, type ClickHouseServer } from '../test/support/clickhouse-server.js';
import { startKafka, type TestKafka } from '../test/support/kafka.js';
import { startMosquitto, type TestMosquitto } from '../test/support/mosquitto.js';
import {
  cpuSeconds,
  machineCpuSeconds,
  MALLOC_ENV,
  mib,
  peakRss,
  percentile,
  perSecond,
  printReport,
  setting,
  startPublisher,
} from './common.js';

const HOUR_MS = 3_600_000;

const TRANSFORMERS = setting('transformers', 1000);
const METERS = setting('meters', 100);
const HOURS = setting('hours', 2);
const READINGS_PER_MESSAGE = setting('readings-per-message', 15);
const RATE = setting('rate', 0);
const MAX_BACKLOG = setting('max-backlog', 50_000);
const CONNECTIONS = setting('connections', 4);
const HORIZON_H = setting('horizon-h', 1);
const LATENESS_S = setting('lateness-s', 300);
const PARTITIONS = setting('partitions', 8);
const PROCESSORS = setting('processors', 1);
const SEED = setting('seed', 42);
const PRERENDER = setting('prerender', 1) !== 0;
const POLL_MS = 250;
const API_KEY = 'bench-key-0000000000000000000000000000';

const totalMeters = TRANSFORMERS * METERS;
// A recent window (readings may not be stamped in the future), on whole hours.
const endMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
const startMs = endMs - HOURS * HOUR_MS;

const log = (text: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);

const { MALLOC_ARENA_MAX, GLIBC_TUNABLES } = MALLOC_ENV;
/** The roles' V8 heap growth (core/heap.ts): the configured one, else each role's default. */
const HEAP_GROWTH =
  process.env.GRIDSTREAM_HEAP_GROWTH_PCT || `unset (processor ${PROCESSOR_HEAP_GROWTH_PCT}, bridge V8's own)`;

/** A gridstream role as its own process, from the compiled build; ready once it says where it serves. */
async function startRole(role: string, env: Record<string, string>): Promise<ChildProcess & { url: string }> {
  const child = spawn(
    process.execPath,
    [
      // BENCH_ROLE_NODE_ARGS (e.g. --cpu-prof) go to the roles' node only, not to this process or the meters.
      ...(process.env.BENCH_ROLE_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      join(packageRoot, 'dist', 'bin', 'gridstream.js'),
      'run',
      '--role',
      role,
    ],
    {
      env: {
        ...process.env,
        ...MALLOC_ENV,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk;
    if (output.length > 100_000) output = output.slice(-50_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', (chunk: Buffer) => {
    collect(chunk);
    process.stderr.write(`[${role}] ${chunk}`);
  });
  const deadline = Date.now() + 120_000;
  while (!/^gridstream \S+ at http:\/\//m.test(output)) {
    if (child.exitCode !== null) throw new Error(`gridstream ${role} exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`gridstream ${role} did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Object.assign(child, { url: /^gridstream \S+ at (http:\/\/\S+)/m.exec(output)![1]! });
}

/** What a processor has done, from its /metrics: readings partitions it holds, readings rows it inserted. */
interface ProcessorShare {
  partitions: number;
  readings: number;
}

async function processorShare(url: string): Promise<ProcessorShare> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
  return {
    partitions: value(
      new RegExp(`^gridstream_assigned_partitions\\{group="${GROUPS.readings}"\\} (\\S+)$`, 'm'),
    ),
    readings: value(/^gridstream_warehouse_rows_inserted_total\{table="readings"\} (\S+)$/m),
  };
}

/**
 * Bytes of the Kafka log segments (`*.log`: the records themselves, not the indexes, which the broker
 * preallocates) under a broker's data directory, in the partition directories whose name passes.
 */
function segmentBytes(dir: string, take: (name: string) => boolean = () => true): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (take(entry.name)) total += segmentBytes(path);
    } else if (entry.name.endsWith('.log')) total += statSync(path).size;
  }
  return total;
}

/** What a role exports about itself: consumer lag by group, and its memory (resident, V8 heap, external). */
async function roleStatus(url: string): Promise<{ lag: Record<string, number>; memory: string }> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const lag: Record<string, number> = {};
    for (const m of text.matchAll(/^gridstream_consumer_lag_records\{group="gridstream-([^"]+)"\} (\S+)$/gm))
      lag[m[1]!] = Number(m[2]);
    const gauge = (name: string) =>
      Number(
        new RegExp(`^gridstream_process_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN,
      );
    const memory = `RSS ${mib(gauge('process_resident_memory_bytes'))} (V8 heap ${mib(gauge('nodejs_heap_size_used_bytes'))} used of ${mib(gauge('nodejs_heap_size_total_bytes'))}, external ${mib(gauge('nodejs_external_memory_bytes'))})`;
    return { lag, memory };
  } catch {
    return { lag: {}, memory: '?' };
  }
}

async function stopRole(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Waits until every topology-table consumer group (one per process) has read the topology topics to their
 * end: a bridge that does not know a meter yet would park its readings as unknown.
 */
async function untilTopologyRead(brokers: string, groups: number): Promise<void> {
  const admin = new kafkaJs.KafkaJS.Kafka({ kafkaJS: { brokers: [brokers], logLevel: 1 } }).admin();
  await admin.connect();
  try {
    const topics = [TOPICS.topologyMeters.name, TOPICS.topologyTransformers.name];
    const ends = new Map<string, number>();
    for (const topic of topics)
      for (const p of await admin.fetchTopicOffsets(topic))
        ends.set(`${topic}:${p.partition}`, Number(p.high));
    // The topology table's group in every process (io/log/log.ts ownGroup: name, pid, random).
    const ownGroupPrefix = ownGroup('topology-table').replace(/-\d+-[0-9a-f]+$/, '-');
    const deadline = Date.now() + 120_000;
    for (;;) {
      const listed = (await admin.listGroups()).groups.filter((g) => g.groupId.startsWith(ownGroupPrefix));
      let caughtUp = 0;
      for (const group of listed) {
        const offsets = await admin.fetchOffsets({ groupId: group.groupId, topics });
        const behind = offsets.some((t) =>
          t.partitions.some((p) => Number(p.offset) < (ends.get(`${t.topic}:${p.partition}`) ?? 0)),
        );
        if (!behind) caughtUp++;
      }
      if (caughtUp >= groups) return;
      if (Date.now() > deadline) throw new Error('the roles did not read the topology within 120 s');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await admin.disconnect();
  }
}

/** kcat reading the whole topic from the beginning: records and seconds. */
async function kcatRead(brokers: string, topic: string): Promise<{ records: number; ms: number }> {
  const started = performance.now();
  const child = spawn('kcat', ['-C', '-b', brokers, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '.'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let records = 0;
  child.stdout.on('data', (chunk: Buffer) => (records += chunk.length));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`kcat exited with ${code}`);
  return { records, ms: performance.now() - started };
}

let kafka: TestKafka | undefined;
let clickhouse: ClickHouseServer | undefined;
let mosquitto: TestMosquitto | undefined;
const processors: Array<ChildProcess & { url: string }> = [];
let bridge: (ChildProcess & { url: string }) | undefined;
let api: Gridstream | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-bench-'));

async function main(): Promise<boolean> {
  log(
    `starting Kafka, ClickHouse server and Mosquitto; ${TRANSFORMERS} DTs x ${METERS} meters = ${totalMeters} meters`,
  );
  const headEnds = Array.from({ length: CONNECTIONS }, (_, i) => `bench-headend-${i + 1}`);
  const topology = simulateTopology({ seed: SEED, transformers: TRANSFORMERS, meters: METERS });
  const stations = [...new Set(topology.transformers.map((t) => t.weather_station_id).filter(Boolean))];
  // Each service is kept as soon as it runs, so a failure of another still stops it.
  const started = await Promise.allSettled([
    startKafka().then((k) => (kafka = k)),
    startClickHouseServer().then((c) => (clickhouse = c)),
    startMosquitto({
      users: {
        'gridstream-ingest': 'ingest-secret',
        ...Object.fromEntries(stations.map((s) => [`weather.${s}`, 'weather-secret'])),
        ...Object.fromEntries(headEnds.map((name) => [name, `${name}-secret`])),
      },
    }).then((m) => (mosquitto = m)),
  ]);
  for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
  if (!kafka || !clickhouse || !mosquitto) throw new Error('a service did not start');
  // The meters reach the broker through head-end systems: accounts that may publish to any meter's telemetry
  // topic (100,000 connections of their own would exceed this machine's file descriptors). The ACL gets one
  // block per head-end account, and Mosquitto reloads it.
  const reloadsBefore = (mosquitto.log().match(/Reloading config/g) ?? []).length;
  appendFileSync(
    join(mosquitto.dir, 'acl'),
    headEnds
      .map(
        (name) => `\n# bench head-end system\nuser ${name}\ntopic write gridstream/v1/meters/+/telemetry\n`,
      )
      .join(''),
  );
  process.kill(mosquitto.pid, 'SIGHUP');
  while ((mosquitto.log().match(/Reloading config/g) ?? []).length <= reloadsBefore)
    await new Promise((resolve) => setTimeout(resolve, 50));

  const env = {
    GRIDSTREAM_KAFKA_BROKERS: kafka.brokers,
    GRIDSTREAM_CLICKHOUSE_URL: `${clickhouse.url}/gridstream_bench`,
    GRIDSTREAM_PARTITIONS: String(PARTITIONS),
    GRIDSTREAM_REVISION_HORIZON_H: String(HORIZON_H),
    GRIDSTREAM_ALLOWED_LATENESS_S: String(LATENESS_S),
    GRIDSTREAM_API_KEYS: API_KEY,
    GRIDSTREAM_DATA_DIR: dataDir,
    GRIDSTREAM_HTTP_PORT: '0',
    GRIDSTREAM_MQTT_URL: mosquitto.urlFor('gridstream-ingest'),
    GRIDSTREAM_MQTT_CLIENT_ID: 'gridstream-bench-ingest',
  };
  log(
    `Kafka ${kafka.brokers}, ClickHouse ${clickhouse.version} at ${redactUrl(clickhouse.url)}, Mosquitto ${redactUrl(mosquitto.url)}`,
  );
  for (let i = 0; i < PROCESSORS; i++) processors.push(await startRole('processor', env));
  // The API role runs here: it loads the topology (the processor writes it to the warehouse) and serves reads.
  api = await startGridstream(loadConfig(env), { roles: ['api'], host: '127.0.0.1' });
  await api.pipeline.loadTopology(topology, 'bench');
  bridge = await startRole('bridge', env);
  await untilTopologyRead(kafka.brokers, 2 + PROCESSORS);
  log(
    `topology of ${totalMeters} meters loaded; bridge pid ${bridge.pid}, processor pid ${processors.map((p) => p.pid).join(', ')}`,
  );

  const warehouse = api.edges.warehouse;
  const count = async (sql: string) => Number((await warehouse.query<{ n: string }>(sql))[0]!.n);
  // Rows of the tables' active parts, from the server's part metadata: on 18.16 a plain count() reads a column
  // of every row (the trivial-count shortcut came later), a growing scan several times a second on the very
  // server being measured. A retried insert may count twice here, and only here: the accounting at the end
  // counts distinct readings under FINAL.
  const landed = () =>
    count(
      `SELECT sum(rows) AS n FROM system.parts
       WHERE database = currentDatabase() AND active AND table IN ('readings', 'dead_letters')`,
    );
  const landedDistinct = async () =>
    (await count('SELECT count() AS n FROM readings FINAL')) +
    (await count('SELECT count() AS n FROM dead_letters FINAL'));

  // Final envelopes per slot, as first seen: slot start → [poll start, DTs final then].
  const finals = new Map<number, Array<[number, number]>>();
  const finalCount = new Map<number, number>();
  const pollFinals = async () => {
    const at = Date.now();
    const rows = await warehouse.query<{ slot: string; n: string }>(
      `SELECT toString(slot_start) AS slot, uniqExact(dt_id) AS n FROM envelopes
       WHERE toString(is_final) IN ('true', '1') GROUP BY slot`,
    );
    for (const row of rows) {
      const slot = parseDateTime64(row.slot);
      const n = Number(row.n);
      const before = finalCount.get(slot) ?? 0;
      if (n > before) {
        finalCount.set(slot, n);
        let seen = finals.get(slot);
        if (!seen) finals.set(slot, (seen = []));
        seen.push([at, n - before]);
      }
    }
  };

  const offered = `${RATE > 0 ? `${RATE} readings/s offered` : 'closed loop'}, at most ${MAX_BACKLOG} readings published and not yet queryable`;
  log(
    `publishing ${HOURS} h of one-minute readings (${new Date(startMs).toISOString()} to ${new Date(endMs).toISOString()}), ${READINGS_PER_MESSAGE} per message, over ${CONNECTIONS} connections; ${offered}`,
  );
  const publisher = startPublisher({
    meterUrls: headEnds.map((name) => mosquitto!.urlFor(name)),
    weatherUrl: stations.length ? mosquitto.urlFor(`weather.${stations[0]}`) : null,
    seed: SEED,
    transformers: TRANSFORMERS,
    meters: METERS,
    startMs,
    endMs,
    readingsPerMessage: READINGS_PER_MESSAGE,
    rate: RATE,
    maxBacklog: MAX_BACKLOG,
    allowedLatenessMs: LATENESS_S * 1000,
    prerenderFile: PRERENDER ? join(dataDir, 'fleet.bin') : undefined,
  });
  // The meters' messages are rendered first (not measured).
  let renderReport = Date.now();
  while (!publisher.progress().publishing) {
    if (Date.now() - renderReport >= 10_000) {
      renderReport = Date.now();
      log(
        `rendering the meters' messages: ${publisher.progress().rendered}/${totalMeters * HOURS * 60} readings`,
      );
    }
    await Promise.race([publisher.result.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 50))]);
    if (
      await Promise.race([
        publisher.result.then(
          () => true,
          () => true,
        ),
        Promise.resolve(false),
      ])
    )
      break;
  }

  // CPU time of every process while the readings flow: where the time goes.
  const pids: Array<[string, number]> = [
    ['publisher', publisher.pid],
    ['mosquitto', mosquitto.pid],
    ['bridge', bridge.pid!],
    ['kafka', Number(readFileSync(join(kafka.dir, 'broker.pid'), 'utf8'))],
    ...processors.map((p, i): [string, number] => [
      PROCESSORS > 1 ? `processor ${i + 1}` : 'processor',
      p.pid!,
    ]),
    ['clickhouse', Number(readFileSync(join(clickhouse.dir, 'clickhouse-server.pid'), 'utf8'))],
  ];
  // Last: the whole machine, so that what others ran meanwhile shows.
  const cpuAt = () => {
    const own = process.cpuUsage();
    return [...pids.map(([, pid]) => cpuSeconds(pid)), (own.user + own.system) / 1e6, machineCpuSeconds()];
  };
  const cpuStart = cpuAt();
  let cpuEnd = cpuStart;
  let done = false;
  let lastLanded = 0;
  let lastLandedAt = 0;
  let maxBacklogSeen = 0;
  let lastReport = Date.now();
  const result = publisher.result.finally(() => (done = true));
  result.catch(() => {});
  const expected = totalMeters * HOURS * 60;
  while (!done || lastLanded < (await result).readings) {
    const at = Date.now();
    let n = await landed();
    // Rows count a batch twice until a merge drops the copy (18.16 retries an insert whose reply was lost, and
    // has no dedup token): once they reach the total, the readings are counted distinct, so the run does not
    // end before its last reading is in.
    if (done && n >= (await result).readings) n = await landedDistinct();
    if (n !== lastLanded) {
      lastLanded = n;
      lastLandedAt = at;
      // The publisher's figures go when it exits: keep the last ones read.
      cpuEnd = cpuAt().map((v, i) => v || cpuEnd[i]!);
    }
    publisher.landed(n);
    maxBacklogSeen = Math.max(maxBacklogSeen, publisher.progress().published - n);
    await pollFinals();
    if (Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      const statuses = await Promise.all(processors.map((p) => roleStatus(p.url)));
      log(
        `published ${publisher.progress().published}/${expected} readings, landed ${n}, final DT slots ${[...finalCount.values()].reduce((a, b) => a + b, 0)}; ${statuses
          .map(
            (status, i) =>
              `processor${PROCESSORS > 1 ? ` ${i + 1}` : ''} ${status.memory}, lag ${Object.entries(
                status.lag,
              )
                .map(([group, records]) => `${group} ${records}`)
                .join(', ')}`,
          )
          .join('; ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const published = await result;
  const endToEndMs = lastLandedAt - published.firstPublishAt;
  const publishMs = published.lastPublishAt - published.firstPublishAt;
  log(`every reading landed; waiting for the final envelopes of the ${published.closes.length} closed slots`);

  const deadline = Date.now() + 120_000;
  while (
    published.closes.some(([slot]) => (finalCount.get(slot) ?? 0) < TRANSFORMERS) &&
    Date.now() < deadline
  ) {
    await pollFinals();
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const processorRss = processors.map((p) => peakRss(p.pid!));
  const bridgeRss = peakRss(bridge.pid!);
  // The services' too, for sizing (Kafka's JVM heap is what infra/kafka/start.sh gives it).
  const serviceRss = pids
    .filter(([name]) => ['mosquitto', 'kafka', 'clickhouse'].includes(name))
    .map(([name, pid]) => `${name} ${mib(peakRss(pid))}`)
    .join(', ');

  // Latency of every DT slot closed during the run.
  const latencies: number[] = [];
  let missingFinals = 0;
  for (const [slot, closedAt] of published.closes) {
    let seen = 0;
    for (const [at, n] of finals.get(slot) ?? []) {
      for (let i = 0; i < n; i++) latencies.push(at - closedAt);
      seen += n;
    }
    missingFinals += Math.max(0, TRANSFORMERS - seen);
  }
  latencies.sort((a, b) => a - b);

  const stored = await count('SELECT count() AS n FROM readings FINAL');
  const dead = await count('SELECT count() AS n FROM dead_letters');
  const accounted = stored + dead === published.readings;
  const slots = await count('SELECT count() AS n FROM envelopes FINAL');
  // Each processor's share, from its own metrics, before it stops: the readings partitions it holds (the
  // assignment is settled before the first publish: every processor has joined by then) and the readings
  // rows it inserted.
  const shares = await Promise.all(
    processors.map((p) =>
      processorShare(p.url).catch(() => ({ partitions: Number.NaN, readings: Number.NaN })),
    ),
  );

  await stopRole(bridge);
  await Promise.all(processors.map((p) => stopRole(p)));
  log('pipeline stopped; kcat reads the readings topic');
  const kcat = await kcatRead(kafka.brokers, TOPICS.readings.name);
  const kcatRate = perSecond(kcat.records, kcat.ms);
  // The topic holds the stored readings, several to a record: the ratio compares readings with readings.
  const kcatReadingRate = perSecond(stored, kcat.ms);
  const endToEndRate = perSecond(published.readings, endToEndMs);

  // Storage a reading takes: the readings topic's log segments on the broker's disk (one replica), and the
  // readings table's columns in ClickHouse once merged (OPTIMIZE ... FINAL, as the background merges would
  // leave it; after the CPU time above was taken).
  const kafkaData = join(kafka.dir, 'data');
  const topicPartition = new RegExp(`^${TOPICS.readings.name.replace(/\./g, '\\.')}-\\d+$`);
  const kafkaReadingsBytes = segmentBytes(kafkaData, (name) => topicPartition.test(name));
  const kafkaAllBytes = segmentBytes(kafkaData);
  await warehouse.command('OPTIMIZE TABLE readings FINAL');
  const parts = await warehouse.query<{ table: string; rows: string; compressed: string; raw: string }>(
    `SELECT table, sum(rows) AS rows, sum(data_compressed_bytes) AS compressed,
            sum(data_uncompressed_bytes) AS raw
     FROM system.parts WHERE database = currentDatabase() AND active GROUP BY table`,
  );
  const readingsPart = parts.find((p) => p.table === 'readings');
  const warehouseAllBytes = parts.reduce((sum, p) => sum + Number(p.compressed), 0);
  const perReading = (bytes: number) => (bytes / stored).toFixed(1);

  // CPU per reading: of every process, and of each processor against the readings it stored.
  const cpu = pids.map(([name], i): [string, number] => [name, cpuEnd[i]! - cpuStart[i]!]);
  const micros = (seconds: number, readings: number) =>
    readings > 0 ? ((seconds * 1e6) / readings).toFixed(2) : '-';
  const processorCpu = cpu.filter(([name]) => name.startsWith('processor'));
  const processorsTotal = processorCpu.reduce((sum, [, seconds]) => sum + seconds, 0);
  const sharesTotal = shares.reduce((sum, share) => sum + share.readings, 0);

  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  printReport(
    'distributed path, end to end (MQTT publish -> Mosquitto -> bridge -> Kafka -> processor -> ClickHouse)',
    [
      [
        'fleet',
        `${TRANSFORMERS} DTs x ${METERS} meters = ${totalMeters} meters, one-minute readings, ${READINGS_PER_MESSAGE} per message (uploaded every ${READINGS_PER_MESSAGE} min), ${HOURS} h simulated`,
      ],
      ['edge', `${CONNECTIONS} head-end MQTT connections to Mosquitto, QoS 1; ${offered}`],
      [
        'settings',
        `GRIDSTREAM_PARTITIONS=${PARTITIONS} GRIDSTREAM_REVISION_HORIZON_H=${HORIZON_H} GRIDSTREAM_ALLOWED_LATENESS_S=${LATENESS_S} MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX} GLIBC_TUNABLES=${GLIBC_TUNABLES} GRIDSTREAM_HEAP_GROWTH_PCT=${HEAP_GROWTH}${process.env.NODE_OPTIONS ? ` NODE_OPTIONS=${process.env.NODE_OPTIONS}` : ''}; one bridge, ${PROCESSORS === 1 ? 'one processor' : `${PROCESSORS} processors`}`,
      ],
      [
        'published',
        `${published.readings} readings in ${published.messages} messages over ${s(publishMs)} (${perSecond(published.readings, publishMs)} readings/s)`,
      ],
      ['stored', `${stored} readings (distinct), ${dead} dead letters`],
      ['accounted for', accounted ? 'all' : `NO: ${published.readings - stored - dead} missing`],
      [
        'throughput',
        `${endToEndRate} readings/s, ${perSecond(published.messages, endToEndMs)} messages/s end to end (${s(endToEndMs)} from the first publish to the last reading queryable)`,
      ],
      [
        'slot-close latency',
        `p50 ${s(percentile(latencies, 50))}, p99 ${s(percentile(latencies, 99))}, max ${s(latencies.at(-1) ?? Number.NaN)} over ${latencies.length} DT slots (${published.closes.length} slots)${missingFinals ? `; ${missingFinals} DT slots never final` : ''}`,
      ],
      [
        '',
        'close = first publish of a reading at or past slot end + allowed lateness; to the final envelope queryable',
      ],
      ['envelopes', `${slots} DT slots`],
      [
        'peak RSS',
        `${processorRss.map((rss, i) => `processor${PROCESSORS > 1 ? ` ${i + 1}` : ''} ${mib(rss)}`).join(', ')}, bridge ${mib(bridgeRss)}; ${serviceRss}`,
      ],
      [
        'kcat reference',
        `${kcatRate} records/s, ${kcatReadingRate} readings/s reading ${TOPICS.readings.name} (${kcat.records} records, ${stored} readings, in ${s(kcat.ms)}); end to end / kcat = ${((100 * endToEndRate) / kcatReadingRate).toFixed(1)}%`,
      ],
      [
        'CPU time',
        `${[...pids.map(([name]) => name), 'bench (api, polls)']
          .map((name, i) => `${name} ${(cpuEnd[i]! - cpuStart[i]!).toFixed(1)} s`)
          .join(', ')}; other processes ${(
          cpuEnd.at(-1)! -
          cpuStart.at(-1)! -
          cpuEnd.slice(0, -1).reduce((sum, v, i) => sum + v - cpuStart[i]!, 0)
        ).toFixed(1)} s; in ${s(endToEndMs)} on ${cpus().length} cores`,
      ],
      [
        'CPU per reading',
        `${cpu.map(([name, seconds]) => `${name} ${micros(seconds, published.readings)}`).join(', ')} µs; all ${micros(
          cpu.reduce((sum, [, seconds]) => sum + seconds, 0),
          published.readings,
        )} µs (of the published readings)`,
      ],
      ...processorCpu.map(([name, seconds], i): [string, string] => [
        i === 0 ? 'processors' : '',
        `${name.padEnd(11)} ${shares[i]!.partitions} of ${PARTITIONS} readings partitions, ${shares[i]!.readings} readings stored (${(
          (100 * shares[i]!.readings) /
          sharesTotal
        ).toFixed(
          1,
        )}%), CPU ${seconds.toFixed(1)} s = ${micros(seconds, shares[i]!.readings)} µs a reading it stored`,
      ]),
      [
        '',
        `${'all'.padEnd(11)} ${shares.reduce((sum, share) => sum + share.partitions, 0)} of ${PARTITIONS} partitions, ${sharesTotal} readings stored, CPU ${processorsTotal.toFixed(1)} s = ${micros(processorsTotal, sharesTotal)} µs a reading`,
      ],
      [
        'storage',
        `Kafka ${TOPICS.readings.name} ${mib(kafkaReadingsBytes)} = ${perReading(kafkaReadingsBytes)} bytes a reading in its log segments (${READINGS_PER_MESSAGE} a record, one replica; every topic ${mib(kafkaAllBytes)}, ${perReading(kafkaAllBytes)} a reading)`,
      ],
      [
        '',
        `ClickHouse readings ${readingsPart?.rows ?? 0} rows, ${mib(Number(readingsPart?.compressed ?? 0))} compressed = ${perReading(Number(readingsPart?.compressed ?? 0))} bytes a reading (${perReading(Number(readingsPart?.raw ?? 0))} uncompressed; after OPTIMIZE FINAL); all tables ${mib(warehouseAllBytes)}, ${perReading(warehouseAllBytes)} a reading`,
      ],
      [
        'backlog',
        `at most ${maxBacklogSeen} readings published and not yet queryable; publisher waited ${s(published.backlogWaitMs)}`,
      ],
    ],
  );
  return accounted && missingFinals === 0;
}

/** Stops everything this run started; each step is bounded, so a stuck one cannot leave services behind. */
async function cleanUp(): Promise<void> {
  const step = async (what: string, action: () => Promise<unknown> | undefined) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), 90_000)));
    const outcome = await Promise.race([Promise.resolve(action()).catch((e: Error) => e), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout' || outcome instanceof Error)
      console.error(`clean-up: ${what}: ${outcome === 'timeout' ? 'timed out' : outcome.message}`);
  };
  await step('stop the bridge', () => stopRole(bridge));
  await step('stop the processors', () => Promise.all(processors.map((p) => stopRole(p))));
  await step('stop the API role', () => api?.stop());
  await step('stop Mosquitto', () => mosquitto?.stop());
  await step('stop ClickHouse', () => clickhouse?.stop());
  await step('stop Kafka', () => kafka?.destroy());
  rmSync(dataDir, { recursive: true, force: true });
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error(`\n${signal}: stopping the services (again to leave them running)`);
    void cleanUp().then(() => process.exit(130));
  });

let ok = false;
try {
  ok = await main();
} catch (error) {
  console.error(`bench failed: ${(error as Error).stack ?? error}`);
} finally {
  await cleanUp();
}
process.exit(ok ? 0 : 1);
