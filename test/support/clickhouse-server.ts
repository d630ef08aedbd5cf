import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { packageRoot } from '../../core/paths.js';
import { openWarehouse } from '../../io/warehouse/open.js';
import {
  dispatchRow,
  envelopeRow,
  impedanceDailyRow,
  impedanceFlagRow,
  readingRow,
  topologyMeterRow,
  topologyTransformerRow,
  topologyVersionRow,
} from '../../io/warehouse/rows.js';
import { sqlQuery } from '../../io/warehouse/sql-files.js';
import type { QueryParams, Warehouse } from '../../io/warehouse/warehouse.js';
import type {
  DtEnvelope,
  ImpedanceFlagKind,
  TopologyMeter,
  TopologyTransformer,
} from '../../schemas/types.gen.js';
import { meter as baseMeter, transformer as baseTransformer } from './topology.js';

const run = promisify(execFile);
const scripts = join(packageRoot, 'infra', 'clickhouse');

export interface ClickHouseServer {
  /** HTTP URL, e.g. http://127.0.0.1:43843 (no database: append /name for one). */
  url: string;
  /** What the server's version() says, e.g. '18.16.1'. */
  version: string;
  /** The server's directory (data, logs, pid file), a temporary directory removed by stop(). */
  dir: string;
  /** Stops the server (as infra/clickhouse/stop.sh does), keeping its data and ports: the server "goes away". */
  down(): Promise<void>;
  /** Starts it again on the same directory and URL, after down(). */
  up(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** Servers still running when the test process exits are stopped then (a failed test may skip stop()). */
const running = new Set<string>();
process.on('exit', () => {
  for (const dir of running) {
    try {
      process.kill(Number(readFileSync(join(dir, 'clickhouse-server.pid'), 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Starts Debian's clickhouse-server (18.16 on these machines) through infra/clickhouse/start.sh, in a fresh
 * temporary directory on free ports, and resolves once it answers. The tests use the same scripts as
 * developers do.
 */
export async function startClickHouseServer(): Promise<ClickHouseServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gridstream-clickhouse-'));
  const start = async () => {
    const { stdout } = await run(join(scripts, 'start.sh'), [dir], { timeout: 90_000 });
    running.add(dir);
    return stdout.trim().split('\n').at(-1)!;
  };
  const halt = async () => {
    if (!existsSync(join(dir, 'clickhouse-server.pid'))) return;
    await run(join(scripts, 'stop.sh'), [dir], { timeout: 60_000 });
    running.delete(dir);
  };
  let url: string;
  try {
    url = await start();
  } catch (error) {
    await halt().catch(() => {});
    throw new Error(`cannot start clickhouse-server in ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const response = await fetch(`${url}/?query=${encodeURIComponent('SELECT version()')}`);
  const version = (await response.text()).trim();
  return {
    url,
    version,
    dir,
    down: halt,
    async up() {
      const again = await start();
      if (again !== url) throw new Error(`clickhouse-server came back on ${again}, not ${url}`);
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The warehouse engines the warehouse tests run on. */
export const ENGINES = ['embedded', 'server'] as const;
export type Engine = (typeof ENGINES)[number];

/** How a test names an engine (the server's version is only known once it runs). */
export const ENGINE_LABELS: Record<Engine, string> = {
  embedded: 'the embedded engine (chdb, current ClickHouse)',
  server: "Debian's ClickHouse server (18.16 here)",
};

export interface TestWarehouse {
  warehouse: Warehouse;
  /** The server behind a 'server' warehouse. */
  server?: ClickHouseServer;
  /** Where an 'embedded' warehouse keeps its data (its engine is in `clickhouse/` below). */
  dataDir?: string;
  /** Closes the warehouse and opens it again on the same data directory or server (and sets `warehouse`). */
  reopen(): Promise<Warehouse>;
  /** Closes the warehouse, then stops the server or removes the data directory. */
  close(): Promise<void>;
}

/**
 * A fresh, empty warehouse on `engine`: an embedded chdb engine in a temporary directory, or a database on a
 * clickhouse-server of its own started with startClickHouseServer().
 */
export async function openTestWarehouse(engine: Engine): Promise<TestWarehouse> {
  if (engine === 'embedded') {
    const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-warehouse-'));
    const opened: TestWarehouse = {
      warehouse: await openWarehouse({ dataDir }),
      dataDir,
      async reopen() {
        await opened.warehouse.close();
        return (opened.warehouse = await openWarehouse({ dataDir }));
      },
      async close() {
        await opened.warehouse.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
    return opened;
  }
  const server = await startClickHouseServer();
  const options = { clickhouseUrl: `${server.url}/gridstream_test`, dataDir: server.dir };
  try {
    const opened: TestWarehouse = {
      warehouse: await openWarehouse(options),
      server,
      async reopen() {
        await opened.warehouse.close();
        return (opened.warehouse = await openWarehouse(options));
      },
      async close() {
        await opened.warehouse.close();
        await server.stop();
      },
    };
    return opened;
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * The same rows for every engine, shaped to exercise the application queries the API and the pipeline run
 * (sql/queries/*.sql): several transformers (one without meters or envelopes, one with a quote in its id),
 * moved meters, revised and final envelope slots, replayed readings, NULLs, awkward floats. Times are recent
 * (the retention would drop old rows); `slot` is the first 15-minute slot used.
 */
export async function loadQueryFixture(warehouse: Warehouse, slot: number): Promise<void> {
  const minute = 60_000;
  // The shared fixtures of test/support/topology.ts, with this fixture's own values and versions.
  const transformer = (dt_id: string, extra: Partial<TopologyTransformer> = {}): TopologyTransformer => ({
    ...baseTransformer(dt_id, {
      feeder_id: 'F-1',
      rated_kva: 100,
      latitude: -33.86,
      longitude: 151.2,
      weather_station_id: 'ws-1',
    }),
    topology_version: 1,
    ...extra,
  });
  const meter = (meter_id: string, dt_id: string, topology_version: number): TopologyMeter => ({
    ...baseMeter(meter_id, dt_id, {
      meter_number: `MN-${meter_id}`,
      electronic_serial_number: `ESN-${meter_id}`,
      legs: 2,
    }),
    topology_version,
  });
  await warehouse.insert(
    'topology_transformers',
    [
      transformer('dt-a'),
      transformer('dt-b', {
        cooling_class: 'ONAF',
        rated_kva: 315.5,
        weather_station_id: null,
        top_oil_rise_k: 55,
        loss_ratio: 6.25,
        tau_winding_min: 7,
      }),
      transformer('dt-c', { latitude: 0.1 + 0.2, longitude: -1 / 3 }),
      transformer("dt-'quote", { topology_version: 2 }),
    ].map(topologyTransformerRow),
  );
  await warehouse.insert(
    'topology_meters',
    [
      meter('m-1', 'dt-a', 1),
      meter('m-2', 'dt-a', 1),
      meter('m-3', 'dt-b', 1),
      meter('m-2', 'dt-b', 2), // moved to dt-b by version 2
      meter('m-4', "dt-'quote", 2),
    ].map(topologyMeterRow),
  );
  await warehouse.insert('topology_versions', [
    topologyVersionRow({
      version: 1,
      loaded_at: slot - 60 * minute,
      source: 'first.csv',
      meters: 3,
      transformers: 3,
    }),
    topologyVersionRow({
      version: 2,
      loaded_at: slot - 30 * minute,
      source: 'api',
      meters: 2,
      transformers: 1,
    }),
  ]);
  const envelope = (dt_id: string, slotStart: number, version: number, extra: Partial<DtEnvelope> = {}) =>
    envelopeRow({
      dt_id,
      slot_start: slotStart,
      version,
      is_final: false,
      net_mean_kw: 41.5,
      min_kw: -12.25,
      max_kw: 80.125,
      p95_kw: 77.1,
      import_kwh: 10.5,
      export_kwh: 1e-7,
      q_mean_kvar: 3.3,
      legs: [
        { leg: 1, v_min: 228.5, v_mean: 231.4, v_max: 236 },
        { leg: 2, v_min: 227, v_mean: 230.00000000000003, v_max: 235.5 },
      ],
      meters_reporting: 2,
      meters_connected: 2,
      readings: version * 10,
      ami_coverage_pct: 100 / 3,
      data_quality: 'ami_imputed',
      imputed_kw: 0,
      imputed_meters: 0,
      profile_source: 'measured',
      meters: [],
      ...extra,
    });
  await warehouse.insert('envelopes', [
    envelope('dt-a', slot, 1),
    envelope('dt-a', slot, 3, { is_final: true, ami_coverage_pct: 95.5, data_quality: 'ami_direct' }),
    envelope('dt-a', slot + 15 * minute, 2, { q_mean_kvar: null, legs: [] }),
    envelope('dt-b', slot, 4, { is_final: true, net_mean_kw: -0.5, data_quality: 'modelled_only' }),
    envelope("dt-'quote", slot + 15 * minute, 1),
  ]);
  const reading = (meter_id: string, dt_id: string, ts: number, received_at: number, p_kw: number) =>
    readingRow({
      meter_id,
      dt_id,
      ts,
      p_kw,
      q_kvar: p_kw > 0 ? 0.31 : null,
      legs: [
        { leg: 1, v: 231.4, i: 6.2 },
        { leg: 2, v: 229.9, i: p_kw / 0.23 },
      ],
      e_imp_kwh: 5120.4,
      e_exp_kwh: p_kw > 0 ? null : 88.1,
      received_at,
    });
  await warehouse.insert('readings', [
    reading('m-1', 'dt-a', slot + 3_123, slot + minute, 1.42),
    reading('m-1', 'dt-a', slot + 3_123, slot + 2 * minute, 1.42), // replayed: the later copy is kept
    reading('m-2', 'dt-a', slot + 5 * minute, slot + 6 * minute, -0.7),
    reading('m-1', 'dt-a', slot - 20 * minute, slot - 19 * minute, 0.1), // beyond a 10-minute horizon
    reading('m-3', 'dt-b', slot + 7 * minute, slot + 7 * minute + 1, 12345.678),
  ]);
  const day = Date.UTC(2026, 6, 1);
  const impedance = (
    meter_id: string,
    dt_id: string,
    leg: number,
    d: number,
    version: number,
    median_mohm: number,
  ) =>
    impedanceDailyRow({
      meter_id,
      leg,
      day: day + d * DAY,
      dt_id,
      median_mohm,
      stderr_mohm: 1.25,
      event_count: 12 + d,
      effective_events: 12.5,
      received_at: day + (d + 1) * DAY + 29 * minute + 550,
      version,
      is_final: version > 1,
      service_point_id: `SP-${meter_id}`,
      meter_number: meter_id === 'm-3' ? null : `MN-${meter_id}`,
      electronic_serial_number: `ESN-${meter_id}`,
      premise_id: `P-${meter_id}`,
    });
  await warehouse.insert('impedance_daily', [
    impedance('m-1', 'dt-a', 1, 0, 1, 44.38334),
    impedance('m-1', 'dt-a', 1, 0, 2, 44.5), // the newer version of the same leg-day
    impedance('m-1', 'dt-a', 2, 0, 2, 128.1167),
    impedance('m-1', 'dt-a', 1, 1, 1, 45.25),
    impedance('m-3', 'dt-b', 1, 1, 2, 221.2667),
    impedance('m-4', "dt-'quote", 3, 2, 2, 34.23333),
  ]);
  // Flags for impedance_flags_of_meters.sql: m-1's leg 2 flagged twice on one day (kinds in enum order), the
  // absolute flag raised again (the later row replaces it), m-3 on its DT.
  const flag = (
    meter_id: string,
    dt_id: string,
    leg: number,
    d: number,
    kind: ImpedanceFlagKind,
    median: number,
  ) =>
    impedanceFlagRow({
      meter_id,
      dt_id,
      leg,
      day: day + d * DAY,
      kind,
      median_mohm: median,
      reference_mohm: 100.125,
    });
  // Two inserts into one table, each with a token of its own: a token an earlier insert left in the session (an
  // in-process connection turns settings into session SETs) would drop the second as a retry.
  await warehouse.insert(
    'impedance_flags',
    [flag('m-1', 'dt-a', 2, 0, 'peer_rise', 128.1167), flag('m-1', 'dt-a', 2, 0, 'absolute', 127.5)],
    { dedupToken: 'fixture-flags-1' },
  );
  await warehouse.insert(
    'impedance_flags',
    [flag('m-1', 'dt-a', 2, 0, 'absolute', 128.1167), flag('m-3', 'dt-b', 1, 1, 'own_rise', 221.2667)],
    { dedupToken: 'fixture-flags-2' },
  );
}

/**
 * Dispatch commands for dispatches_for_assets.sql: two assets, a re-delivered command, optional fields null, a
 * state-of-charge imbalance in MWh, a cancel (ev-'2's, with the zero target a cancel carries).
 */
export async function loadDispatchFixture(warehouse: Warehouse, slot: number): Promise<void> {
  const minute = 60_000;
  const command = (
    event_id: string,
    asset_id: string,
    at: number,
    received: number,
    full: boolean,
    action: 'dispatch' | 'cancel' = 'dispatch',
  ) =>
    dispatchRow({
      event_id,
      source: full ? 'optimiser' : null,
      published_at: full ? at - 1_000 : null,
      asset_id,
      dispatch_time: at,
      delivery_period_start: at + 15 * minute,
      target_power:
        action === 'cancel'
          ? { amount: '0', unit: 'kW' }
          : { amount: full ? '-1.250' : '500', unit: full ? 'MW' : 'kW' },
      nominal_power: full ? { amount: '2', unit: 'MW' } : null,
      power_imbalance: full ? { amount: '0.1', unit: 'MW' } : null,
      soc_imbalance: full ? { amount: '0.375', unit: 'MWh' } : null,
      received_at: received,
      action,
    });
  await warehouse.insert('dispatches', [
    command('7b0c1a52-0000-4000-8000-000000000001', 'bess-1', slot, slot + 1_000, true),
    command('7b0c1a52-0000-4000-8000-000000000001', 'bess-1', slot, slot + 2_000, true), // re-delivered
    command('7b0c1a52-0000-4000-8000-000000000002', 'bess-1', slot + 15 * minute, slot + 15 * minute, false),
    command(
      '7b0c1a52-0000-4000-8000-000000000003',
      "ev-'2",
      slot + 5 * minute,
      slot + 5 * minute,
      false,
      'cancel',
    ),
    command('7b0c1a52-0000-4000-8000-000000000004', 'pv-3', slot + 5 * minute, slot + 5 * minute, true),
  ]);
  // Assets behind DTs for dt_assets.sql (bess-1 moved from dt-b to dt-a, its nominal power cleared), and period
  // limits for period_limits_of_range.sql: a limit cleared to NULL by a newer version, a removed row.
  const asset = (asset_id: string, dt_id: string, nominal_kw: number | null, topology_version: number) => ({
    asset_id,
    dt_id,
    meter_id: null,
    asset_type: 'BESS',
    nominal_kw,
    topology_version,
  });
  await warehouse.insert('topology_assets', [
    asset('bess-1', 'dt-b', 2000, 1),
    asset('bess-1', 'dt-a', null, 2),
    asset("ev-'2", 'dt-a', 11, 1),
    asset('pv-3', 'dt-b', 5.5, 1),
  ]);
  const limit = (source: string, start: number, version: number, charge: number | null, removed = 0) => ({
    asset_id: 'bess-1',
    source,
    start_ms: start,
    end_ms: start + 15 * minute,
    power_charge_kw: charge,
    power_discharge_kw: charge === null ? null : 125.5,
    energy_low_kwh: null,
    energy_high_kwh: 375,
    trading_locked: source === 'CUSTOMER' ? 1 : null,
    created_ms: slot,
    updated_ms: slot + version,
    version,
    removed,
  });
  await warehouse.insert('period_limits', [
    limit('REPORTED', slot, 1, -250),
    limit('REPORTED', slot, 2, null),
    limit('CUSTOMER', slot, 1, -100),
    limit('OPERATIONS', slot + 15 * minute, 1, -50),
    limit('OPERATIONS', slot + 15 * minute, 2, null, 1),
  ]);
}

/** Parameters of impedance_daily_rows.sql: no filter, the `default` tenant, then `extra`. */
export function impedanceParams(extra: QueryParams = {}): QueryParams {
  return {
    start_event_date: '1970-01-01',
    end_event_date: '2105-12-31',
    start_received: '1970-01-01 00:00:00.000',
    end_received: '2105-12-31 23:59:59.999',
    service_points: [],
    meters: [],
    meter_numbers: [],
    serial_numbers: [],
    transformers: [],
    premises: [],
    feeders: [],
    tenant: 'default',
    limit: 1000,
    offset: 0,
    ...extra,
  };
}

/** The application queries of sql/queries/ with the parameters their callers pass, each named. */
export function fixtureQueries(slot: number): Array<[string, string, QueryParams?]> {
  const minute = 60_000;
  return [
    ['list_dts', 'list_dts', { tenant: 'default', limit: 1000, offset: 0 }],
    ['list_dts (paged)', 'list_dts', { tenant: 'default', limit: 2, offset: 1 }],
    ['list_dts (another tenant)', 'list_dts', { tenant: "utility-b' OR 1=1 --", limit: 1000, offset: 0 }],
    ['dt_tenants', 'dt_tenants', { dt_ids: ['dt-a', 'dt-c', 'dt-x', "dt-'quote"] }],
    ['dt_exists', 'dt_exists', { dt_id: 'dt-a' }],
    ['dt_exists (topology only)', 'dt_exists', { dt_id: 'dt-c' }],
    ['dt_exists (unknown)', 'dt_exists', { dt_id: 'dt-x' }],
    ['dt_exists (injection-shaped)', 'dt_exists', { dt_id: "dt-a' OR '1'='1" }],
    ['dt_exists (quote in the id)', 'dt_exists', { dt_id: "dt-'quote" }],
    ['envelopes_for_dt', 'envelopes_for_dt', { dt_id: 'dt-a', from_ms: slot, to_ms: slot + 30 * minute }],
    [
      'envelopes_for_dt (second slot)',
      'envelopes_for_dt',
      { dt_id: 'dt-a', from_ms: slot + 1, to_ms: slot + 30 * minute },
    ],
    [
      'envelopes_for_dt (quote in the id)',
      'envelopes_for_dt',
      { dt_id: "dt-'quote", from_ms: 0, to_ms: slot + DAY },
    ],
    [
      'recent_readings_minutes',
      'recent_readings_minutes',
      { dts: ['dt-a', 'dt-b', "x' OR 1=1 --"], horizon_s: 600 },
    ],
    [
      'recent_readings',
      'recent_readings',
      {
        dts: ['dt-a', 'dt-b', "x' OR 1=1 --"],
        from_ms: slot - 3 * minute,
        received_from_ms: 0,
        received_to_ms: slot + DAY,
      },
    ],
    [
      'recent_readings (one DT, long horizon)',
      'recent_readings',
      { dts: ['dt-a'], from_ms: slot - 55 * minute, received_from_ms: 0, received_to_ms: slot + DAY },
    ],
    [
      'recent_readings (a piece with only an older copy)',
      'recent_readings',
      {
        dts: ['dt-a'],
        from_ms: slot - 3 * minute,
        received_from_ms: slot + minute,
        received_to_ms: slot + 2 * minute,
      },
    ],
    [
      'slot_readings',
      'slot_readings',
      { dts: ['dt-a', 'dt-b', "x' OR 1=1 --"], from_ms: slot, to_ms: slot + 15 * minute },
    ],
    [
      'slot_readings (an earlier slot)',
      'slot_readings',
      { dts: ['dt-a'], from_ms: slot - 30 * minute, to_ms: slot - 15 * minute },
    ],
    ['impedance_daily_rows', 'impedance_daily_rows', impedanceParams()],
    [
      'impedance_daily_rows (filtered, paged)',
      'impedance_daily_rows',
      impedanceParams({
        meters: ['m-1', 'm-3'],
        start_event_date: '2026-07-01',
        end_event_date: '2026-07-02',
        start_received: '2026-07-02 00:29:00.550',
        limit: 2,
        offset: 1,
      }),
    ],
    [
      'impedance_daily_rows (feeder, premises, numbers)',
      'impedance_daily_rows',
      impedanceParams({
        feeders: ['F-1'],
        premises: ['P-m-1', 'P-m-3', 'P-m-4'],
        meter_numbers: ['MN-m-1', 'MN-m-4'],
        service_points: ['SP-m-1', 'SP-m-4'],
        serial_numbers: ['ESN-m-4'],
        transformers: ["dt-'quote"],
      }),
    ],
    [
      'impedance_daily_rows (injection-shaped)',
      'impedance_daily_rows',
      impedanceParams({ meters: ["m-1' OR 1=1 --"], tenant: "default' OR 1=1 --" }),
    ],
    [
      'impedance_daily_rows (another tenant)',
      'impedance_daily_rows',
      impedanceParams({ tenant: 'utility-b' }),
    ],
    [
      'dispatches_for_assets',
      'dispatches_for_assets',
      {
        ...EVERY_DELIVERY,
        asset_ids: ['bess-1', "ev-'2"],
        from_ms: slot,
        to_ms: slot + 30 * minute,
        limit: 50,
        offset: 0,
      },
    ],
    [
      'dispatches_for_assets (paged, injection-shaped)',
      'dispatches_for_assets',
      {
        ...EVERY_DELIVERY,
        asset_ids: ['bess-1', "x' OR 1=1 --"],
        from_ms: slot,
        to_ms: slot + DAY,
        limit: 1,
        offset: 1,
      },
    ],
    [
      'dispatches_for_assets (delivered in a window)',
      'dispatches_for_assets',
      {
        asset_ids: ['bess-1', "ev-'2", 'pv-3'],
        from_ms: 0,
        to_ms: slot + DAY,
        delivery_from_ms: slot + 20 * minute,
        delivery_to_ms: slot + DAY,
        limit: 50,
        offset: 0,
      },
    ],
    ['dt_assets', 'dt_assets', { dts: ['dt-a', "dt-'quote"] }],
    ['dt_meters', 'dt_meters', { dt_id: 'dt-a' }],
    ['dt_meters (a meter moved in)', 'dt_meters', { dt_id: 'dt-b' }],
    ['dt_meters (quote in the id)', 'dt_meters', { dt_id: "dt-'quote" }],
    [
      'impedance_meter_rows',
      'impedance_meter_rows',
      {
        service_points: [],
        meters: ['m-1', 'm-2', 'm-3'],
        meter_numbers: [],
        serial_numbers: [],
        transformers: [],
        premises: [],
        start_event_date: '2026-07-01',
        end_event_date: '2026-07-02',
        max_rows: 1000,
      },
    ],
    [
      'impedance_flags_of_meters',
      'impedance_flags_of_meters',
      {
        meters: ['m-1', 'm-3', "m-1' OR 1=1 --"],
        start_event_date: '2026-07-01',
        end_event_date: '2026-07-31',
      },
    ],
    [
      'impedance_flags_of_meters (a day)',
      'impedance_flags_of_meters',
      { meters: ['m-1', 'm-3'], start_event_date: '2026-07-02', end_event_date: '2026-07-02' },
    ],
    [
      'period_limits_of_range',
      'period_limits_of_range',
      { asset_ids: ['bess-1', "ev-'2"], from_ms: 0, to_ms: slot + DAY },
    ],
    ['latest_topology_meters', 'latest_topology_meters'],
    ['latest_topology_transformers', 'latest_topology_transformers'],
    ['max_topology_version', 'max_topology_version'],
    ['max_topology_row_version', 'max_topology_row_version'],
  ];
}
const DAY = 24 * 3_600_000;
/** dispatches_for_assets.sql's delivery bounds that admit every command. */
const EVERY_DELIVERY = { delivery_from_ms: 0, delivery_to_ms: Date.UTC(2106, 0, 1) };

/** Runs fixtureQueries() and returns each result, keyed by name. */
export async function runFixtureQueries(
  warehouse: Warehouse,
  slot: number,
): Promise<Record<string, unknown[]>> {
  const results: Record<string, unknown[]> = {};
  for (const [name, query, params] of fixtureQueries(slot))
    results[name] = await warehouse.query(sqlQuery(query), params);
  return results;
}
