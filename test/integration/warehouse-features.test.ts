import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FEATURES, supports, type Feature } from '../../io/warehouse/dialect.js';
import { ServerWarehouse } from '../../io/warehouse/server-warehouse.js';
import { ENGINES, openTestWarehouse, type Engine, type TestWarehouse } from '../support/clickhouse-server.js';

/*
 * The feature list that gates gridstream's SQL (io/warehouse/dialect.ts), checked against real engines: the
 * embedded engine (current ClickHouse) has every feature, Debian's clickhouse-server (18.16) has none, and
 * each one's probe shows it. A probe is plain SQL, run without gates, that works only with the feature.
 */

type Probe = (run: (sql: string) => Promise<unknown>, opened: TestWarehouse) => Promise<unknown>;

let table = 0;
const fresh = () => `probe_${++table}`;

const PROBES: Record<Feature, Probe> = {
  query_params: async (run, opened) => {
    if (opened.server === undefined) return opened.warehouse.query('SELECT {x:UInt8} AS x', { x: 1 });
    // Straight over HTTP: the server warehouse would bind the parameter itself on an old server.
    const response = await fetch(`${opened.server.url}/?param_x=1`, {
      method: 'POST',
      body: 'SELECT {x:UInt8}',
    });
    if (!response.ok) throw new Error(await response.text());
  },
  low_cardinality: (run) => run(`CREATE TABLE ${fresh()} (x LowCardinality(String)) ENGINE = Memory`),
  add_column_if_not_exists: async (run) => {
    const name = fresh();
    await run(`CREATE TABLE ${name} (x UInt8) ENGINE = MergeTree ORDER BY x`);
    await run(`ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS y UInt8`);
  },
  multiple_joins: (run) =>
    run(
      `SELECT a.dummy FROM system.one AS a JOIN system.one AS b ON a.dummy = b.dummy
       JOIN system.one AS c ON c.dummy = a.dummy`,
    ),
  datetime64: (run) =>
    run(
      `SELECT toUnixTimestamp64Milli(toDateTime64('2026-07-01 10:15:03.123', 3, 'UTC')) AS ms,
              fromUnixTimestamp64Milli(toInt64(1782900903123), 'UTC') AS t`,
    ),
  // A result rendered as Parquet and discarded (command(), as query() would parse it as JSON).
  parquet: (_run, opened) => opened.warehouse.command('SELECT 1 AS x FORMAT Parquet'),
  orc: (_run, opened) =>
    opened.warehouse.command(
      "SELECT toLowCardinality('a') AS x, CAST(NULL AS Nullable(String)) AS y FORMAT ORC",
    ),
  csv_null_representation: (run) => run(`SELECT 1 SETTINGS format_csv_null_representation = '--'`),
  ttl: (run) =>
    run(`CREATE TABLE ${fresh()} (t DateTime) ENGINE = MergeTree ORDER BY t TTL t + INTERVAL 1 DAY`),
  date_time_output_format: (run) => run(`SELECT 1 SETTINGS date_time_output_format = 'simple'`),
  non_replicated_dedup: (run) =>
    run(
      `CREATE TABLE ${fresh()} (x UInt8) ENGINE = MergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 10`,
    ),
  nested_comments: async (run, opened) => {
    // 18.16 accepts the comment but keeps it off the subcolumns.
    const name = fresh();
    await run(`CREATE TABLE ${name} (legs Nested(leg UInt8) COMMENT 'legs') ENGINE = Memory`);
    const rows = await opened.warehouse.query<{ comment: string }>(
      `SELECT comment FROM system.columns WHERE database = currentDatabase() AND table = '${name}'`,
    );
    if (rows[0]?.comment !== 'legs') throw new Error(`subcolumn comment: ${JSON.stringify(rows)}`);
  },
  table_comment: (run) => run(`CREATE TABLE ${fresh()} (x UInt8) ENGINE = Memory COMMENT 'probe'`),
  bool: (run) => run('SELECT CAST(1 AS Bool) AS b'),
  insert_deduplication_token: (run) => run(`SELECT 1 SETTINGS insert_deduplication_token = 'probe'`),
  ephemeral: (run) =>
    run(`CREATE TABLE ${fresh()} (x String EPHEMERAL, y String DEFAULT upper(x)) ENGINE = Memory`),
  session_timezone: (run) => run(`SELECT 1 SETTINGS session_timezone = 'UTC'`),
};

describe.each(ENGINES)('the features gridstream gates, on the %s warehouse', (engine: Engine) => {
  let opened: TestWarehouse;

  beforeAll(async () => {
    opened = await openTestWarehouse(engine);
  });

  afterAll(async () => {
    await opened?.close();
  });

  const features = Object.keys(FEATURES) as Feature[];

  it.each(features)('%s: present exactly when the version says so', async (feature) => {
    const { warehouse } = opened;
    const version = warehouse instanceof ServerWarehouse ? warehouse.version : warehouse.dialect;
    const probe = PROBES[feature](async (sql) => {
      // A SELECT returns rows; a statement does not: run each the way it is meant to be run.
      if (/^\s*SELECT/i.test(sql)) return warehouse.query(sql);
      return warehouse.command(sql);
    }, opened);
    const expected = supports(version, feature);
    const worked = await probe.then(
      () => true,
      (error: unknown) => (expected ? Promise.reject(error) : false),
    );
    expect(worked, `${feature} on ClickHouse ${version.text}`).toBe(expected);
  });
});
