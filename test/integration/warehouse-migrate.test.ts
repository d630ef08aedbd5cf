import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sqlDir } from '../../core/paths.js';
import { ChdbWarehouse } from '../../io/warehouse/chdb-warehouse.js';
import { DEFAULT_RETENTION_DAYS, loadMigrations, migrate } from '../../io/warehouse/migrate.js';
import { TABLES } from '../../io/warehouse/tables.js';

const root = mkdtempSync(join(tmpdir(), 'gridstream-warehouse-migrate-'));
// A copy of sql/, so that the tampering test never touches the real files.
const migrationsDir = join(root, 'sql');
let warehouse: ChdbWarehouse;

beforeAll(() => {
  cpSync(sqlDir, migrationsDir, { recursive: true });
  warehouse = new ChdbWarehouse(join(root, 'clickhouse'));
});

afterAll(async () => {
  await warehouse?.close();
  rmSync(root, { recursive: true, force: true });
});

/** TTL clause of each table that has one, as ClickHouse reports it. */
async function ttls(): Promise<Map<string, string>> {
  const rows = await warehouse.query<{ name: string; engine_full: string }>(
    `SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() AND engine_full LIKE '%TTL %'`,
  );
  return new Map(rows.map((r) => [r.name, /TTL (.*?)(?: SETTINGS|$)/.exec(r.engine_full)?.[1] ?? '']));
}

describe('migrations', () => {
  it('are numbered files in sql/, in order', () => {
    const names = loadMigrations().map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    expect(names).toEqual(readdirSync(sqlDir).filter((n) => /^\d+_.*\.sql$/.test(n)));
  });

  it('apply on an empty data directory and create every table, commented', async () => {
    const result = await migrate(warehouse, { dir: migrationsDir });
    expect(result).toEqual({
      applied: loadMigrations(migrationsDir).map((m) => m.name),
      retentionDays: DEFAULT_RETENTION_DAYS,
      retentionChanged: false,
    });
    const tables = await warehouse.query<{ name: string; comment: string }>(
      `SELECT name, comment FROM system.tables WHERE database = currentDatabase()`,
    );
    for (const table of [...Object.values(TABLES), 'gridstream_migrations', 'gridstream_retention']) {
      const found = tables.find((t) => t.name === table);
      expect(found, table).toBeDefined();
      expect(found?.comment, `comment of table ${table}`).not.toBe('');
    }
    const uncommented = await warehouse.query(
      `SELECT table, name FROM system.columns WHERE database = currentDatabase() AND comment = ''`,
    );
    expect(uncommented).toEqual([]);
    const recorded = await warehouse.query<{ version: number; name: string }>(
      'SELECT version, name FROM gridstream_migrations FINAL ORDER BY version',
    );
    expect(recorded.map((r) => r.name)).toEqual(result.applied);
  });

  it('give every time-series table a TTL of the retention (default 395 days)', async () => {
    const found = await ttls();
    expect([...found.keys()].sort()).toEqual([
      'dead_letters',
      'dispatches',
      'envelopes',
      'readings',
      'weather',
    ]);
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

  it('re-apply the TTL of every time-series table when the retention changes', async () => {
    expect(await migrate(warehouse, { dir: migrationsDir, retentionDays: 30 })).toMatchObject({
      applied: [],
      retentionChanged: true,
    });
    // Every table with a TTL follows: a table missing from sql/retention.sql would keep 395 days.
    for (const [table, ttl] of await ttls()) expect(ttl, table).toMatch(/toIntervalDay\(30\)/);
    expect(await migrate(warehouse, { dir: migrationsDir, retentionDays: 30 })).toMatchObject({
      retentionChanged: false,
    });
    await migrate(warehouse, { dir: migrationsDir });
    for (const [table, ttl] of await ttls()) expect(ttl, table).toMatch(/toIntervalDay\(395\)/);
  });

  it('refuse a retention that is not a positive whole number of days', async () => {
    await expect(migrate(warehouse, { dir: migrationsDir, retentionDays: 0 })).rejects.toThrow(/retention/);
    await expect(migrate(warehouse, { dir: migrationsDir, retentionDays: 1.5 })).rejects.toThrow(/retention/);
  });

  it('apply a new migration added later, and only that one', async () => {
    const last = loadMigrations(migrationsDir).at(-1)!;
    const file = `${String(last.version + 1).padStart(3, '0')}_probe.sql`;
    appendFileSync(
      join(migrationsDir, file),
      `-- a later migration\nCREATE TABLE IF NOT EXISTS probe (x UInt8 COMMENT 'probe column') ENGINE = Memory COMMENT 'probe';\n` +
        `ALTER TABLE probe ADD COLUMN IF NOT EXISTS y UInt8 COMMENT 'second; statement';\n`,
    );
    expect((await migrate(warehouse, { dir: migrationsDir })).applied).toEqual([file]);
    expect(
      await warehouse.query(`SELECT name FROM system.columns WHERE table = 'probe' ORDER BY position`),
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
});
