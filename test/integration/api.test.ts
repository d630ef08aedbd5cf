import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meter, transformer } from '../support/topology.js';
import { dtOperatingEnvelopeRow } from '../../io/warehouse/rows.js';
import { operatingEnvelope } from '../support/records.js';
import { buildApi } from '../../api/server.js';
import { parseApiKeys } from '../../api/auth.js';
import {
  OTHER_TENANT_KEY,
  startTestGridstream,
  TEST_API_KEY,
  testMqttUrl,
} from '../support/test-gridstream.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;

const topology = {
  // dt-a and dt-b name no tenant: they belong to `default`, TEST_API_KEY's tenant.
  transformers: [transformer('dt-a'), transformer('dt-b'), transformer('dt-other', { tenant: 'utility-b' })],
  // dt-other has no meters: the envelope processor models no slots for it, so it never has an operating
  // envelope (a modelled DT gets one from the stress stage, at a time that races the dispatch checks).
  meters: [meter('m-1', 'dt-a'), meter('m-2', 'dt-a'), meter('m-3', 'dt-b')],
  // bess-1 sits behind a DT of `default`, bess-o behind utility-b's; bess-2 is not placed (it is `default`'s).
  assets: [
    { asset_id: 'bess-1', dt_id: 'dt-a', meter_id: 'm-1', asset_type: 'BESS', nominal_kw: 2000 },
    { asset_id: 'bess-o', dt_id: 'dt-other', meter_id: null, asset_type: 'BESS', nominal_kw: null },
  ],
};

