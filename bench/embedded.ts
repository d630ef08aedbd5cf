/**
 * npm run bench:embedded — readings per second through the embedded path, end to end: from the first
 * publish by a separate meter process to the last reading being queryable in ClickHouse. Prints the
 * throughput, the peak RSS of the gridstream process and the accounting (published = stored + dead letters).
 *
 * Settings (`-- --name N` or BENCH_NAME): seconds (60), transformers (50), meters per DT (100),
 * readings-per-message (1), connections (1: the head-end's MQTT connections, meters spread over them), durable (1; 0 runs the in-process log without its files, to measure what
 * durability costs). The gridstream process is this one (the bench's own polls count in its CPU time):
 * `node --cpu-prof dist/bench/embedded.js` profiles it; BENCH_PUBLISHER_NODE_ARGS (e.g. "--cpu-prof") go to
 * the publisher's node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGridstream } from '../app/start-gridstream.js';
import { loadConfig } from '../core/config.js';
import { applyHeapGrowth } from '../core/heap.js';
import { generatePassword } from '../core/password-hash.js';
import { simulateTopology } from '../simulator/command.js';
import {
  machineCpuSeconds,
  mib,
  perSecond,
  printReport,
  procStatus,
  rerunWithMallocEnv,
  setting,
  startPublisher,
} from './common.js';

// gridstream runs in this process: with the malloc settings infra/run.sh gives it.
rerunWithMallocEnv();

const SECONDS = setting('seconds', 60);
const TRANSFORMERS = setting('transformers', 50);
const METERS = setting('meters', 100);
const READINGS_PER_MESSAGE = setting('readings-per-message', 1);
const DURABLE = setting('durable', 1) !== 0;
const CONNECTIONS = setting('connections', 1);
const SEED = 42;

const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-bench-'));
// The publisher logs in as a head-end account, which may publish for every meter.
const mqttPassword = generatePassword();
const config = {
  ...loadConfig({}),
  dataDir,
  httpPort: 0,
  mqttPort: 0,
  apiKeys: 'bench-key-0000000000000000000000000000',
  mqttUsers: `bench-head-end:${mqttPassword}`,
};
// As `gridstream demo` does (bin/gridstream.ts).
applyHeapGrowth(config.heapGrowthPct, true);
const gridstream = await startGridstream(config, { host: '127.0.0.1', logInMemoryOnly: !DURABLE });
await gridstream.pipeline.loadTopology(
  simulateTopology({ seed: SEED, transformers: TRANSFORMERS, meters: METERS }),
  'bench',
);

// What the process holds when its RSS peaks: V8's heap, buffers outside it, and the rest (native: chdb's engine
// and caches, the Node binary).
/** This process's resident memory by kind (/proc/self/status): file-backed pages and anonymous ones. */
function residentKinds(): { file: number; anon: number; threads: number } {
  const field = procStatus(process.pid);
  return { file: field('RssFile') * 1024, anon: field('RssAnon') * 1024, threads: field('Threads') };
}
let peak = { ...process.memoryUsage(), ...residentKinds() };
const sampler = setInterval(() => {
  const now = process.memoryUsage();
  if (now.rss > peak.rss) peak = { ...now, ...residentKinds() };
}, 200);
const count = async (sql: string) =>
  Number((await gridstream.edges.warehouse.query<{ n: string }>(sql))[0]!.n);

