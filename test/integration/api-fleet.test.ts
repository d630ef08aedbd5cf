import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../../api/errors.js';
import { API_ERROR_SCHEMA } from '../../api/openapi.js';
import { dtRoutes } from '../../api/routes/dt.js';
import { dtStressRoutes } from '../../api/routes/dt-stress.js';
import { compareFleet, fleetRoutes } from '../../api/routes/fleet.js';
import { DAY_MS, iso, SLOT_MS } from '../../core/time.js';
import { migrate } from '../../io/warehouse/migrate.js';
import {
  dtOperatingEnvelopeRow,
  dtStressRow,
  envelopeRow,
  impedanceFlagRow,
  topologyMeterRow,
  topologyTransformerRow,
} from '../../io/warehouse/rows.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { simulateTopology } from '../../simulator/command.js';
import type { ImpedanceFlag } from '../../schemas/types.gen.js';
import { ENGINES, openTestWarehouse, type TestWarehouse } from '../support/clickhouse-server.js';
import { operatingEnvelope, sampleEnvelope, stressRow } from '../support/records.js';
import {
  apiCall,
  OTHER_TENANT_KEY,
  simulateInto,
  startTestGridstream,
  TEST_API_KEY,
} from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;

interface FleetDt {
  dt_id: string;
  feeder_id: string;
  load_factor: number | null;
  net_kw: number | null;
  stress_slot_start: string | null;
  loss_of_life_min: number | null;
  thermal_stress_prob: number | null;
  voltage_stress_prob: number | null;
  stress_prob: number | null;
  peak_stress_slot: string | null;
  envelope_issued_at: string | null;
  open_impedance_flags: number;
  matched: { meter_id: string; service_point_id: string | null } | null;
  [field: string]: unknown;
}
interface Fleet {
  transformers: FleetDt[];
  feeders: string[];
  limit: number;
  offset: number;
  total: number;
  next_offset: number | null;
}

const today = () => Date.now() - (Date.now() % DAY_MS);
const flag = (dt_id: string, meter_id: string, leg: number, day: number, kind: ImpedanceFlag['kind']) =>
  impedanceFlagRow({ dt_id, meter_id, leg, day, kind, median_mohm: 400, reference_mohm: 250 });

/** What GET /v1/fleet must say of a DT, read from the tables its own way (rows, not aggregates). */
async function expectedOf(warehouse: Warehouse, dt: string) {
  const [stress] = await warehouse.query<{
    slot_start: string;
    load_factor: number;
    net_kw: number;
    loss: number;
  }>(
    `SELECT toString(slot_start) AS slot_start, load_factor, net_kw, loss_of_life_min AS loss
     FROM dt_stress FINAL WHERE dt_id = {dt:String} ORDER BY slot_start DESC LIMIT 1`,
    { dt },
  );
  const issue = await warehouse.query<{ slot: string; t: number; v: number | null; issued: string }>(
    `SELECT toString(slot_start) AS slot, thermal_stress_prob AS t, voltage_stress_prob AS v,
            toString(issued_at) AS issued
     FROM dt_operating_envelopes FINAL
     WHERE dt_id = {dt:String}
       AND version = (SELECT max(version) FROM dt_operating_envelopes WHERE dt_id = {dt:String})
     ORDER BY slot_start`,
    { dt },
  );
  const at = (text: string) => iso(Date.parse(`${text.replace(' ', 'T')}Z`));
  const thermal = issue.length ? Math.max(...issue.map((r) => r.t)) : null;
  const voltages = issue.map((r) => r.v).filter((v): v is number => v !== null);
  const voltage = voltages.length ? Math.max(...voltages) : null;
  const stressProb = thermal === null ? null : Math.max(thermal, voltage ?? -1);
  const peak = issue.find((r) => Math.max(r.t, r.v ?? -1) === stressProb);
  return {
    load_factor: stress?.load_factor ?? null,
    net_kw: stress?.net_kw ?? null,
    stress_slot_start: stress ? at(stress.slot_start) : null,
    loss_of_life_min: stress?.loss ?? null,
    thermal_stress_prob: thermal,
    voltage_stress_prob: voltage,
    stress_prob: stressProb,
    peak_stress_slot: peak ? at(peak.slot) : null,
    envelope_issued_at: issue.length ? at(issue[0]!.issued) : null,
  };
}

