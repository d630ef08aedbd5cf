import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createClient } from '@clickhouse/client';
import type { ClickHouseClientConfigOptions as ClientOptions } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DAY_MS, MINUTE_MS, slotStart } from '../../core/time.js';
import { CURRENT, parseVersion } from '../../io/warehouse/dialect.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { openWarehouse } from '../../io/warehouse/open.js';
import { dateTime64, deadLetterRow, envelopeRow, readingRow } from '../../io/warehouse/rows.js';
import { ServerWarehouse } from '../../io/warehouse/server-warehouse.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { loadQueryFixture, runFixtureQueries } from '../support/clickhouse-server.js';
import { freePort } from '../support/ports.js';

/*
 * The server implementation on current ClickHouse, driven through @clickhouse/client exactly as against a
 * server, but with chdb's in-process Connection in place of HTTP: the only server these machines have is
 * Debian's 18.16 (the other warehouse-*.test.ts files run against it for real). This checks the client calls
 * for a current server (server-side parameters, dedup tokens, Bool) and that results look as in embedded
 * mode; it cannot check HTTP details such as settings being per request (chdb's connection turns them into
 * session SETs).
 */

const SLOT = slotStart(Date.now() - DAY_MS);
const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-warehouse-server-'));
let client: ReturnType<typeof createClient>;
let warehouse: ServerWarehouse;

beforeAll(async () => {
  // chdb types its Connection against its own copy of @clickhouse/client-common; the runtime contract is the same.
  const connection = createChdbConnection({ path: dataDir }) as unknown as ClientOptions['connection'];
  client = createClient({ connection });
  warehouse = new ServerWarehouse(client);
  await migrate(warehouse);
});

