/**
 * npm run bench:api — latency of the HTTP API under a fixed request rate, on each warehouse engine.
 *
 * A warehouse is filled through the Warehouse interface with a fleet's month: DTs × 30 days of 15-minute
 * envelopes (2,880,000 rows for 1,000 DTs) and the daily impedance of their meters' legs, and the load-profile
 * pieces the pipeline would have written for them (one a DT-day, sql/029_load_profile_days.sql). Then
 * `gridstream run` is started on it as its own process (the in-process log: without Kafka the roles run
 * together; the pipeline idles but for the topology), the fleet's topology loaded through POST /v1/topology,
 * and wrk (Debian; bench/wrk-paced.lua paces it) drives it at a fixed mean rate:
 *
 *   load-profile   GET /v1/dt/{random DT}/load-profile?days=30 (2,880 slots, ~1.5 MB of JSON each), once
 *                  with Accept-Encoding: gzip (as browsers and HTTP libraries send it) and once without
 *   impedance      POST /v1/impedance/on-demand for one random service point over the 30 days (a customer on
 *                  the phone: 30 rows)
 *
 * Settings (`npm run bench:api -- --name N` or BENCH_NAME=N): dts (1000), meters (20 per DT), days (30), rate
 * (200 requests/s per endpoint), seconds (20 per endpoint), warmup (3 s), connections (20), query-runs (50:
 * the runs of each query alone); BENCH_ENGINES=server,embedded; BENCH_API_NODE_ARGS (e.g. "--cpu-prof") for
 * the API's node. It prints each query a request runs alone (CPU and wall time per query), then per endpoint
 * the latency, the rate reached and the CPU time per request of the API process and of clickhouse-server (on
 * the embedded engine the API process is the warehouse too), the API process's RSS after the load, and what
 * the profiles were answered from.
 * Target: p99 under 20 ms at 200 requests/s, API RSS under 300 MB, for 10,000 DTs (BENCH_DTS=10000).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { packageRoot } from '../core/paths.js';
import { DAY_MS, SLOT_MS } from '../core/time.js';
import { migrate } from '../io/warehouse/migrate.js';
import { queries } from '../io/warehouse/queries.gen.js';
import { runQuery } from '../io/warehouse/query.js';
import { openWarehouse } from '../io/warehouse/open.js';
import { envelopeRow, impedanceDailyRow } from '../io/warehouse/rows.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import { startClickHouseServer } from '../test/support/clickhouse-server.js';
import { freePort } from '../test/support/ports.js';
import { meter, transformer } from '../test/support/topology.js';
import { LoadProfileDays, type LoadProfileDayRow } from '../serving/load-profile-days.js';
import type { DtEnvelope } from '../schemas/types.gen.js';
import { cpuSeconds, MALLOC_ENV, printReport, procStatus, setting } from './common.js';

const DTS = setting('dts', 1000);
const METERS = setting('meters', 20);
const DAYS = setting('days', 30);
const RATE = setting('rate', 200);
const SECONDS = setting('seconds', 20);
const WARMUP = setting('warmup', 3);
const QUERY_RUNS = setting('query-runs', 50);
const CONNECTIONS = setting('connections', 20);
const ENGINES = (process.env.BENCH_ENGINES ?? 'server,embedded').split(',').filter(Boolean);
const KEY = 'bench-api-key-0123456789abcdefghijklmn';

const dtId = (d: number) => `dt-${String(d).padStart(5, '0')}`;
const meterId = (d: number, m: number) => `m-${String(d).padStart(5, '0')}-${String(m).padStart(3, '0')}`;

/** Today's UTC midnight: the month ends here, inside any retention. */
const END = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const START = END - DAYS * DAY_MS;

