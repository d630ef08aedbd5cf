import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { errorHandler } from '../../api/errors.js';
import { ExportJobs } from '../../api/exports.js';
import { API_ERROR_SCHEMA } from '../../api/openapi.js';
import { dispatchRoutes } from '../../api/routes/dispatches.js';
import { dtRoutes } from '../../api/routes/dt.js';
import { dtMetersRoutes } from '../../api/routes/dt-meters.js';
import { impedanceExportRoutes } from '../../api/routes/impedance-exports.js';
import { impedanceRoutes } from '../../api/routes/impedance.js';
import { DAY_MS, slotStart } from '../../core/time.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { ServerWarehouse } from '../../io/warehouse/server-warehouse.js';
import { decoderOf, runPage, runQuery } from '../../io/warehouse/query.js';
import { queries } from '../../io/warehouse/queries.gen.js';
import { sqlQuery } from '../../io/warehouse/sql-files.js';
import {
  fixtureQueries,
  impedanceParams,
  loadDispatchFixture,
  loadQueryFixture,
  openTestWarehouse,
  runFixtureQueries,
  type TestWarehouse,
} from '../support/clickhouse-server.js';

/*
 * The embedded engine (current ClickHouse) is the reference: the same rows written to Debian's 18.16 server
 * must come back from every application query, and from the API built on them, as the same JSON.
 */

const SLOT = slotStart(Date.now() - DAY_MS);
const engines: Record<'embedded' | 'server', TestWarehouse> = {} as never;
const results: Record<'embedded' | 'server', Record<string, unknown[]>> = {} as never;
const apis: Record<'embedded' | 'server', FastifyInstance> = {} as never;
const exportJobs: ExportJobs[] = [];
const exportDir = mkdtempSync(join(tmpdir(), 'gridstream-parity-exports-'));

beforeAll(async () => {
  for (const engine of ['embedded', 'server'] as const) {
    engines[engine] = await openTestWarehouse(engine);
    const { warehouse } = engines[engine];
    await migrate(warehouse);
    await loadQueryFixture(warehouse, SLOT);
    await loadDispatchFixture(warehouse, SLOT);
    results[engine] = await runFixtureQueries(warehouse, SLOT);
    // The transformer routes exactly as the API serves them (without the key check, which is not at issue).
    const app = Fastify({ logger: false });
    app.setErrorHandler(errorHandler);
    // The routes' error responses refer to the shared error schema, as in api/server.ts.
    app.addSchema(API_ERROR_SCHEMA);
    app.addHook('onRequest', async (request) => {
      request.tenant = 'default';
    });
    app.register(dtRoutes, { warehouse, retentionDays: 395 });
    app.register(dtMetersRoutes, { warehouse, retentionDays: 395 });
    app.register(impedanceRoutes, { warehouse });
    app.register(dispatchRoutes, { warehouse });
    const jobs = new ExportJobs(warehouse, join(exportDir, engine));
    exportJobs.push(jobs);
    app.register(impedanceExportRoutes, { warehouse, jobs });
    apis[engine] = app;
  }
});

afterAll(async () => {
  for (const app of Object.values(apis)) await app.close();
  for (const jobs of exportJobs) await jobs.close();
  for (const opened of Object.values(engines)) await opened.close();
  rmSync(exportDir, { recursive: true, force: true });
});

