import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sqlDir } from '../../core/paths.js';
import { supports } from '../../io/warehouse/dialect.js';
import { DEFAULT_RETENTION_DAYS, loadMigrations, migrate } from '../../io/warehouse/migrate.js';
import { ServerWarehouse } from '../../io/warehouse/server-warehouse.js';
import { TABLES } from '../../io/warehouse/tables.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { ENGINES, openTestWarehouse, type TestWarehouse } from '../support/clickhouse-server.js';

/** The tables with a TTL of the retention, sorted: every migration that adds one adds it here. */
const TIME_SERIES_TABLES = [
  'dead_letters',
  'dispatch_checks',
  'dispatches',
  'dt_operating_envelopes',
  'dt_stress',
  'envelopes',
  'impedance_daily',
  'impedance_flags',
  'load_profile_days',
  'readings',
  'released_dead_letters',
  'weather',
  'webhook_deliveries',
];

describe('migrations', () => {
  it('are numbered files in sql/, in order', () => {
    const names = loadMigrations().map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    expect(names).toEqual(readdirSync(sqlDir).filter((n) => /^\d+_.*\.sql$/.test(n)));
  });
});

describe.each(ENGINES)('migrations on the %s warehouse', (engine) => {
  const root = mkdtempSync(join(tmpdir(), 'gridstream-warehouse-migrate-'));
  // A copy of sql/, so that the tampering test never touches the real files.
  const migrationsDir = join(root, 'sql');
  let opened: TestWarehouse;
  let warehouse: Warehouse;

  beforeAll(async () => {
    cpSync(sqlDir, migrationsDir, { recursive: true });
    opened = await openTestWarehouse(engine);
    warehouse = opened.warehouse;
  });

  afterAll(async () => {
    await opened?.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** TTL clause of each table that has one, as ClickHouse reports it. */
  async function ttls(): Promise<Map<string, string>> {
    const rows = await warehouse.query<{ name: string; engine_full: string }>(
      `SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() AND engine_full LIKE '%TTL %'`,
    );
    return new Map(rows.map((r) => [r.name, /TTL (.*?)(?: SETTINGS|$)/.exec(r.engine_full)?.[1] ?? '']));
  }

  it('apply on an empty database and create every table, every column commented', async () => {
    const result = await migrate(warehouse, { dir: migrationsDir });
    expect(result).toEqual({
      applied: loadMigrations(migrationsDir).map((m) => m.name),
      retentionDays: DEFAULT_RETENTION_DAYS,
      retentionChanged: false,
    });
    const tables = (
      await warehouse.query<{ name: string }>(
        `SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name`,
      )
    ).map((t) => t.name);
    expect(tables).toEqual(
      // impedance_identities_mv: the materialized view that fills impedance_identities.
      [
        ...Object.values(TABLES),
        'gridstream_migrations',
        'gridstream_retention',
        'impedance_identities_mv',
        'period_limits',
      ].sort(),
    );
    const uncommented = await warehouse.query(
      // A view's columns are its SELECT's; the table it fills has the comments.
      `SELECT table, name FROM system.columns WHERE database = currentDatabase() AND comment = ''
         AND table NOT IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView')`,
    );
    expect(uncommented).toEqual([]);
    const recorded = await warehouse.query<{ version: number; name: string }>(
      'SELECT version, name FROM gridstream_migrations FINAL ORDER BY version',
    );
    expect(recorded.map((r) => r.name)).toEqual(result.applied);
  });

  it('comment every table, where the server has table comments', async () => {
    if (!supports(warehouse.dialect, 'table_comment')) {
      // 18.16: CREATE TABLE ... COMMENT is a syntax error there and system.tables has no comment column;
      // the table comments live in the migration files (and the column comments are in the database).
      const columns = await warehouse.query(
        `SELECT name FROM system.columns WHERE database = 'system' AND table = 'tables' AND name = 'comment'`,
      );
      expect(columns).toEqual([]);
      return;
    }
    const tables = await warehouse.query<{ name: string; comment: string }>(
      `SELECT name, comment FROM system.tables WHERE database = currentDatabase()`,
    );
    for (const table of tables) expect(table.comment, `comment of table ${table.name}`).not.toBe('');
  });

  it('record the version of the server that applied each migration, and read it back on connect', async () => {
    const [server] = await warehouse.query<{ v: string }>('SELECT version() AS v');
    const recorded = await warehouse.query<{ clickhouse_version: string }>(
      'SELECT DISTINCT clickhouse_version FROM gridstream_migrations FINAL',
    );
    expect(recorded).toEqual([{ clickhouse_version: server!.v }]);
    if (warehouse instanceof ServerWarehouse) {
      warehouse = await opened.reopen();
      expect((warehouse as ServerWarehouse).dialect.text).toBe(server!.v);
    }
  });

  it('give every time-series table a TTL of the retention (default 395 days), where the server has TTL', async () => {
    const found = await ttls();
    if (!supports(warehouse.dialect, 'ttl')) {
      expect([...found.keys()]).toEqual([]);
      return;
    }
    expect([...found.keys()].sort()).toEqual(TIME_SERIES_TABLES);
    for (const [table, ttl] of found) expect(ttl, table).toMatch(/toIntervalDay\(395\)/);
  });

  it('apply nothing on a second run', async () => {
    expect(await migrate(warehouse, { dir: migrationsDir })).toEqual({
      applied: [],
      retentionDays: DEFAULT_RETENTION_DAYS,
      retentionChanged: false,
    });
    const [count] = await warehouse.query<{ n: string }>(
      'SELECT count() AS n FROM gridstream_migrations FINAL',
    );
    expect(Number(count?.n)).toBe(loadMigrations(migrationsDir).length);
  });

  it('record a changed retention and re-apply the TTL of every time-series table (where the server has TTL)', async () => {
    expect(await migrate(warehouse, { dir: migrationsDir, retentionDays: 30 })).toMatchObject({
      applied: [],
      retentionChanged: true,
    });
    const retention = async () =>
      (
        await warehouse.query<{ days: number }>(
          'SELECT argMax(retention_days, applied_at) AS days FROM gridstream_retention',
        )
      )[0]?.days;
    expect(await retention()).toBe(30);
    // Every table with a TTL follows: a table missing from sql/retention.sql would keep 395 days.
    const withTtl = supports(warehouse.dialect, 'ttl');
    for (const [table, ttl] of await ttls()) expect(ttl, table).toMatch(/toIntervalDay\(30\)/);
    if (withTtl) expect((await ttls()).size).toBe(TIME_SERIES_TABLES.length);
    expect(await migrate(warehouse, { dir: migrationsDir, retentionDays: 30 })).toMatchObject({
      retentionChanged: false,
    });
    await migrate(warehouse, { dir: migrationsDir });
    expect(await retention()).toBe(DEFAULT_RETENTION_DAYS);
    for (const [table, ttl] of await ttls()) expect(ttl, table).toMatch(/toIntervalDay\(395\)/);
  });

  it('refuse a retention that is not a positive whole number of days', async () => {
    await expect(migrate(warehouse, { dir: migrationsDir, retentionDays: 0 })).rejects.toThrow(/retention/);
    await expect(migrate(warehouse, { dir: migrationsDir, retentionDays: 1.5 })).rejects.toThrow(/retention/);
  });

  it('apply a new migration added later, and only that one, its gates resolved for the server', async () => {
    const last = loadMigrations(migrationsDir).at(-1)!;
    const file = `${String(last.version + 1).padStart(3, '0')}_probe.sql`;
    appendFileSync(
      join(migrationsDir, file),
      [
        '-- a later migration',
        "CREATE TABLE IF NOT EXISTS probe (x UInt8 COMMENT 'probe column') ENGINE = MergeTree ORDER BY x",
        '-- @if table_comment',
        "COMMENT 'probe';",
        '-- @else',
        '-- ;',
        '-- @end',
        '-- @if add_column_if_not_exists',
        "ALTER TABLE probe ADD COLUMN IF NOT EXISTS y UInt8 COMMENT 'second; statement';",
        '-- @else',
        "-- ALTER TABLE probe ADD COLUMN y UInt8 COMMENT 'second; statement';",
        '-- @end',
        '',
      ].join('\n'),
    );
    expect((await migrate(warehouse, { dir: migrationsDir })).applied).toEqual([file]);
    expect(
      await warehouse.query(
        `SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'probe' ORDER BY name`,
      ),
    ).toEqual([{ name: 'x' }, { name: 'y' }]);
  });

  it('refuse an applied migration whose file changed, naming the file', async () => {
    const first = loadMigrations(migrationsDir)[0]!;
    appendFileSync(first.path, '\n-- edited after it was applied\n');
    await expect(migrate(warehouse, { dir: migrationsDir })).rejects.toThrow(
      new RegExp(`${first.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was changed after it was applied`),
    );
  });

  it('report a failing statement with its file and the ClickHouse message', async () => {
    const dir = join(root, 'broken');
    cpSync(migrationsDir, dir, { recursive: true });
    rmSync(join(dir, loadMigrations(dir)[0]!.name)); // drop the edited one; the rest are applied already
    const last = loadMigrations(dir).at(-1)!;
    const file = `${String(last.version + 1).padStart(3, '0')}_broken.sql`;
    appendFileSync(join(dir, file), 'CREATE TABLE IF NOT EXISTS broken (x NoSuchType) ENGINE = Memory;\n');
    await expect(migrate(warehouse, { dir })).rejects.toThrow(
      new RegExp(`${file}: statement 1 of 1 failed: ClickHouse command failed: .*NoSuchType`, 's'),
    );
  });

  it('report a malformed gate with its file and line, before running anything', async () => {
    const dir = join(root, 'malformed');
    cpSync(migrationsDir, dir, { recursive: true });
    rmSync(join(dir, loadMigrations(dir)[0]!.name));
    const last = loadMigrations(dir).at(-1)!;
    const file = `${String(last.version + 1).padStart(3, '0')}_malformed.sql`;
    appendFileSync(
      join(dir, file),
      '-- @if no_such_feature\nCREATE TABLE t (x UInt8) ENGINE = Memory;\n-- @end\n',
    );
    await expect(migrate(warehouse, { dir })).rejects.toThrow(
      new RegExp(`${file}: line 1: unknown feature "no_such_feature"`),
    );
    expect(
      await warehouse.query(
        `SELECT name FROM system.tables WHERE database = currentDatabase() AND name = 't'`,
      ),
    ).toEqual([]);
  });
});