describe('GET /v1/fleet on a simulated day (embedded gridstream)', () => {
  let g: Running;
  const DAY = Date.parse('2026-07-01T00:00:00Z');
  const options = { seed: 11, transformers: 3, meters: 30, feeders: 2 };
  const topology = simulateTopology(options);
  const get = async (path: string, key: string | null = TEST_API_KEY) => {
    const response = await apiCall(g.url, 'GET', path, undefined, key);
    return { status: response.status, body: (await response.json()) as Fleet };
  };

  beforeAll(async () => {
    g = await startTestGridstream();
    await g.pipeline.loadTopology(
      {
        ...topology,
        transformers: [
          ...topology.transformers,
          transformer('dt-other', { tenant: 'utility-b', feeder_id: 'fdr-other' }),
        ],
        meters: [...topology.meters, meter('m-other', 'dt-other')],
      },
      'fleet',
    );
    await simulateInto(g, { ...options, start: DAY, end: DAY + DAY_MS, now: DAY + DAY_MS }, 180_000);
    const [a, b] = topology.meters.map((m) => m.meter_id);
    const dt = topology.meters[0]!.dt_id;
    const day = today();
    // Two legs of dt's flagged within the last 7 UTC days (one twice, by two kinds and days), one 7 days ago.
    await g.edges.warehouse.insert('impedance_flags', [
      flag(dt, a!, 1, day, 'absolute'),
      flag(dt, a!, 1, day, 'own_rise'),
      flag(dt, a!, 1, day - DAY_MS, 'absolute'),
      flag(dt, b!, 1, day - 6 * DAY_MS, 'peer_rise'),
      flag(dt, b!, 2, day - 7 * DAY_MS, 'absolute'),
      flag('dt-other', 'm-other', 1, day, 'absolute'),
    ]);
  }, 300_000);

  afterAll(async () => {
    await g?.stop();
  });

  it('gives every DT of the tenant its figures as the tables hold them, ranked', async () => {
    const { status, body } = await get('/v1/fleet');
    expect(status).toBe(200);
    const dts = topology.transformers.map((t) => t.dt_id).sort();
    expect(body.transformers.map((t) => t.dt_id).sort()).toEqual(dts);
    expect(body).toMatchObject({ limit: 1000, offset: 0, total: 3, next_offset: null });
    expect(body.feeders).toEqual([...new Set(topology.transformers.map((t) => t.feeder_id))].sort());
    expect(body.feeders).toHaveLength(2);
    const list = (await (await apiCall(g.url, 'GET', '/v1/dt')).json()) as { transformers: FleetDt[] };
    let withIssue = 0;
    for (const item of body.transformers) {
      expect(item).toMatchObject(await expectedOf(g.edges.warehouse, item.dt_id));
      expect(item).toMatchObject(list.transformers.find((t) => t.dt_id === item.dt_id)!);
      expect(item.matched).toBeNull();
      if (item.stress_prob !== null) withIssue++;
      expect(item.load_factor).not.toBeNull();
    }
    // The simulated day gives every DT its thermal state and an envelope issue.
    expect(withIssue).toBe(3);
    expect([...body.transformers].sort(compareFleet)).toEqual(body.transformers);
    const flagged = topology.meters[0]!.dt_id;
    expect(Object.fromEntries(body.transformers.map((t) => [t.dt_id, t.open_impedance_flags]))).toEqual(
      Object.fromEntries(dts.map((dt) => [dt, dt === flagged ? 2 : 0])),
    );
  });

  it('filters by feeder, searches by DT, meter and service point, and pages the ranking', async () => {
    const all = (await get('/v1/fleet')).body.transformers;
    const feeder = all[0]!.feeder_id;
    const onFeeder = (await get(`/v1/fleet?feeder_id=${encodeURIComponent(feeder)}`)).body;
    expect(onFeeder.transformers).toEqual(all.filter((t) => t.feeder_id === feeder));
    expect(onFeeder.feeders).toHaveLength(2);
    expect((await get('/v1/fleet?feeder_id=nowhere')).body).toMatchObject({ transformers: [], total: 0 });

    const target = all[2]!;
    const fragment = target.dt_id.slice(-3).toUpperCase();
    const byId = (await get(`/v1/fleet?q=${encodeURIComponent(fragment)}`)).body.transformers;
    expect(byId).toEqual(all.filter((t) => t.dt_id.toLowerCase().includes(fragment.toLowerCase())));
    expect(byId.map((t) => t.dt_id)).toContain(target.dt_id);

    const m = topology.meters.find((x) => x.dt_id === target.dt_id)!;
    for (const q of [m.meter_id, m.service_point_id]) {
      const found = (await get(`/v1/fleet?q=${encodeURIComponent(q)}`)).body;
      expect(found.transformers).toEqual([
        { ...target, matched: { meter_id: m.meter_id, service_point_id: m.service_point_id } },
      ]);
    }
    expect((await get('/v1/fleet?q=no-such-thing')).body.total).toBe(0);
    // One DT by its exact id, with the figures it has in the whole fleet.
    for (const dt of all)
      expect((await get(`/v1/fleet?dt_id=${encodeURIComponent(dt.dt_id)}`)).body).toMatchObject({
        transformers: [dt],
        total: 1,
      });
    expect((await get(`/v1/fleet?dt_id=${encodeURIComponent(fragment)}`)).body.total).toBe(0);

    const second = (await get('/v1/fleet?limit=1&offset=1')).body;
    expect(second).toMatchObject({ limit: 1, offset: 1, total: 3, next_offset: 2 });
    expect(second.transformers).toEqual([all[1]]);
    const paged = (await get('/v1/fleet?page=3&pageSize=1')).body;
    expect(paged).toMatchObject({ page: 3, pageSize: 1, total: 3, next_offset: null });
    expect(paged.transformers).toEqual([all[2]]);
    expect((await get('/v1/fleet?q=')).status).toBe(400);
    expect((await get(`/v1/fleet?q=${'x'.repeat(129)}`)).status).toBe(400);
  });

  it("shows another tenant's key only its own DT, and refuses a request without a key", async () => {
    const other = (await get('/v1/fleet', OTHER_TENANT_KEY)).body;
    expect(other.transformers.map((t) => t.dt_id)).toEqual(['dt-other']);
    expect(other.feeders).toEqual(['fdr-other']);
    // A DT without meters is issued a modelled envelope all the same.
    expect(other.transformers[0]).toMatchObject({
      ...(await expectedOf(g.edges.warehouse, 'dt-other')),
      open_impedance_flags: 1,
      data_quality: 'modelled-only',
    });
    const m = topology.meters[0]!;
    expect((await get(`/v1/fleet?q=${m.meter_id}`, OTHER_TENANT_KEY)).body.total).toBe(0);
    expect((await get('/v1/fleet', null)).status).toBe(401);
  });

  it("states the stress stage's limits on GET /v1/dt/{id}/stress", async () => {
    const dt = topology.transformers[0]!;
    const response = await apiCall(
      g.url,
      'GET',
      `/v1/dt/${dt.dt_id}/stress?from=2026-07-01T00:00:00Z&days=1`,
    );
    expect(response.status).toBe(200);
    const nominal = dt.nominal_voltage_v;
    expect(((await response.json()) as { limits: unknown }).limits).toEqual({
      load_factor: 1.5,
      hot_spot_c: 120,
      top_oil_c: 105,
      v_min_pu: 0.94,
      v_max_pu: 1.1,
      nominal_voltage_v: nominal,
      v_min_v: nominal * (1 - 6 / 100),
      v_max_v: nominal * (1 + 10 / 100),
    });
    expect(
      (await apiCall(g.url, 'GET', `/v1/dt/${dt.dt_id}/stress`, undefined, OTHER_TENANT_KEY)).status,
    ).toBe(404);
  });
});

