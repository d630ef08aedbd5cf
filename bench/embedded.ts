/**
 * npm run bench:embedded — readings per second through the embedded path, end to end: from the first
 * publish by a separate meter process to the last reading being queryable in ClickHouse. Prints the
 * throughput, the peak RSS of the gridstream process and the accounting (published = stored + dead letters).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGridstream } from '../app/gridstream.js';
import { loadConfig } from '../core/config.js';
import { simulateTopology } from '../simulator/command.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const TRANSFORMERS = Number(process.env.BENCH_TRANSFORMERS ?? 50);
const METERS = Number(process.env.BENCH_METERS ?? 100);
const SEED = 42;

const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-bench-'));
const config = { ...loadConfig({}), dataDir, httpPort: 0, mqttPort: 0, apiKeys: 'bench-key-000000' };
const gridstream = await startGridstream(config, { host: '127.0.0.1' });
await gridstream.pipeline.loadTopology(
  simulateTopology({ seed: SEED, transformers: TRANSFORMERS, meters: METERS }),
  'bench',
);

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
const count = async (sql: string) =>
  Number((await gridstream.edges.warehouse.query<{ n: string }>(sql))[0]!.n);

console.log(
  `publishing for ${SECONDS} s from a separate process: ${TRANSFORMERS} DTs x ${METERS} meters, one reading a minute each`,
);
const started = Date.now();
const publisher = spawn(
  process.execPath,
  [
    fileURLToPath(new URL('./publisher.js', import.meta.url)),
    gridstream.edges.broker!.url,
    String(SECONDS),
    String(TRANSFORMERS),
    String(METERS),
    String(SEED),
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let output = '';
publisher.stdout.on('data', (chunk) => (output += chunk));
await new Promise((resolve) => publisher.on('exit', resolve));
const published = JSON.parse(output.trim().split('\n').at(-1)!) as {
  readings: number;
  messages: number;
  weather: number;
};
const publishSeconds = (Date.now() - started) / 1000;

// End to end: until every published reading (and weather observation) is queryable.
let stored = 0;
let dead = 0;
for (;;) {
  stored = await count('SELECT count() AS n FROM readings');
  dead = await count('SELECT count() AS n FROM dead_letters');
  if (stored + dead >= published.readings) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const seconds = (Date.now() - started) / 1000;
await gridstream.pipeline.settle(300_000);
clearInterval(sampler);
const storedOnce = await count('SELECT count() AS n FROM readings FINAL');
const slots = await count('SELECT count() AS n FROM envelopes FINAL');

console.log(`
embedded path, end to end (MQTT publish -> rows queryable in ClickHouse)
  published        ${published.readings} readings in ${published.messages - published.weather} messages over ${publishSeconds.toFixed(1)} s
  stored           ${storedOnce} readings (distinct), ${dead} dead letters
  accounted for    ${storedOnce + dead === published.readings ? 'all' : `NO: ${published.readings - storedOnce - dead} missing`}
  throughput       ${Math.round(published.readings / seconds)} readings/s end to end (${seconds.toFixed(1)} s to the last row queryable)
  envelopes        ${slots} DT slots
  peak RSS         ${(peakRss / 2 ** 20).toFixed(0)} MiB (gridstream process)`);

await gridstream.stop();
rmSync(dataDir, { recursive: true, force: true });
process.exit(storedOnce + dead === published.readings ? 0 : 1);