afterAll(async () => {
  await warehouse?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('server warehouse (over an in-process connection)', () => {
  it('inserts one serialized payload and reads rows back as the embedded warehouse does', async () => {
    await warehouse.insert('readings', [
      readingRow({
        meter_id: 'm-1',
        dt_id: 'dt-1',
        ts: SLOT,
        p_kw: 1.5,
        q_kvar: null,
        legs: [{ leg: 1, v: 230.5, i: 6.5 }],
        e_imp_kwh: null,
        e_exp_kwh: 2,
        received_at: SLOT + MINUTE_MS,
      }),
    ]);
    expect(await warehouse.query(`SELECT *, toUnixTimestamp64Milli(ts) AS ms FROM readings FINAL`)).toEqual([
      {
        meter_id: 'm-1',
        dt_id: 'dt-1',
        ts: dateTime64(SLOT),
        p_kw: 1.5,
        q_kvar: null,
        'legs.leg': [1],
        'legs.v': [230.5],
        'legs.i': [6.5],
        e_imp_kwh: null,
        e_exp_kwh: 2,
        received_at: dateTime64(SLOT + MINUTE_MS),
        ms: String(SLOT),
      },
    ]);
  });

  it('stores dead-letter bytes exactly', async () => {
    const raw = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0x22]);
    await warehouse.insert('dead_letters', [
      deadLetterRow({
        received_at: SLOT,
        source_topic: 'gridstream/v1/weather/ws-1',
        reason_code: 'invalid_json',
        reason: 'not JSON',
        key: 'ws-1',
        raw,
        source_partition: null,
        source_offset: null,
      }),
    ]);
    expect(await warehouse.query('SELECT hex(raw) AS hex FROM dead_letters FINAL')).toEqual([
      { hex: raw.toString('hex').toUpperCase() },
    ]);
  });

  it('binds parameters: an injection-shaped value is data', async () => {
    const evil = "dt-1' OR '1'='1";
    expect(
      await warehouse.query('SELECT count() AS n FROM readings WHERE dt_id = {dt:String}', { dt: evil }),
    ).toEqual([{ n: '0' }]);
    expect(
      await warehouse.query('SELECT count() AS n FROM readings WHERE dt_id IN {dts:Array(String)}', {
        dts: ['dt-1', evil],
      }),
    ).toEqual([{ n: '1' }]);
  });

  it('keeps the highest envelope version and de-duplicates a retried batch', async () => {
    const base = {
      dt_id: 'dt-1',
      slot_start: SLOT,
      is_final: false,
      net_mean_kw: 1,
      min_kw: 0,
      max_kw: 2,
      p95_kw: 2,
      import_kwh: 0.25,
      export_kwh: 0,
      q_mean_kvar: null,
      legs: [],
      meters_reporting: 1,
      meters_connected: 1,
      readings: 1,
      ami_coverage_pct: 50,
      data_quality: 'ami_imputed' as const,
      imputed_kw: 0,
      imputed_meters: 0,
      profile_source: 'measured' as const,
      meters: [],
    };
    for (const version of [3, 5, 3]) {
      await warehouse.insert('envelopes', [envelopeRow({ ...base, version })], {
        dedupToken: `v${version}-${Math.random()}`,
      });
    }
    const batch = [envelopeRow({ ...base, dt_id: 'dt-2', version: 1 })];
    await warehouse.insert('envelopes', batch, { dedupToken: 'same-batch' });
    await warehouse.insert('envelopes', batch, { dedupToken: 'same-batch' });
    expect(
      await warehouse.query(`SELECT dt_id, version, data_quality FROM envelopes FINAL ORDER BY dt_id`),
    ).toEqual([
      { dt_id: 'dt-1', version: '5', data_quality: 'ami-imputed' },
      { dt_id: 'dt-2', version: '1', data_quality: 'ami-imputed' },
    ]);
    expect(await warehouse.query(`SELECT count() AS n FROM envelopes WHERE dt_id = 'dt-2'`)).toEqual([
      { n: '1' },
    ]);
  });

  it('reports failures with the statement and the ClickHouse message', async () => {
    await expect(warehouse.query('SELECT nope FROM readings')).rejects.toThrow(
      /ClickHouse query failed: .*nope[\s\S]*statement: SELECT nope FROM readings/,
    );
    await expect(warehouse.insert('no_such_table', [{ a: 1 }])).rejects.toThrow(
      /ClickHouse insert failed: .*no_such_table[\s\S]*statement: INSERT INTO `no_such_table` \(`a`\)/,
    );
  });

  it('openWarehouse names the server it cannot reach, without the credentials', async () => {
    const port = await freePort();
    const opening = openWarehouse({ clickhouseUrl: `http://user:secret@127.0.0.1:${port}/gs`, dataDir });
    await expect(opening).rejects.toThrow(`cannot reach ClickHouse server http://127.0.0.1:${port}: `);
    await expect(opening).rejects.not.toThrow(/secret/);
  });
});

describe('a database made on an old server, after the server is upgraded', () => {
  async function dropAll(on: Warehouse) {
    const tables = await on.query<{ name: string }>(
      'SELECT name FROM system.tables WHERE database = currentDatabase()',
    );
    for (const { name } of tables) await on.command(`DROP TABLE ${name}`);
  }

  it('keeps its 18.16 table layout on current ClickHouse, and the queries give the same rows and JSON', async () => {
    const slot = slotStart(Date.now() - DAY_MS);
    await dropAll(warehouse);
    await migrate(warehouse);
    await loadQueryFixture(warehouse, slot);
    const current = await runFixtureQueries(warehouse, slot);

    await dropAll(warehouse);
    // As ServerWarehouse.connect() sets it up when gridstream_migrations says 18.16 applied the migrations.
    const upgraded = new ServerWarehouse(client, { version: CURRENT, dialect: parseVersion('18.16.1') });
    await migrate(upgraded);
    expect(
      await upgraded.query(
        `SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'readings' AND name LIKE 'ts%'`,
      ),
    ).toEqual([
      { name: 'ts', type: 'String' },
      { name: 'ts_ms', type: 'UInt64' },
    ]);
    await loadQueryFixture(upgraded, slot);
    const old = await runFixtureQueries(upgraded, slot);
    expect(JSON.stringify(old)).toBe(JSON.stringify(current));
    expect(current['list_dts']).toHaveLength(4);
  });
});