async function fill(warehouse: Warehouse): Promise<{ rows: number; seconds: number }> {
  const began = performance.now();
  let rows = 0;
  await migrate(warehouse);
  const dts = Array.from({ length: DTS }, (_, d) => d);
  for (let day = START; day < END; day += DAY_MS) {
    const envelopes = [];
    // A DT's slots depend on d % 7 alone: each of the 7 days' pieces is rendered once and stored for its DTs.
    const pieces = new Map<number, LoadProfileDayRow>();
    for (const d of dts) {
      const records: DtEnvelope[] = [];
      for (let slot = day; slot < day + DAY_MS; slot += SLOT_MS) {
        const kw = 40 + 25 * Math.sin((2 * Math.PI * (slot % DAY_MS)) / DAY_MS) + (d % 7);
        records.push({
          dt_id: dtId(d),
          slot_start: slot,
          version: 2 * (slot + SLOT_MS) + 1,
          is_final: true,
          net_mean_kw: kw,
          min_kw: kw - 12.5,
          max_kw: kw + 15.25,
          p95_kw: kw + 11,
          import_kwh: kw / 4,
          export_kwh: 0.25,
          q_mean_kvar: kw / 5,
          legs: [{ leg: 1, v_min: 224.5, v_mean: 229.8, v_max: 236.1 }],
          meters_reporting: METERS - 1,
          meters_connected: METERS,
          readings: 15 * (METERS - 1),
          ami_coverage_pct: 95,
          data_quality: 'ami_direct',
          imputed_kw: 0,
          imputed_meters: 0,
          profile_source: 'measured',
          meters: [],
        });
      }
      for (const e of records) envelopes.push(envelopeRow(e));
      // Inserts of at most ~100,000 rows: one JSON text of a large fleet's day would pass V8's string limit.
      if (envelopes.length >= 100_000) {
        await warehouse.insert('envelopes', envelopes);
        rows += envelopes.length;
        envelopes.length = 0;
      }
      if (!pieces.has(d % 7)) {
        const rendered = new LoadProfileDays();
        rendered.apply(records);
        pieces.set(d % 7, rendered.changed()[0]!);
      }
    }
    await warehouse.insert(
      'load_profile_days',
      dts.map((d) => ({ ...pieces.get(d % 7)!, dt_id: dtId(d) })),
    );
    rows += dts.length + envelopes.length;
    if (envelopes.length > 0) await warehouse.insert('envelopes', envelopes);
    const impedance = [];
    for (const d of dts) {
      for (let m = 0; m < METERS; m++) {
        const id = meterId(d, m);
        impedance.push(
          impedanceDailyRow({
            dt_id: dtId(d),
            meter_id: id,
            leg: 1,
            day,
            median_mohm: 180 + ((d * 31 + m * 7) % 90),
            stderr_mohm: 4.5,
            event_count: 24,
            effective_events: 20.5,
            received_at: day + DAY_MS + 60_000,
            version: 2 * (day + DAY_MS + 60_000) + 1,
            is_final: true,
            service_point_id: `SP-${id}`,
            meter_number: `N-${id}`,
            electronic_serial_number: `E-${id}`,
            premise_id: `P-${id}`,
          }),
        );
      }
    }
    await warehouse.insert('impedance_daily', impedance);
    rows += impedance.length;
  }
  return { rows, seconds: (performance.now() - began) / 1000 };
}

/**
 * Loads the fleet's topology through the API (POST /v1/topology), as an operator does: it goes onto the log,
 * whose topology table tells the routes a DT's tenant (without it every profile is read from the envelope rows).
 */
async function loadTopology(url: string): Promise<void> {
  const dts = Array.from({ length: DTS }, (_, d) => d);
  const response = await fetch(`${url}/v1/topology`, {
    method: 'POST',
    headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
    body: JSON.stringify({
      transformers: dts.map((d) => transformer(dtId(d), { feeder_id: `f-${Math.floor(d / 20)}` })),
      meters: dts.flatMap((d) => Array.from({ length: METERS }, (_, m) => meter(meterId(d, m), dtId(d)))),
    }),
  });
  if (response.status !== 201)
    throw new Error(`POST /v1/topology: ${response.status} ${await response.text()}`);
}

/**
 * Each query a request runs, alone: QUERY_RUNS sequential runs on a random DT or service point after the bulk
 * load's merges, with the CPU time per query of clickhouse-server (the server engine) or of this process, chdb
 * and the JSON parse included (the embedded engine), and the wall time per query.
 */