console.log(
  `publishing for ${SECONDS} s from a separate process: ${TRANSFORMERS} DTs x ${METERS} meters, one reading a minute each, ${READINGS_PER_MESSAGE} per message, over ${CONNECTIONS} head-end connection(s); log ${DURABLE ? 'on disk (durable)' : 'in memory only'}`,
);
// The embedded broker holds a publisher back while the pipeline is busy: publishing as fast as it
// acknowledges is already a closed loop.
const cpuAtStart = process.cpuUsage();
const machineAtStart = machineCpuSeconds();
const brokerUrl = new URL(gridstream.edges.broker!.url);
brokerUrl.username = 'bench-head-end';
brokerUrl.password = mqttPassword;
const url = brokerUrl.toString();
const published = await startPublisher({
  meterUrls: Array.from({ length: CONNECTIONS }, () => url),
  weatherUrl: url,
  seed: SEED,
  transformers: TRANSFORMERS,
  meters: METERS,
  startMs: Date.parse('2026-07-01T00:00:00Z'),
  endMs: Date.parse('2026-09-01T00:00:00Z'),
  readingsPerMessage: READINGS_PER_MESSAGE,
  seconds: SECONDS,
  rate: 0,
  maxBacklog: 0,
  allowedLatenessMs: config.allowedLatenessS * 1000,
}).result;
const publishMs = published.lastPublishAt - published.firstPublishAt;

// End to end: until every published reading is queryable (stored, or kept as a dead letter).
let stored = 0;
let dead = 0;
for (;;) {
  stored = await count('SELECT count() AS n FROM readings');
  dead = await count('SELECT count() AS n FROM dead_letters');
  if (stored + dead >= published.readings) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const endToEndMs = Date.now() - published.firstPublishAt;
const gridstreamCpu = process.cpuUsage(cpuAtStart);
const gridstreamSeconds = (gridstreamCpu.user + gridstreamCpu.system) / 1e6;
const otherSeconds = machineCpuSeconds() - machineAtStart - gridstreamSeconds - published.cpuSeconds;
const perReading = (seconds: number) => ((seconds * 1e6) / published.readings).toFixed(2);
await gridstream.pipeline.settle(300_000);
clearInterval(sampler);
const storedOnce = await count('SELECT count() AS n FROM readings FINAL');
const slots = await count('SELECT count() AS n FROM envelopes FINAL');
const accounted = storedOnce + dead === published.readings;

printReport('embedded path, end to end (MQTT publish -> rows queryable in ClickHouse)', [
  [
    'published',
    `${published.readings} readings in ${published.messages} messages over ${(publishMs / 1000).toFixed(1)} s`,
  ],
  ['stored', `${storedOnce} readings (distinct), ${dead} dead letters`],
  ['accounted for', accounted ? 'all' : `NO: ${published.readings - storedOnce - dead} missing`],
  [
    'throughput',
    `${perSecond(published.readings, endToEndMs)} readings/s, ${perSecond(published.messages, endToEndMs)} messages/s end to end (${(endToEndMs / 1000).toFixed(1)} s to the last row queryable)`,
  ],
  ['envelopes', `${slots} DT slots`],
  [
    'CPU time',
    `gridstream ${gridstreamSeconds.toFixed(1)} s, publisher ${published.cpuSeconds.toFixed(1)} s; other processes ${Math.max(0, otherSeconds).toFixed(1)} s; in ${(endToEndMs / 1000).toFixed(1)} s on ${availableParallelism()} cores`,
  ],
  [
    'CPU per reading',
    `gridstream ${perReading(gridstreamSeconds)} µs, publisher ${perReading(published.cpuSeconds)} µs (of the published readings)`,
  ],
  ['peak RSS', `${mib(peak.rss)} (gridstream process)`],
  [
    'at the peak',
    `V8 heap ${mib(peak.heapUsed)} used of ${mib(peak.heapTotal)}, outside it ${mib(peak.external)} (array buffers ${mib(peak.arrayBuffers)}), the rest ${mib(Math.max(0, peak.rss - peak.heapTotal - peak.external))} (native: chdb, the Node binary); of the RSS ${mib(peak.file)} mapped files (chdb's library, the Node binary: shared, dropped under memory pressure), ${mib(peak.anon)} anonymous; ${peak.threads} threads`,
  ],
]);

await gridstream.stop();
rmSync(dataDir, { recursive: true, force: true });
process.exit(accounted ? 0 : 1);