describe('the same rows on the embedded engine and on 18.16', () => {
  it('runs on a real 18.16 server', () => {
    expect((engines.server.warehouse as ServerWarehouse).version.text).toMatch(/^18\.16\./);
    expect(engines.embedded.warehouse.kind).toBe('embedded');
  });

  it.each(fixtureQueries(SLOT).map(([name]) => name))('%s: same rows, same JSON', (name) => {
    expect(results.server[name]).toEqual(results.embedded[name]);
    expect(JSON.stringify(results.server[name])).toBe(JSON.stringify(results.embedded[name]));
  });

  it.each(fixtureQueries(SLOT).map(([name, query]) => [name, query] as const))(
    '%s: rows have exactly the generated columns and decode on both engines',
    (name, query) => {
      const declared = queries[query as keyof typeof queries];
      for (const engine of ['embedded', 'server'] as const) {
        const rows = results[engine][name] as Array<Record<string, unknown>>;
        for (const row of rows) expect(Object.keys(row)).toEqual(Object.keys(declared.columns));
        expect(() => rows.map(decoderOf(declared)), engine).not.toThrow();
      }
    },
  );

  it('gives the results the callers expect (so the parity above is about real rows)', () => {
    const embedded = results.embedded;
    expect(embedded['list_dts']).toEqual([
      expect.objectContaining({ dt_id: "dt-'quote", meters_connected: '1', data_quality: 'ami-imputed' }),
      expect.objectContaining({
        dt_id: 'dt-a',
        meters_connected: '1',
        last_slot_start: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:(00|15|30|45):00\.000$/),
        ami_coverage_pct: 100 / 3,
        data_quality: 'ami-imputed',
      }),
      expect.objectContaining({ dt_id: 'dt-b', cooling_class: 'ONAF', meters_connected: '2' }),
      expect.objectContaining({
        dt_id: 'dt-c',
        meters_connected: '0',
        last_slot_start: null,
        ami_coverage_pct: 0,
        data_quality: 'modelled-only',
      }),
    ]);
    expect(embedded['list_dts (another tenant)']).toEqual([]);
    expect(embedded['dt_tenants']).toEqual([
      { dt_id: "dt-'quote", tenant: 'default' },
      { dt_id: 'dt-a', tenant: 'default' },
      { dt_id: 'dt-c', tenant: 'default' },
    ]);
    expect(embedded['impedance_daily_rows']).toEqual([
      {
        MeterLeg: 1,
        MedianImpedance: 44.5,
        EventDate: '2026-07-01',
        ReceivedTime: '2026-07-02T00:29:00.550Z',
        EventCount: 12,
        ServicePointId: 'SP-m-1',
        MeterId: 'm-1',
        MeterNumber: 'MN-m-1',
        ElectronicSerialNumber: 'ESN-m-1',
        TransformerId: 'dt-a',
        PremiseId: 'P-m-1',
      },
      expect.objectContaining({ MeterId: 'm-1', MeterLeg: 2, MedianImpedance: 128.1167 }),
      expect.objectContaining({ MeterId: 'm-1', MeterLeg: 1, EventDate: '2026-07-02' }),
      expect.objectContaining({ MeterId: 'm-3', MeterNumber: null, TransformerId: 'dt-b' }),
      expect.objectContaining({ MeterId: 'm-4', MeterLeg: 3, TransformerId: "dt-'quote" }),
    ]);
    // Four rows match (the receive bound is inclusive); offset 1, limit 2 gives the second and third.
    expect(embedded['impedance_daily_rows (filtered, paged)']).toEqual([
      expect.objectContaining({ MeterId: 'm-1', MeterLeg: 2, EventDate: '2026-07-01' }),
      expect.objectContaining({ MeterId: 'm-1', MeterLeg: 1, EventDate: '2026-07-02' }),
    ]);
    expect(embedded['impedance_daily_rows (feeder, premises, numbers)']).toEqual([
      expect.objectContaining({ MeterId: 'm-4' }),
    ]);
    expect(embedded['impedance_daily_rows (injection-shaped)']).toEqual([]);
    expect(embedded['impedance_daily_rows (another tenant)']).toEqual([]);
    expect(embedded['dispatches_for_assets']).toEqual([
      {
        event_id: '7b0c1a52-0000-4000-8000-000000000001',
        source: 'optimiser',
        published_ms: String(SLOT - 1_000),
        dispatch_ms: String(SLOT),
        delivery_ms: String(SLOT + 15 * 60_000),
        asset_id: 'bess-1',
        action: 'dispatch',
        target_power_amount: '-1.250',
        target_power_unit: 'MW',
        nominal_power_amount: '2',
        nominal_power_unit: 'MW',
        power_imbalance_amount: '0.1',
        power_imbalance_unit: 'MW',
        soc_imbalance_amount: '0.375',
        soc_imbalance_unit: 'MWh',
      },
      expect.objectContaining({
        asset_id: "ev-'2",
        action: 'cancel',
        source: null,
        published_ms: null,
        target_power_amount: '0',
        target_power_unit: 'kW',
      }),
      expect.objectContaining({ event_id: '7b0c1a52-0000-4000-8000-000000000002' }),
    ]);
    expect(embedded['dispatches_for_assets (paged, injection-shaped)']).toEqual([
      expect.objectContaining({ event_id: '7b0c1a52-0000-4000-8000-000000000002' }),
    ]);
    // Delivered from 20 minutes after the slot on: the commands dispatched at +5 and +15 minutes.
    expect(
      (embedded['dispatches_for_assets (delivered in a window)'] as Array<{ event_id: string }>).map(
        (r) => r.event_id,
      ),
    ).toEqual([
      '7b0c1a52-0000-4000-8000-000000000003',
      '7b0c1a52-0000-4000-8000-000000000004',
      '7b0c1a52-0000-4000-8000-000000000002',
    ]);
    expect(embedded['list_dts (paged)']).toEqual([
      expect.objectContaining({ dt_id: 'dt-a' }),
      expect.objectContaining({ dt_id: 'dt-b' }),
    ]);
    expect(embedded['dt_exists']).toEqual([{ known: '2' }]);
    expect(embedded['dt_exists (topology only)']).toEqual([{ known: '1' }]);
    expect(embedded['dt_exists (unknown)']).toEqual([{ known: '0' }]);
    expect(embedded['dt_exists (injection-shaped)']).toEqual([{ known: '0' }]);
    expect(embedded['envelopes_for_dt']).toEqual([
      expect.objectContaining({
        slot_start_ms: String(SLOT),
        version: '3',
        is_final: true,
        leg: [1, 2],
        data_quality: 'ami-direct',
      }),
      expect.objectContaining({ version: '2', is_final: false, q_mean_kvar: null, leg: [] }),
    ]);
    expect(embedded['envelopes_for_dt (second slot)']).toHaveLength(1);
    expect(embedded['recent_readings']).toEqual([
      expect.objectContaining({
        meter_id: 'm-1',
        ts_ms: String(SLOT + 3_123),
        received_ms: String(SLOT + 120_000),
      }),
      expect.objectContaining({ meter_id: 'm-2', p_kw: -0.7, q_kvar: null }),
      expect.objectContaining({ meter_id: 'm-3', dt_id: 'dt-b', p_kw: 12345.678 }),
    ]);
    expect(embedded['recent_readings (one DT, long horizon)']).toHaveLength(3);
    // A piece's received range is applied to the newest copies (after FINAL), not to every copy.
    expect(embedded['recent_readings (a piece with only an older copy)']).toEqual([]);
    // The horizon starts 10 minutes before the newest reading; the newest copy of m-1 counts once.
    expect(embedded['recent_readings_minutes']).toEqual(
      [2, 6, 7].map((m) => ({
        from_ms: String(SLOT + 7 * 60_000 - 600_000),
        minute_ms: String(SLOT + m * 60_000),
        readings: '1',
      })),
    );
    // A slot's readings, the newest copy of each (the replayed m-1), in key order.
    expect(embedded['slot_readings']).toEqual([
      expect.objectContaining({
        meter_id: 'm-1',
        ts_ms: String(SLOT + 3_123),
        received_ms: String(SLOT + 120_000),
      }),
      expect.objectContaining({ meter_id: 'm-2', p_kw: -0.7 }),
      expect.objectContaining({ meter_id: 'm-3', dt_id: 'dt-b', p_kw: 12345.678 }),
    ]);
    expect(embedded['slot_readings (an earlier slot)']).toEqual([
      expect.objectContaining({ meter_id: 'm-1', ts_ms: String(SLOT - 1_200_000) }),
    ]);
    // m-2 moved to dt-b by version 2: dt-a keeps m-1 only.
    expect(embedded['dt_meters']).toEqual([{ meter_id: 'm-1', service_point_id: 'SP-m-1' }]);
    expect(embedded['dt_meters (a meter moved in)']).toEqual([
      { meter_id: 'm-2', service_point_id: 'SP-m-2' },
      { meter_id: 'm-3', service_point_id: 'SP-m-3' },
    ]);
    expect(embedded['impedance_meter_rows']).toEqual([
      expect.objectContaining({ meter_id: 'm-1', leg: 1, day_text: '2026-07-01', median_mohm: 44.5 }),
      expect.objectContaining({ meter_id: 'm-1', leg: 1, day_text: '2026-07-02', is_final: false }),
      expect.objectContaining({ meter_id: 'm-1', leg: 2, stderr_mohm: 1.25, is_final: true }),
      expect.objectContaining({ meter_id: 'm-3', leg: 1, day_text: '2026-07-02', median_mohm: 221.2667 }),
    ]);
    // The absolute flag raised again: its later row; kinds in the enum's order.
    expect(embedded['impedance_flags_of_meters']).toEqual([
      {
        meter_id: 'm-1',
        leg: 2,
        day_text: '2026-07-01',
        kind_text: 'absolute',
        median_mohm: 128.1167,
        reference_mohm: 100.125,
      },
      expect.objectContaining({ meter_id: 'm-1', kind_text: 'peer_rise', median_mohm: 128.1167 }),
      expect.objectContaining({ meter_id: 'm-3', leg: 1, day_text: '2026-07-02', kind_text: 'own_rise' }),
    ]);
    expect(embedded['impedance_flags_of_meters (a day)']).toEqual([
      expect.objectContaining({ meter_id: 'm-3', kind_text: 'own_rise' }),
    ]);
    expect(embedded['max_topology_version']).toEqual([{ version: '2' }]);
    expect(embedded['max_topology_row_version']).toEqual([{ v: '2' }]);
  });

  it.each([
    '/v1/dt',
    `/v1/dt/dt-a/load-profile?from=${new Date(SLOT - DAY_MS).toISOString()}&to=${new Date(SLOT + DAY_MS).toISOString()}`,
    `/v1/dt/${encodeURIComponent("dt-'quote")}/load-profile?days=2&to=${new Date(SLOT + DAY_MS).toISOString()}`,
    `/v1/dt/${encodeURIComponent("dt-a' OR '1'='1")}/load-profile`,
  ])('the API answers GET %s with the same JSON', async (url) => {
    const [embedded, server] = await Promise.all([
      apis.embedded.inject({ method: 'GET', url }),
      apis.server.inject({ method: 'GET', url }),
    ]);
    expect(server.statusCode).toBe(embedded.statusCode);
    expect(server.body).toBe(embedded.body);
    expect(embedded.statusCode).toBe(url.includes('OR') ? 404 : 200);
  });

  it.each([
    '/v1/dt/dt-a/meters?from=2026-07-01T00:00:00Z&to=2026-07-03T00:00:00Z',
    '/v1/dt/dt-b/meters?from=2026-07-01T12:00:00Z&to=2026-07-02T12:00:00Z',
    `/v1/dt/dt-a/dispatches?from=${new Date(SLOT).toISOString()}&to=${new Date(SLOT + DAY_MS).toISOString()}`,
    `/v1/dt/${encodeURIComponent("dt-'quote")}/dispatches`,
  ])('the API answers GET %s with the same JSON', async (url) => {
    const [embedded, server] = await Promise.all(
      [apis.embedded, apis.server].map((app) => app.inject({ method: 'GET', url })),
    );
    expect(embedded!.statusCode).toBe(200);
    expect(server!.body).toBe(embedded!.body);
  });

  it("answers GET /v1/dt/{id}/meters with the tables' rows: trends, flags, a meter without rows", async () => {
    const body = (
      await apis.embedded.inject({
        method: 'GET',
        url: '/v1/dt/dt-b/meters?from=2026-07-01T00:00:00Z&to=2026-07-03T00:00:00Z',
      })
    ).json();
    expect(body).toEqual({
      dt_id: 'dt-b',
      from: '2026-07-01T00:00:00.000Z',
      to: '2026-07-03T00:00:00.000Z',
      meters: [
        {
          meter_id: 'm-3',
          service_point_id: 'SP-m-3',
          legs: [
            {
              leg: 1,
              latest_median_mohm: 221.2667,
              days: [
                {
                  day: '2026-07-02',
                  median_mohm: 221.2667,
                  stderr_mohm: 1.25,
                  event_count: 13,
                  is_final: true,
                },
              ],
              flags: [
                { day: '2026-07-02', kind: 'own_rise', median_mohm: 221.2667, reference_mohm: 100.125 },
              ],
            },
          ],
          flag_count: 1,
        },
        { meter_id: 'm-2', service_point_id: 'SP-m-2', legs: [], flag_count: 0 },
      ],
      flagged_meters: 1,
    });
    const dispatches = (
      await apis.embedded.inject({
        method: 'GET',
        url: `/v1/dt/dt-a/dispatches?from=${new Date(SLOT).toISOString()}&to=${new Date(SLOT + DAY_MS).toISOString()}`,
      })
    ).json();
    // bess-1 moved to dt-a (its nominal power cleared); pv-3 stays behind dt-b.
    expect(dispatches.assets).toEqual([
      { asset_id: 'bess-1', nominal_kw: null },
      { asset_id: "ev-'2", nominal_kw: 11 },
    ]);
    const all = (
      await apis.embedded.inject({
        method: 'GET',
        url: `/v1/dispatches?asset_ids=bess-1,${encodeURIComponent("ev-'2")}&from=${new Date(SLOT).toISOString()}&to=${new Date(SLOT + DAY_MS).toISOString()}`,
      })
    ).json();
    expect(dispatches.dispatches).toEqual(all.dispatches);
    expect(dispatches.dispatches).toHaveLength(3);
    expect(dispatches.truncated).toBe(false);
  });

  it('answers GET /v1/dispatches with the same JSON', async () => {
    const url = `/v1/dispatches?asset_ids=bess-1,${encodeURIComponent("ev-'2")}&from=${new Date(SLOT).toISOString()}&to=${new Date(SLOT + DAY_MS).toISOString()}&limit=2`;
    const [embedded, server] = await Promise.all(
      [apis.embedded, apis.server].map((app) => app.inject({ method: 'GET', url })),
    );
    expect(embedded!.statusCode).toBe(200);
    expect(server!.body).toBe(embedded!.body);
    expect(embedded!.json().dispatches).toHaveLength(2);
    expect(embedded!.json()).toMatchObject({ limit: 2, offset: 0, total: 3 });
  });

  it('counts every page of the paged queries the same (runPage: rows and total)', async () => {
    for (const [query, params] of [
      [queries.list_dts, { tenant: 'default', limit: 2, offset: 1 }],
      [queries.list_dts, { tenant: 'default', limit: 2, offset: 9 }],
      [queries.impedance_daily_rows, impedanceParams({ limit: 2, offset: 1 })],
      [
        queries.dispatches_for_assets,
        {
          asset_ids: ['bess-1', 'pv-3'],
          from_ms: 0,
          to_ms: SLOT + DAY_MS,
          delivery_from_ms: 0,
          delivery_to_ms: SLOT + DAY_MS,
          limit: 1,
          offset: 0,
        },
      ],
    ] as const) {
      const [embedded, server] = await Promise.all(
        (['embedded', 'server'] as const).map((engine) =>
          runPage(engines[engine].warehouse, query as never, params as never),
        ),
      );
      expect(server, query.name).toEqual(embedded);
      const all = await runQuery(
        engines.embedded.warehouse,
        query as never,
        {
          ...params,
          limit: 1000,
          offset: 0,
        } as never,
      );
      expect(embedded!.total, query.name).toBe(all.length);
    }
  });

  it('answers the impedance on-demand look-up with the same JSON', async () => {
    const body = { Meter: 'm-1,m-3', startEventDate: '2026-07-01', limit: 2, offset: 1 };
    const [embedded, server] = await Promise.all(
      [apis.embedded, apis.server].map((app) =>
        app.inject({ method: 'POST', url: '/v1/impedance/on-demand', body }),
      ),
    );
    expect(embedded!.statusCode).toBe(200);
    expect(server!.body).toBe(embedded!.body);
  });

  it.each(['CSVWithNames', 'JSONEachRow'] as const)(
    'exports the same %s bytes from both engines',
    async (format) => {
      const files = await Promise.all(
        (['embedded', 'server'] as const).map(async (engine) => {
          const path = join(exportDir, `${engine}.${format}`);
          const params = impedanceParams({ limit: Number.MAX_SAFE_INTEGER });
          const { bytes } = await engines[engine].warehouse.exportToFile(
            sqlQuery('impedance_daily_rows'),
            params,
            format,
            path,
          );
          const text = readFileSync(path, 'utf8');
          expect(Buffer.byteLength(text)).toBe(bytes);
          return text;
        }),
      );
      expect(files[0]!.trimEnd().split('\n')).toHaveLength(format === 'CSVWithNames' ? 6 : 5);
      expect(files[1]).toBe(files[0]);
    },
  );

  it('exports the same CSV bytes with -- for NULL from both engines (the setting; the stream rewritten on 18.16)', async () => {
    const files = await Promise.all(
      (['embedded', 'server'] as const).map(async (engine) => {
        const path = join(exportDir, `${engine}-nulls.csv`);
        const params = impedanceParams({ limit: Number.MAX_SAFE_INTEGER });
        await engines[engine].warehouse.exportToFile(
          sqlQuery('impedance_daily_rows'),
          params,
          'CSVWithNames',
          path,
          { csvNull: '--' },
        );
        return readFileSync(path, 'utf8');
      }),
    );
    expect(files[0]).toMatch(/"m-3",--,/);
    expect(files[0]).not.toContain('\\N');
    expect(files[1]).toBe(files[0]);
  });

  it.each(['embedded', 'server'] as const)(
    'fails an export whose query fails after its first rows, leaving no file (%s)',
    async (engine) => {
      const path = join(exportDir, `failing-${engine}.csv`);
      await expect(
        engines[engine].warehouse.exportToFile(
          'SELECT number, throwIf(number = 900000) AS boom FROM numbers(1000000) SETTINGS max_block_size = 1000',
          undefined,
          'CSVWithNames',
          path,
        ),
      ).rejects.toThrow(/throwIf|non zero|395/);
      expect(existsSync(path)).toBe(false);
    },
  );

  it('exports Parquet on the embedded engine, and refuses it on 18.16 naming the format (501)', async () => {
    const submit = (app: FastifyInstance) =>
      app.inject({ method: 'POST', url: '/v1/impedance/exports', body: { filetype: 'parquet' } });
    expect((await submit(apis.embedded)).statusCode).toBe(202);
    const refused = await submit(apis.server);
    expect(refused.statusCode).toBe(501);
    expect(refused.json()).toMatchObject({
      error: 'unsupported_format',
      message: expect.stringMatching(/parquet.*18\.16.*Parquet/),
      fields: [{ field: 'filetype' }],
    });
    const path = join(exportDir, 'refused.parquet');
    await expect(
      engines.server.warehouse.exportToFile(
        sqlQuery('impedance_daily_rows'),
        impedanceParams(),
        'Parquet',
        path,
      ),
    ).rejects.toThrow(/cannot write the Parquet format/);
  });

  it('exports ORC on the embedded engine, and refuses it on 18.16 naming the format (501)', async () => {
    const submit = (app: FastifyInstance) =>
      app.inject({ method: 'POST', url: '/v1/impedance/exports', body: { filetype: 'orc' } });
    expect((await submit(apis.embedded)).statusCode).toBe(202);
    const refused = await submit(apis.server);
    expect(refused.statusCode).toBe(501);
    expect(refused.json()).toMatchObject({
      error: 'unsupported_format',
      message: expect.stringMatching(/orc.*18\.16.*ORC.*22\.3/),
      fields: [{ field: 'filetype' }],
    });
    await expect(
      engines.server.warehouse.exportToFile(
        sqlQuery('impedance_daily_rows'),
        impedanceParams(),
        'ORC',
        join(exportDir, 'refused.orc'),
      ),
    ).rejects.toThrow(/cannot write the ORC format/);
  });
});