async function profileQueries(warehouse: Warehouse, serverPid: number | undefined): Promise<string> {
  const pid = serverPid ?? process.pid;
  const days: string[] = [];
  for (let day = START; day < END; day += DAY_MS) days.push(new Date(day).toISOString().slice(0, 10));
  const cases: Array<[string, () => Promise<unknown>]> = [
    [
      `load_profile_days (${DAYS} pieces)`,
      () => runQuery(warehouse, queries.load_profile_days, { dt_ids: [dtId(pick(DTS))], days }),
    ],
    [
      `envelope_day_versions (${DAYS} days)`,
      () =>
        runQuery(warehouse, queries.envelope_day_versions, {
          dt_id: dtId(pick(DTS)),
          from_ms: START,
          to_ms: END,
        }),
    ],
    [
      'envelopes_for_dt (1 day)',
      () =>
        runQuery(warehouse, queries.envelopes_for_dt, {
          dt_id: dtId(pick(DTS)),
          from_ms: END - DAY_MS,
          to_ms: END,
        }),
    ],
    [
      `envelopes_for_dt (${DAYS} days)`,
      () =>
        runQuery(warehouse, queries.envelopes_for_dt, { dt_id: dtId(pick(DTS)), from_ms: START, to_ms: END }),
    ],
    [
      'impedance_meter_rows (1 service point)',
      () =>
        runQuery(warehouse, queries.impedance_meter_rows, {
          service_points: [`SP-${meterId(pick(DTS), pick(METERS))}`],
          meters: [],
          meter_numbers: [],
          serial_numbers: [],
          transformers: [],
          premises: [],
          start_event_date: days[0]!,
          end_event_date: days.at(-1)!,
          max_rows: 10_000,
        }),
    ],
    ['SELECT 1', () => warehouse.query('SELECT 1')],
  ];
  const figures: string[] = [];
  for (const [name, run] of cases) {
    await run();
    const cpu = cpuSeconds(pid);
    const began = performance.now();
    for (let i = 0; i < QUERY_RUNS; i++) await run();
    const wallMs = (performance.now() - began) / QUERY_RUNS;
    figures.push(
      `${name} ${(((cpuSeconds(pid) - cpu) * 1000) / QUERY_RUNS).toFixed(2)} ms CPU, ${wallMs.toFixed(1)} ms wall`,
    );
  }
  return figures.join('; ');
}