/*
 * The same rows on the embedded engine and on Debian's 18.16 server: the same JSON, and the figures the rows
 * say (older issues and revised slots left out, ties broken by the earliest slot, the other tenant unseen).
 */
describe('GET /v1/fleet: the same answer on both warehouses', () => {
  const engines = {} as Record<(typeof ENGINES)[number], TestWarehouse>;
  const apis = {} as Record<(typeof ENGINES)[number], FastifyInstance>;
  const SLOT = Date.now() - (Date.now() % SLOT_MS) - DAY_MS;
  const OLD = SLOT - 10 * DAY_MS;

  beforeAll(async () => {
    for (const engine of ENGINES) {
      const opened = (engines[engine] = await openTestWarehouse(engine));
      const { warehouse } = opened;
      await migrate(warehouse);
      const t = (dt_id: string, feeder_id: string, tenant = 'default') =>
        topologyTransformerRow({ ...transformer(dt_id, { feeder_id, tenant }), topology_version: 1 });
      await warehouse.insert('topology_transformers', [
        t('dt-a', 'F-1'),
        t('dt-b', 'F-2'),
        t("dt-'c", 'F-1'),
        t('dt-old', 'F-2'),
        t('dt-x', 'F-9', 'utility-b'),
      ]);
      const m = (meter_id: string, dt_id: string, sp: string, topology_version = 1) =>
        topologyMeterRow({ ...meter(meter_id, dt_id, { service_point_id: sp }), topology_version });
      await warehouse.insert('topology_meters', [
        m('m-1', 'dt-a', 'SP-1'),
        m('m-2', 'dt-b', 'SP-2'),
        m('m-4', 'dt-a', 'SP-4'),
        m('m-4', 'dt-b', 'SP-4', 2),
      ]);
      await warehouse.insert('dt_stress', [
        dtStressRow(stressRow('dt-a', SLOT - SLOT_MS, { load_factor: 1.2, loss_of_life_min: 5 })),
        dtStressRow(stressRow('dt-a', SLOT, { load_factor: 0.8, net_kw: 70.5, loss_of_life_min: 10.25 })),
        dtStressRow(stressRow('dt-b', SLOT, { load_factor: 0.3, loss_of_life_min: 2, version: 1 })),
        dtStressRow(stressRow('dt-b', SLOT, { load_factor: 0.35, loss_of_life_min: 3, version: 9 })),
        dtStressRow(stressRow('dt-x', SLOT, { load_factor: 1.9, loss_of_life_min: 999 })),
        // dt-old has written nothing for 10 days: answered from all its rows, not the recent ones.
        dtStressRow(stressRow('dt-old', OLD, { load_factor: 0.5, loss_of_life_min: 50 })),
      ]);
      const issue = (dt: string, issuedAt: number, probs: Array<[number, number | null]>) =>
        probs.map(([thermal, voltage], k) =>
          dtOperatingEnvelopeRow(
            operatingEnvelope(dt, issuedAt + k * SLOT_MS, issuedAt, {
              thermal_stress_prob: thermal,
              voltage_stress_prob: voltage,
            }),
          ),
        );
      await warehouse.insert('dt_operating_envelopes', [
        // dt-a's older issue peaks at 0.9; its newest issue at 0.4, twice (the earlier slot is named).
        ...issue('dt-a', SLOT - SLOT_MS, [
          [0.9, null],
          [0.9, null],
          [0.9, null],
        ]),
        ...issue('dt-a', SLOT, [
          [0.1, null],
          [0.4, null],
          [0.4, 0.2],
        ]),
        // dt-b: the voltage probability is the higher.
        ...issue('dt-b', SLOT, [
          [0.05, 0.6],
          [0.5, 0.1],
        ]),
        ...issue('dt-x', SLOT, [[0.99, 0.99]]),
        ...issue('dt-old', OLD, [
          [0.3, null],
          [0.2, 0.25],
        ]),
      ]);
      // Load envelopes: dt-a's newest slot revised (the newer version counts), dt-old's 10 days old.
      await warehouse.insert('envelopes', [
        envelopeRow({ ...sampleEnvelope, dt_id: 'dt-a', slot_start: SLOT - SLOT_MS, ami_coverage_pct: 99 }),
        envelopeRow({ ...sampleEnvelope, dt_id: 'dt-a', slot_start: SLOT, version: 1, ami_coverage_pct: 40 }),
        envelopeRow({
          ...sampleEnvelope,
          dt_id: 'dt-a',
          slot_start: SLOT,
          version: 2,
          ami_coverage_pct: 93.456,
          data_quality: 'ami_direct',
        }),
        envelopeRow({
          ...sampleEnvelope,
          dt_id: 'dt-old',
          slot_start: OLD,
          ami_coverage_pct: 55.5,
          data_quality: 'ami_imputed',
        }),
      ]);
      const day = today();
      await warehouse.insert('impedance_flags', [
        flag('dt-b', 'm-2', 1, day, 'absolute'),
        flag('dt-b', 'm-2', 2, day - 3 * DAY_MS, 'own_rise'),
        flag('dt-b', 'm-4', 1, day - 8 * DAY_MS, 'absolute'),
      ]);
      const app = Fastify({ logger: false });
      app.setErrorHandler(errorHandler);
      app.addSchema(API_ERROR_SCHEMA);
      app.addHook('onRequest', async (request) => {
        request.tenant = String(request.headers['x-tenant'] ?? 'default');
      });
      app.register(fleetRoutes, { warehouse, timeZone: 'UTC' });
      app.register(dtStressRoutes, { warehouse, retentionDays: 395 });
      app.register(dtRoutes, { warehouse, retentionDays: 395, timeZone: 'UTC' });
      apis[engine] = app;
    }
  }, 180_000);

  afterAll(async () => {
    for (const app of Object.values(apis)) await app.close();
    for (const opened of Object.values(engines)) await opened.close();
  });

  const both = async (url: string, tenant = 'default') => {
    const [embedded, server] = await Promise.all(
      ENGINES.map((engine) => apis[engine].inject({ method: 'GET', url, headers: { 'x-tenant': tenant } })),
    );
    expect(embedded!.statusCode).toBe(200);
    expect(server!.body).toBe(embedded!.body);
    return embedded!.json() as Fleet;
  };

  it('ranks the fleet from the newest stress slot and the newest issue', async () => {
    const body = await both('/v1/fleet');
    expect(body.feeders).toEqual(['F-1', 'F-2']);
    expect(body.transformers.map((t) => t.dt_id)).toEqual(['dt-b', 'dt-a', 'dt-old', "dt-'c"]);
    // Each DT as GET /v1/dt has it (the recent envelopes first, all of a stale DT's).
    const listed = (await apis.embedded.inject({ method: 'GET', url: '/v1/dt' })).json() as Fleet;
    for (const item of body.transformers)
      expect(item).toMatchObject(listed.transformers.find((t) => t.dt_id === item.dt_id)!);
    expect(body.transformers[0]).toMatchObject({
      load_factor: 0.35,
      loss_of_life_min: 3,
      stress_slot_start: iso(SLOT),
      thermal_stress_prob: 0.5,
      voltage_stress_prob: 0.6,
      stress_prob: 0.6,
      peak_stress_slot: iso(SLOT),
      envelope_issued_at: iso(SLOT),
      open_impedance_flags: 2,
      matched: null,
    });
    expect(body.transformers[1]).toMatchObject({
      last_slot_start: iso(SLOT),
      ami_coverage_pct: 93.46,
      data_quality: 'ami-direct',
      load_factor: 0.8,
      net_kw: 70.5,
      loss_of_life_min: 10.25,
      thermal_stress_prob: 0.4,
      voltage_stress_prob: 0.2,
      stress_prob: 0.4,
      peak_stress_slot: iso(SLOT + SLOT_MS),
      envelope_issued_at: iso(SLOT),
      open_impedance_flags: 0,
    });
    expect(body.transformers[2]).toMatchObject({
      last_slot_start: iso(OLD),
      ami_coverage_pct: 55.5,
      data_quality: 'ami-imputed',
      load_factor: 0.5,
      stress_slot_start: iso(OLD),
      loss_of_life_min: 50,
      thermal_stress_prob: 0.3,
      voltage_stress_prob: 0.25,
      stress_prob: 0.3,
      peak_stress_slot: iso(OLD),
      envelope_issued_at: iso(OLD),
    });
    expect(body.transformers[3]).toMatchObject({
      load_factor: null,
      stress_slot_start: null,
      stress_prob: null,
      peak_stress_slot: null,
      envelope_issued_at: null,
      open_impedance_flags: 0,
      data_quality: 'modelled-only',
    });
  });

  it('searches the current topology, filters and pages the same way', async () => {
    // m-4 moved to dt-b in version 2: only dt-b is its DT now.
    expect((await both('/v1/fleet?q=SP-4')).transformers).toEqual([
      expect.objectContaining({ dt_id: 'dt-b', matched: { meter_id: 'm-4', service_point_id: 'SP-4' } }),
    ]);
    expect((await both('/v1/fleet?q=%27C')).transformers.map((t) => t.dt_id)).toEqual(["dt-'c"]);
    expect((await both('/v1/fleet?q=%27%20OR%20%271%27%3D%271')).total).toBe(0);
    for (const dt of (await both('/v1/fleet')).transformers)
      expect((await both(`/v1/fleet?dt_id=${encodeURIComponent(dt.dt_id)}`)).transformers).toEqual([dt]);
    expect((await both('/v1/fleet?feeder_id=F-1')).transformers.map((t) => t.dt_id)).toEqual([
      'dt-a',
      "dt-'c",
    ]);
    expect(await both('/v1/fleet?limit=2&offset=1')).toMatchObject({ total: 4, next_offset: 3 });
    const other = await both('/v1/fleet', 'utility-b');
    expect(other.transformers.map((t) => t.dt_id)).toEqual(['dt-x']);
    expect(other.transformers[0]).toMatchObject({ stress_prob: 0.99, loss_of_life_min: 999 });
  });

  it('states the same limits on GET /v1/dt/{id}/stress', async () => {
    const [embedded, server] = await Promise.all(
      ENGINES.map((engine) =>
        apis[engine].inject({ method: 'GET', url: `/v1/dt/dt-a/stress?days=2&to=${iso(SLOT + DAY_MS)}` }),
      ),
    );
    expect(server!.body).toBe(embedded!.body);
    expect(embedded!.json().limits).toMatchObject({
      nominal_voltage_v: 230,
      v_min_v: 230 * (1 - 6 / 100),
      v_max_v: 230 * (1 + 10 / 100),
    });
  });
});