describe('HTTP API', () => {
  let g: Running;
  const get = (path: string, key: string | null = TEST_API_KEY) =>
    fetch(`${g.url}${path}`, { headers: key === null ? {} : { 'x-api-key': key } });

  beforeAll(async () => {
    // An hour of lateness: no slot of the half hour below closes, so the stress stage issues no operating
    // envelope of its own for dt-a, which would race the dispatch checks (it would be in force from 10:15, or
    // replace the stored 09:45 issue when the table merges) and make their verdicts depend on timing.
    g = await startTestGridstream({ allowedLatenessS: 3600 });
    await g.pipeline.loadTopology(topology, 'api test');
    const client = await mqtt.connectAsync(testMqttUrl(g));
    const start = Date.UTC(2026, 6, 1, 10, 0);
    for (let m = 0; m < 30; m++) {
      const ts = new Date(start + m * 60_000).toISOString();
      for (const id of ['m-1', 'm-2'])
        await client.publishAsync(
          `gridstream/v1/meters/${id}/telemetry`,
          JSON.stringify({ ts, p_kw: 2, legs: [{ leg: 1, v: 230, i: 8.7 }] }),
          { qos: 1 },
        );
    }
    // dt-a's operating envelope in force from 09:45 (stored as the stress stage would): 1,000 kW of extra import,
    // 800 kW of extra export in each slot the dispatches below are delivered in.
    await g.edges.warehouse.insert(
      'dt_operating_envelopes',
      [0, 1, 2, 3, 4].map((k) =>
        dtOperatingEnvelopeRow(
          operatingEnvelope('dt-a', start + (k + 1) * 15 * 60_000, start - 15 * 60_000, {
            import_kw: 1000,
            export_kw: 800,
          }),
        ),
      ),
    );
    // Dispatch commands, one published twice: stored once.
    for (let k = 0; k < 6; k++) {
      const command = {
        event_id: `0b6c2a10-0000-4000-8000-00000000000${k}`,
        asset_id: k < 4 ? 'bess-1' : k === 4 ? 'bess-2' : 'bess-o',
        dispatch_time: new Date(start + k * 15 * 60_000).toISOString(),
        delivery_period_start: new Date(start + (k + 1) * 15 * 60_000).toISOString(),
        target_power: { amount: k === 0 ? '-1.250' : '0.5', unit: 'MW' },
        ...(k === 0 ? { source: 'optimiser', nominal_power: { amount: '2', unit: 'MW' } } : {}),
      };
      for (let copy = 0; copy < (k === 0 ? 2 : 1); copy++)
        await client.publishAsync(`gridstream/v1/dispatch/${command.asset_id}`, JSON.stringify(command), {
          qos: 1,
        });
    }
    // The platform then cancels event 1 on bess-1's dispatch topic: event_id, asset_id and dispatch_time only.
    await client.publishAsync(
      'gridstream/v1/dispatch/bess-1',
      JSON.stringify({
        event_id: '0b6c2a10-0000-4000-8000-000000000001',
        asset_id: 'bess-1',
        dispatch_time: new Date(start + 80 * 60_000).toISOString(),
        action: 'cancel',
      }),
      { qos: 1 },
    );
    await client.endAsync();
    await g.pipeline.settle();
  });
  afterAll(() => g?.stop());

  it('refuses a request without a key, or with a wrong one, as 401 with a reason', async () => {
    const missing = await get('/v1/dt', null);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({
      error: 'unauthorized',
      message: 'missing X-API-Key header (or Authorization: Bearer)',
      request_id: missing.headers.get('x-request-id'),
    });
    const wrong = await get('/v1/dt', 'not-the-key-0000000000000000000000000000');
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { message: string }).message).toMatch(/not valid/);
  });

  it('lists the transformers with coverage and tier; a DT without AMI data is modelled-only', async () => {
    const response = await get('/v1/dt');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { transformers: Array<Record<string, unknown>> };
    const byId = Object.fromEntries(body.transformers.map((t) => [t.dt_id, t]));
    expect(Object.keys(byId).sort()).toEqual(['dt-a', 'dt-b']); // not utility-b's dt-other
    expect(byId['dt-a']).toMatchObject({ meters_connected: 2, data_quality: 'ami-imputed', rated_kva: 250 });
    expect(byId['dt-a']!.ami_coverage_pct).toBeGreaterThan(0);
    expect(byId['dt-b']).toMatchObject({
      meters_connected: 1,
      data_quality: 'modelled-only',
      ami_coverage_pct: 0,
      last_slot_start: null,
    });
  });

  it('serves the load profile with the tier declared and coverage per slot', async () => {
    const response = await get('/v1/dt/dt-a/load-profile?from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z');
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      data_quality: string;
      ami_coverage_pct: number;
      slots: Array<{
        slot_start: string;
        import_kwh: number;
        meters_reporting: number;
        meters_connected: number;
        data_quality: string;
      }>;
    };
    expect(body.slots.map((s) => s.slot_start)).toEqual([
      '2026-07-01T10:00:00.000Z',
      '2026-07-01T10:15:00.000Z',
    ]);
    // Two meters at 2 kW for 15 minutes: 1 kWh.
    expect(body.slots[0]!.import_kwh).toBeCloseTo(1, 9);
    expect(body.slots[0]).toMatchObject({
      meters_reporting: 2,
      meters_connected: 2,
      data_quality: 'ami-imputed',
      // Both meters reported: nothing imputed, the measured part is the whole.
      profile_source: 'measured',
      imputed_kw: 0,
      imputed_meters: 0,
      measured_net_mean_kw: 4,
    });
    expect(body.data_quality).toBe('ami-imputed');
    expect(body.ami_coverage_pct).toBeGreaterThan(0);
  });

  it.each([
    ['days=0', 'days'],
    ['days=abc', 'days'],
    ['days=100000', 'days'],
    ['from=yesterday', 'from'],
    ['from=2026-07-02T00:00:00Z&to=2026-07-01T00:00:00Z', 'from'],
    ['colour=blue', 'colour'],
  ])('answers %s with a 400 naming %s', async (query, field) => {
    const response = await get(`/v1/dt/dt-a/load-profile?${query}`);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; fields: Array<{ field: string }> };
    expect(body.error).toBe('bad_request');
    expect(body.fields.map((f) => f.field)).toContain(field);
  });

  it('answers an unknown transformer with 404, including injection-shaped ids', async () => {
    for (const id of ['dt-zzz', "dt-a' OR '1'='1", 'dt-a%27%3B%20DROP%20TABLE%20envelopes%3B--']) {
      const response = await get(`/v1/dt/${encodeURIComponent(id)}/load-profile`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: string }).error).toBe('not_found');
    }
    const [still] = await g.edges.warehouse.query<{ n: string }>('SELECT count() AS n FROM envelopes');
    expect(Number(still!.n)).toBeGreaterThan(0);
  });

  it("shows a tenant only its own transformers, and answers another tenant's as unknown (404)", async () => {
    const other = (await (await get('/v1/dt', OTHER_TENANT_KEY)).json()) as {
      transformers: Array<{ dt_id: string }>;
    };
    expect(other.transformers.map((t) => t.dt_id)).toEqual(['dt-other']);
    expect((await get('/v1/dt/dt-other/load-profile?days=1', OTHER_TENANT_KEY)).status).toBe(200);
    for (const [path, key] of [
      ['/v1/dt/dt-other/load-profile', TEST_API_KEY],
      ['/v1/dt/dt-a/load-profile', OTHER_TENANT_KEY],
    ] as const) {
      const response = await get(path, key);
      expect(response.status).toBe(404);
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error).toBe('not_found');
      expect(body.message).toMatch(/^no transformer "dt-/);
    }
    // The same as a DT nobody has: the answer does not tell whether the id exists elsewhere.
    expect((await get('/v1/dt/dt-zzz/load-profile', OTHER_TENANT_KEY)).status).toBe(404);
  });

  it('limits each key to its rate: 429 with Retry-After, other keys unaffected', async () => {
    const app = await buildApi({
      warehouse: g.edges.warehouse,
      keys: parseApiKeys(`${TEST_API_KEY},${OTHER_TENANT_KEY}:utility-b`),
      registry: g.metrics.registry,
      retentionDays: 395,
      rateLimit: { perSecond: 0.5, burst: 2 },
    });
    try {
      const hit = (key: string) =>
        app.inject({ method: 'GET', url: '/v1/dt', headers: { 'x-api-key': key } });
      expect((await hit(TEST_API_KEY)).statusCode).toBe(200);
      expect((await hit(TEST_API_KEY)).statusCode).toBe(200);
      const limited = await hit(TEST_API_KEY);
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(limited.json()).toMatchObject({
        error: 'rate_limited',
        message: expect.stringMatching(/retry after/),
      });
      expect((await hit(OTHER_TENANT_KEY)).statusCode).toBe(200);
      // A wrong key is a 401, not a 429: keys are limited only once they are known.
      expect((await hit('wrong-key-0000000000000000000000000000')).statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });

  it('serves the dispatch history of some assets, paged, each command once, a cancel unchecked', async () => {
    const window = 'from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z';
    const page = async (query: string) => {
      const response = await get(`/v1/dispatches?${window}&${query}`);
      expect(response.status).toBe(200);
      return (await response.json()) as { dispatches: Array<Record<string, unknown>>; limit: number };
    };
    const all = await page('asset_ids=bess-1,bess-2');
    expect(all.limit).toBe(50);
    expect(all.dispatches.map((d) => d.event_id)).toEqual(
      [0, 1, 2, 3, 4, 1].map((k) => `0b6c2a10-0000-4000-8000-00000000000${k}`),
    );
    expect(all.dispatches[0]).toEqual({
      source: 'optimiser',
      event_id: '0b6c2a10-0000-4000-8000-000000000000',
      published_at: null,
      asset_id: 'bess-1',
      dispatch_time: '2026-07-01T10:00:00.000Z',
      delivery_period_start: '2026-07-01T10:15:00.000Z',
      target_power: { amount: '-1.250', unit: 'MW' },
      nominal_power: { amount: '2', unit: 'MW' },
      power_imbalance: null,
      soc_imbalance: null,
      action: 'dispatch',
      // -1.25 MW is 1,250 kW of charging (import) against 1,000 kW of import headroom, all of it bess-1's (the
      // only asset behind dt-a): rejected, NETWORK binding.
      check: {
        verdict: 'exceeds',
        dt_id: 'dt-a',
        requested_kw: -1250,
        limit_kw: -1000,
        limit_source: 'NETWORK',
        network_share: 1,
        headroom_kw: 1000,
        limited_by: 'hot_spot',
        envelope_issued_at: '2026-07-01T09:45:00.000Z',
        data_quality: 'ami-imputed',
      },
    });
    expect(all.dispatches.map((d) => (d.check as { verdict: string } | null)?.verdict ?? null)).toEqual([
      'exceeds',
      'within',
      'within',
      'within',
      'unknown_asset',
      null,
    ]);
    // The cancel: a zero target in the period of its dispatch time, and no check of its own.
    expect(all.dispatches[5]).toMatchObject({
      action: 'cancel',
      dispatch_time: '2026-07-01T11:20:00.000Z',
      delivery_period_start: '2026-07-01T11:15:00.000Z',
      target_power: { amount: '0', unit: 'kW' },
      check: null,
    });
    const checked = await g.edges.warehouse.query<{ ms: string }>(
      `SELECT toUnixTimestamp64Milli(dispatch_time) AS ms FROM dispatch_checks WHERE event_id = '0b6c2a10-0000-4000-8000-000000000001'`,
    );
    expect(checked.map((c) => Number(c.ms))).toEqual([Date.UTC(2026, 6, 1, 10, 15)]);
    expect(all.dispatches[1]!.check).toMatchObject({
      requested_kw: 500,
      headroom_kw: 800,
      limited_by: 'voltage',
    });
    expect((await page('asset_ids=bess-2')).dispatches.map((d) => d.asset_id)).toEqual(['bess-2']);
    const second = await page('asset_ids=bess-1&asset_ids=bess-2&limit=2&offset=2');
    expect(second.dispatches).toEqual(all.dispatches.slice(2, 4));
    expect((await page(`asset_ids=${encodeURIComponent("bess-1' OR 1=1 --")}`)).dispatches).toEqual([]);
  });

  it("serves only the key's tenant's assets: those behind its DTs, and unplaced ones to default", async () => {
    const window = 'from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z';
    const other = await get(`/v1/dispatches?${window}&asset_ids=bess-o`, OTHER_TENANT_KEY);
    expect(other.status).toBe(200);
    const theirs = (
      (await other.json()) as { dispatches: Array<{ event_id: string; check: { verdict: string } }> }
    ).dispatches;
    expect(theirs.map((d) => d.event_id)).toEqual(['0b6c2a10-0000-4000-8000-000000000005']);
    // dt-other has no operating envelope (no meters: nothing modelled).
    expect(theirs[0]!.check.verdict).toBe('no_envelope');
    const refused = await get(`/v1/dispatches?${window}&asset_ids=bess-1,bess-o`);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toMatch(/asset "bess-o".*another tenant/);
    expect((await get(`/v1/dispatches?${window}&asset_ids=bess-1`, OTHER_TENANT_KEY)).status).toBe(403);
    expect((await get(`/v1/dispatches?${window}&asset_ids=bess-2`, OTHER_TENANT_KEY)).status).toBe(403);
    // Placing another tenant's asset behind one's own DT does not take it over.
    const steal = await fetch(`${g.url}/v1/topology`, {
      method: 'POST',
      headers: { 'x-api-key': OTHER_TENANT_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ assets: [{ asset_id: 'bess-1', dt_id: 'dt-other', asset_type: 'BESS' }] }),
    });
    expect(steal.status).toBe(403);
  });

  it.each([
    ['asset_ids', 'from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z'],
    ['asset_ids', 'asset_ids=,&from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z'],
    ['from', 'asset_ids=a&to=2026-07-02T00:00:00Z'],
    ['to', 'asset_ids=a&from=2026-07-01T00:00:00Z&to=tomorrow'],
    ['from', 'asset_ids=a&from=2026-07-02T00:00:00Z&to=2026-07-01T00:00:00Z'],
    ['limit', 'asset_ids=a&from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z&limit=1001'],
    ['limit', 'asset_ids=a&from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z&limit=0'],
    ['offset', 'asset_ids=a&from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z&offset=-5'],
  ])('answers /v1/dispatches with a bad %s with a 400 naming it', async (field, query) => {
    const response = await get(`/v1/dispatches?${query}`);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { fields: Array<{ field: string }> };
    expect(body.fields.map((f) => f.field)).toContain(field);
  });

  it('names each bad field once, on every route', async () => {
    const bad = await fetch(`${g.url}/v1/impedance/on-demand`, {
      method: 'POST',
      headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ ServicePoint: { x: 1 }, limit: 5000, offset: 'x' }),
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { fields: Array<{ field: string; problem: string }> };
    expect(body.fields.map((f) => f.field).sort()).toEqual(['ServicePoint', 'limit', 'offset']);
    const dts = await get('/v1/dt?colour=blue');
    expect(dts.status).toBe(400);
    expect(((await dts.json()) as { fields: Array<{ field: string }> }).fields).toEqual([
      { field: 'colour', problem: 'is not a known parameter' },
    ]);
  });

  it('serves /healthz and /metrics without a key, with the pipeline counters', async () => {
    const health = await get('/healthz', null);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', warehouse: 'embedded' });
    const metrics = await (await get('/metrics', null)).text();
    expect(metrics).toMatch(/^gridstream_readings_ingested_total 60$/m);
    expect(metrics).toMatch(/^gridstream_envelope_slots_written_total\{final="false"\} \d+$/m);
    expect(metrics).toMatch(/^gridstream_warehouse_rows_inserted_total\{table="readings"\} 60$/m);
    expect(metrics).toMatch(/^gridstream_consumer_lag_records\{group="gridstream-warehouse-sink"\} \d+$/m);
    expect(metrics).toMatch(/^gridstream_event_time_lag_seconds\{processor="envelopes"\} \d/m);
    expect(metrics).toMatch(/^# TYPE gridstream_dead_letters_total counter$/m);
    expect(metrics).toMatch(/^gridstream_queue_depth\{queue="warehouse_sink_uncommitted"\} \d+$/m);
  });

  it('describes itself in /openapi.json, generated from the route schemas', async () => {
    const doc = (await (await get('/openapi.json', null)).json()) as {
      openapi: string;
      paths: Record<string, { get?: { parameters?: Array<{ name: string }> } }>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    const params = doc.paths['/v1/dt/{id}/load-profile']!.get!.parameters!.map((p) => p.name);
    expect(params).toEqual(expect.arrayContaining(['id', 'days', 'from', 'to']));
    for (const path of [
      '/v1/impedance/on-demand',
      '/v1/impedance/exports',
      '/v1/impedance/exports/{id}',
      '/v1/impedance/exports/{id}/file',
      '/v1/webhooks',
      '/v1/webhooks/{id}',
      '/v1/webhooks/{id}/test',
      '/v1/webhooks/{id}/rotate-secret',
      '/v1/webhooks/{id}/deliveries',
    ])
      expect(doc.paths[path], path).toBeDefined();
    const onDemand = doc.paths['/v1/impedance/on-demand'] as unknown as {
      post: {
        requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown> } } } };
      };
    };
    const body = onDemand.post.requestBody.content['application/json'].schema.properties;
    expect(Object.keys(body)).toEqual(
      expect.arrayContaining([
        'ServicePoint',
        'Feeder',
        'startEventDate',
        'endReceivedDateTime',
        'limit',
        'offset',
      ]),
    );
    expect(body.limit).toMatchObject({ minimum: 1, maximum: 1000 });
  });

  it('loads a topology version over POST /v1/topology and refuses an invalid one naming the problem', async () => {
    const post = (body: unknown) =>
      fetch(`${g.url}/v1/topology`, {
        method: 'POST',
        headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const ok = await post({ transformers: [transformer('dt-c')], meters: [meter('m-9', 'dt-c')] });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ version: 2, transformers: 1, meters: 1 });
    const dts = (await (await get('/v1/dt')).json()) as { transformers: Array<{ dt_id: string }> };
    expect(dts.transformers.map((t) => t.dt_id)).toContain('dt-c');

    const bad = await post({ meters: [{ ...meter('m-10', 'dt-c'), legs: 7 }] });
    expect(bad.status).toBe(400);
    expect(
      ((await bad.json()) as { message: string; fields: Array<{ problem: string }> }).fields[0]!.problem,
    ).toMatch(/legs/);
    // A key loads only its own tenant's DTs: naming another tenant, or hanging meters on its DT, is a 403.
    const foreign = await post({ transformers: [transformer('dt-d', { tenant: 'utility-b' })] });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { message: string }).message).toMatch(/dt-d.*another tenant/);
    const hijack = await post({ meters: [meter('m-12', 'dt-other')] });
    expect(hijack.status).toBe(403);
    const orphan = await post({ meters: [meter('m-11', 'dt-nowhere')] });
    expect(orphan.status).toBe(400);
    expect(((await orphan.json()) as { message: string }).message).toMatch(/dt-nowhere/);
  });
});