/** `gridstream run` on the filled warehouse, resolved once /healthz answers. */
async function startApi(env: Record<string, string>): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      // BENCH_API_NODE_ARGS (e.g. "--cpu-prof") go to the API's node only.
      ...(process.env.BENCH_API_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      join(packageRoot, 'dist', 'bin', 'gridstream.js'),
      'run',
    ],
    {
      env: {
        // The malloc settings infra/run.sh starts gridstream with: without them glibc keeps what the topology
        // load freed, and the RSS measured is not a deployment's.
        ...MALLOC_ENV,
        ...process.env,
        ...env,
        GRIDSTREAM_HTTP_PORT: String(port),
        GRIDSTREAM_MQTT_PORT: String(await freePort()),
        GRIDSTREAM_API_KEYS: KEY,
        // The bench measures latency at its own rate and connections; the per-key limits must not shape it.
        GRIDSTREAM_API_RATE_LIMIT: String(RATE * 100),
        GRIDSTREAM_API_RATE_BURST: String(RATE * 100),
        GRIDSTREAM_API_MAX_CONCURRENT: String(CONNECTIONS * 10),
        GRIDSTREAM_TOPOLOGY_MAX_BYTES: String(1 << 30),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 3000; i++) {
    if (child.exitCode !== null) throw new Error(`gridstream exited with ${child.exitCode}`);
    try {
      const health = await fetch(`${url}/healthz`);
      if (health.ok) return { url, process: child };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('gridstream did not become healthy within 300 s');
}

/**
 * What the API process holds now: its RSS and peak (VmRSS, VmHWM), and of it the V8 heap (used of total) and
 * the memory outside it (typed arrays, buffers) as its /metrics reports them, MiB.
 */
async function memoryMiB(url: string, child: ChildProcess): Promise<string> {
  const status = procStatus(child.pid!);
  const kb = (field: string) => (status(field) / 1024).toFixed(0);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const gauge = (name: string) =>
    (Number(new RegExp(`^gridstream_process_${name} (\\S+)`, 'm').exec(metrics)?.[1]) / 2 ** 20).toFixed(0);
  return `RSS ${kb('VmRSS')} MiB (peak ${kb('VmHWM')}; V8 heap ${gauge('nodejs_heap_size_used_bytes')} used of ${gauge('nodejs_heap_size_total_bytes')}, external ${gauge('nodejs_external_memory_bytes')})`;
}

async function stopApi(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** What the API's counters say the load profiles were read from, and its piece cache's hits. */
async function answeredFrom(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const count = (name: string, label: string, value: string) =>
    Number(new RegExp(`^${name}\\{${label}="${value}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const profiles = 'gridstream_api_load_profiles_total';
  const cache = 'gridstream_api_piece_cache_total';
  return (
    `load profiles: pieces ${count(profiles, 'source', 'pieces')}, envelope rows ${count(profiles, 'source', 'rows')}; ` +
    `pieces from the cache ${count(cache, 'result', 'hit')}, from the warehouse ${count(cache, 'result', 'miss')}`
  );
}

const pick = (n: number) => Math.floor(Math.random() * n);

/** One request of a load: method, path, JSON body (empty for a GET). */
interface BenchRequest {
  method: 'GET' | 'POST';
  path: string;
  body: string;
}

interface LoadResult {
  requests: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  failed: string | null;
  /** CPU time per request of each measured process (label → ms) over the measured run. */
  cpuMs: Array<[string, number]>;
}

/** A process whose CPU time the load is charged with: the API's, clickhouse-server's. */
interface Measured {
  label: string;
  pid: number;
}

/**
 * Drives the API with wrk (Debian) and bench/wrk-paced.lua: CONNECTIONS clients, each sending a random one of
 * `make`'s requests, then thinking for an exponential time (of mean CONNECTIONS / RATE less the median latency),
 * which together approach a Poisson stream at RATE while the API keeps up (a rate it cannot serve shows as a
 * lower rate achieved, with the latency). (autocannon's overallRate sends each second's quota back to back from every
 * connection at the top of the second, and corrects for coordinated omission with a 1 ms interval, so its
 * p99 at 200 requests/s measured bursts of 20 concurrent requests, not the rate.)
 */
async function drive(
  url: string,
  make: () => BenchRequest,
  measured: readonly Measured[],
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gridstream-bench-wrk-'));
  try {
    const file = join(dir, 'requests.tsv');
    writeFileSync(
      file,
      Array.from({ length: 20_000 }, () => {
        const r = make();
        return `${r.method}\t${r.path}\t${r.body}\n`;
      }).join(''),
    );
    const run = (seconds: number, thinkMs: number) =>
      wrk([
        `--threads=2`,
        `--connections=${CONNECTIONS}`,
        `--duration=${seconds}s`,
        '--timeout=10s',
        ...Object.entries({ 'x-api-key': KEY, 'content-type': 'application/json', ...headers }).flatMap(
          ([name, value]) => ['--header', `${name}: ${value}`],
        ),
        `--script=${join(packageRoot, 'bench', 'wrk-paced.lua')}`,
        url,
        '--',
        file,
        String(thinkMs),
      ]);
    // Warm-up (connections, JIT), which also measures the latency: a client's cycle is its latency plus its
    // think time, so the think time is what the cycle for RATE leaves after the typical (median) latency; the
    // mean would let a few slow warm-up requests push the rate above RATE.
    const cycleMs = (CONNECTIONS / RATE) * 1000;
    const warm = await run(WARMUP, cycleMs);
    const before = measured.map((m) => cpuSeconds(m.pid));
    const result = await run(SECONDS, Math.max(1, cycleMs - warm.p50Ms));
    result.cpuMs = measured.map((m, i) => [
      m.label,
      ((cpuSeconds(m.pid) - before[i]!) * 1000) / Math.max(1, result.requests),
    ]);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function wrk(args: string[]): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error)
        return reject(new Error(`wrk failed (is it installed? infra/setup.sh): ${error.message} ${stderr}`));
      const json = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!json) return reject(new Error(`wrk printed no figures: ${stdout}`));
      const r = JSON.parse(json) as Record<string, number>;
      const failed = r.non2xx! + r.errors! + r.timeouts!;
      resolve({
        requests: r.requests!,
        seconds: r.duration_us! / 1e6,
        p50Ms: r.p50_us! / 1000,
        p99Ms: r.p99_us! / 1000,
        maxMs: r.max_us! / 1000,
        failed: failed > 0 ? `non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}` : null,
        cpuMs: [],
      });
    });
  });
}

function line(result: LoadResult): string {
  return (
    `p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, max ${result.maxMs.toFixed(0)} ms; ` +
    `${(result.requests / result.seconds).toFixed(1)} requests/s (${result.requests} in ${result.seconds.toFixed(0)} s); ` +
    `CPU per request: ${result.cpuMs.map(([label, ms]) => `${label} ${ms.toFixed(2)} ms`).join(', ')}` +
    (result.failed ? `; FAILED: ${result.failed}` : '')
  );
}

const loadProfile = (): BenchRequest => ({
  method: 'GET',
  path: `/v1/dt/${dtId(pick(DTS))}/load-profile?days=${DAYS}&to=${new Date(END).toISOString()}`,
  body: '',
});
const impedance = (): BenchRequest => ({
  method: 'POST',
  path: '/v1/impedance/on-demand',
  body: JSON.stringify({
    ServicePoint: `SP-${meterId(pick(DTS), pick(METERS))}`,
    startEventDate: new Date(START).toISOString().slice(0, 10),
    endEventDate: new Date(END).toISOString().slice(0, 10),
  }),
});

async function runEngine(engine: string): Promise<Array<[string, string]>> {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let label: string;
  /** clickhouse-server's pid (the server engine), whose CPU time the requests are charged with too. */
  let serverPid: number | undefined;
  if (engine === 'server') {
    const server = await startClickHouseServer();
    serverPid = Number(readFileSync(join(server.dir, 'clickhouse-server.pid'), 'utf8'));
    env = { GRIDSTREAM_CLICKHOUSE_URL: `${server.url}/gridstream_bench_api` };
    cleanup = () => server.stop();
    label = `ClickHouse server ${server.version}`;
  } else if (engine === 'embedded') {
    const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-bench-api-'));
    env = { GRIDSTREAM_DATA_DIR: dataDir };
    cleanup = async () => rmSync(dataDir, { recursive: true, force: true });
    label = 'embedded chdb';
  } else throw new Error(`unknown engine ${engine} (BENCH_ENGINES: server, embedded)`);
  try {
    const warehouse = await openWarehouse({
      clickhouseUrl: env.GRIDSTREAM_CLICKHOUSE_URL,
      dataDir: env.GRIDSTREAM_DATA_DIR ?? '',
    });
    let filled: { rows: number; seconds: number };
    let perQuery: string;
    try {
      filled = await fill(warehouse);
      // Driven once the bulk load's merges are done (at most 5 minutes): a warehouse in service is not
      // merging a month of a fleet at once, and those merges would take the CPU the API is measured with.
      for (let i = 0; i < 300; i++) {
        const [merging] = await warehouse.query<{ n: number | string }>(
          'SELECT count() AS n FROM system.merges',
        );
        if (Number(merging?.n ?? 0) === 0) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      perQuery = await profileQueries(warehouse, serverPid);
      console.log(`[${label}] per query: ${perQuery}`);
    } finally {
      // The embedded engine's data directory is one process's at a time: the API opens it next.
      await warehouse.close();
    }
    console.log(`[${label}] ${filled.rows} rows stored in ${filled.seconds.toFixed(1)} s; driving the API`);
    const loadStarted = performance.now();
    const api = await startApi(env);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const measured: Measured[] = [
      { label: serverPid === undefined ? 'API (with chdb)' : 'API', pid: api.process.pid! },
      ...(serverPid === undefined ? [] : [{ label: 'ClickHouse', pid: serverPid }]),
    ];
    try {
      const atStart = await memoryMiB(api.url, api.process);
      await loadTopology(api.url);
      const afterTopology = await memoryMiB(api.url, api.process);
      const profile = await drive(api.url, loadProfile, measured, { 'accept-encoding': 'gzip' });
      console.log(`[${label}] load-profile, gzip: ${line(profile)}`);
      const plainProfile = await drive(api.url, loadProfile, measured);
      console.log(`[${label}] load-profile, identity: ${line(plainProfile)}`);
      const onDemand = await drive(api.url, impedance, measured);
      console.log(`[${label}] impedance: ${line(onDemand)}`);
      const memory = `ready ${loadSeconds.toFixed(1)} s after start; API process ${atStart} at start, ${afterTopology} after the topology (${DTS * METERS} meters), ${await memoryMiB(api.url, api.process)} after the load`;
      console.log(`[${label}] memory: ${memory}`);
      const sources = await answeredFrom(api.url);
      console.log(`[${label}] answered from: ${sources}`);
      return [
        [
          `${engine}`,
          `${label}: ${DTS} DTs x ${DAYS} days (${DTS * DAYS} load-profile pieces, ${DTS * DAYS * 96} envelope rows, ${DTS * METERS * DAYS} impedance rows)`,
        ],
        [`  load-profile gzip`, line(profile)],
        [`  load-profile identity`, line(plainProfile)],
        [`  impedance`, line(onDemand)],
        [`  memory`, memory],
        [`  answered from`, sources],
        [`  per query`, perQuery],
      ];
    } finally {
      await stopApi(api.process);
    }
  } finally {
    await cleanup();
  }
}

const rows: Array<[string, string]> = [
  [
    'load',
    `${RATE} requests/s per endpoint (Poisson-like: ${CONNECTIONS} clients, exponential think time) for ${SECONDS} s after a ${WARMUP} s warm-up (wrk)`,
  ],
  ['load-profile', `GET /v1/dt/{random of ${DTS}}/load-profile?days=${DAYS} (${DAYS * 96} slots a response)`],
  ['impedance', 'POST /v1/impedance/on-demand, one random service point, 30 days (one row a day)'],
];
for (const engine of ENGINES) rows.push(...(await runEngine(engine)));
rows.push([
  'target',
  'p99 under 20 ms at 200 requests/s per endpoint, API RSS under 300 MB (286 MiB), for 10000 DTs x 30 days',
]);
printReport('HTTP API under load (gridstream run, idle pipeline)', rows);
