import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, iso, slotStart } from '../../core/time.js';
import { dispatchRow, impedanceDailyRow, impedanceFlagRow } from '../../io/warehouse/rows.js';
import type { ImpedanceFlagKind } from '../../schemas/types.gen.js';
import { apiCall, OTHER_TENANT_KEY, startTestGridstream, testMqttUrl } from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;
type Body = Record<string, unknown>;

// dt-a has three meters (m-3 without impedance rows) and bess-1; dt-c only bess-c, with more dispatches than an
// answer holds; dt-other is utility-b's. m-4 was behind dt-a
// in the first version and moved to dt-b: it is not dt-a's.
const topology = {
  transformers: [
    transformer('dt-a'),
    transformer('dt-b'),
    transformer('dt-c'),
    transformer('dt-other', { tenant: 'utility-b' }),
  ],
  meters: [meter('m-1', 'dt-a'), meter('m-2', 'dt-a'), meter('m-3', 'dt-a'), meter('m-4', 'dt-a')],
  assets: [
    { asset_id: 'bess-1', dt_id: 'dt-a', meter_id: 'm-1', asset_type: 'BESS', nominal_kw: 2000 },
    { asset_id: 'bess-c', dt_id: 'dt-c', meter_id: null, asset_type: 'BESS', nominal_kw: null },
  ],
};

const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const dayText = (d: number) => iso(today - d * DAY_MS).slice(0, 10);

describe('GET /v1/dt/{id}/meters and /v1/dt/{id}/dispatches', () => {
  let g: Running;
  const at = slotStart(Date.now()) - 2 * 3_600_000;
  const get = async (path: string, key?: string) => {
    const response = await apiCall(g.url, 'GET', path, undefined, key);
    return { status: response.status, body: (await response.json()) as Body };
  };

  beforeAll(async () => {
    g = await startTestGridstream({ allowedLatenessS: 3600 });
    await g.pipeline.loadTopology(topology, 'dt meters test');
    await g.pipeline.loadTopology({ transformers: [], meters: [meter('m-4', 'dt-b')] }, 'm-4 moved');
    const impedance = (meter_id: string, leg: number, daysAgo: number, version: number, median: number) =>
      impedanceDailyRow({
        meter_id,
        leg,
        day: today - daysAgo * DAY_MS,
        dt_id: 'dt-a',
        median_mohm: median,
        stderr_mohm: 0.5 + leg / 8,
        event_count: 10 + daysAgo,
        effective_events: 9.5,
        received_at: today - (daysAgo - 1) * DAY_MS + 1_234,
        version,
        is_final: daysAgo > 1,
        service_point_id: `SP-${meter_id}`,
        meter_number: null,
        electronic_serial_number: null,
        premise_id: null,
      });
    await g.edges.warehouse.insert('impedance_daily', [
      impedance('m-1', 1, 3, 1, 41.125),
      impedance('m-1', 1, 3, 2, 42.375), // the current revision of that leg-day
      impedance('m-1', 1, 2, 1, 43.0625),
      impedance('m-1', 2, 2, 1, 88.5),
      impedance('m-2', 1, 40, 1, 12.5), // before the default 30 days
      impedance('m-2', 1, 1, 1, 19.25),
      impedance('m-4', 1, 1, 1, 50),
    ]);
    const flag = (meter_id: string, leg: number, daysAgo: number, kind: ImpedanceFlagKind, median: number) =>
      impedanceFlagRow({
        meter_id,
        dt_id: 'dt-a',
        leg,
        day: today - daysAgo * DAY_MS,
        kind,
        median_mohm: median,
        reference_mohm: 60.5,
      });
    await g.edges.warehouse.insert('impedance_flags', [
      flag('m-1', 2, 2, 'absolute', 88.5),
      flag('m-1', 2, 2, 'peer_rise', 88.5),
      flag('m-2', 1, 1, 'own_rise', 19.25),
      flag('m-4', 1, 1, 'absolute', 50),
    ]);
    // A dispatch of bess-1 two hours ago (at); the pipeline checks it.
    const client = await mqtt.connectAsync(testMqttUrl(g));
    await client.publishAsync(
      'gridstream/v1/dispatch/bess-1',
      JSON.stringify({
        event_id: '5d1e0c2a-0000-4000-8000-000000000001',
        asset_id: 'bess-1',
        dispatch_time: iso(at),
        delivery_period_start: iso(at + 15 * 60_000),
        target_power: { amount: '-0.250', unit: 'MW' },
      }),
      { qos: 1 },
    );
    await client.endAsync();
    // 502 commands of bess-c, one a minute (written as the sink would, unchecked).
    await g.edges.warehouse.insert(
      'dispatches',
      Array.from({ length: 502 }, (_, k) =>
        dispatchRow({
          event_id: `5d1e0c2a-0000-4000-8000-${String(k).padStart(12, '0')}`,
          source: null,
          published_at: null,
          asset_id: 'bess-c',
          dispatch_time: at - k * 60_000,
          delivery_period_start: slotStart(at - k * 60_000) + 15 * 60_000,
          target_power: { amount: '5', unit: 'kW' },
          nominal_power: null,
          power_imbalance: null,
          soc_imbalance: null,
          received_at: at,
          action: 'dispatch',
        }),
      ),
    );
    await g.pipeline.settle();
  }, 120_000);
  afterAll(() => g?.stop());

  it("lists the DT's meters with each leg's current days and flags, as the tables hold them", async () => {
    const { status, body } = await get('/v1/dt/dt-a/meters');
    expect(status).toBe(200);
    const stored = await g.edges.warehouse.query<Record<string, unknown>>(
      `SELECT meter_id, leg, toString(day) AS day, median_mohm, stderr_mohm, event_count, is_final
       FROM impedance_daily FINAL WHERE meter_id = 'm-1' ORDER BY leg, day`,
    );
    expect(stored.map((r) => r.median_mohm)).toEqual([42.375, 43.0625, 88.5]);
    const day = (r: Record<string, unknown>) => ({
      day: r.day,
      median_mohm: r.median_mohm,
      stderr_mohm: r.stderr_mohm,
      event_count: Number(r.event_count),
      is_final: r.is_final === true || r.is_final === 'true',
    });
    expect(body).toEqual({
      dt_id: 'dt-a',
      from: expect.any(String),
      to: expect.any(String),
      meters: [
        {
          meter_id: 'm-1',
          service_point_id: 'SP-m-1',
          legs: [
            { leg: 1, latest_median_mohm: 43.0625, days: stored.slice(0, 2).map(day), flags: [] },
            {
              leg: 2,
              latest_median_mohm: 88.5,
              days: stored.slice(2).map(day),
              flags: [
                { day: dayText(2), kind: 'absolute', median_mohm: 88.5, reference_mohm: 60.5 },
                { day: dayText(2), kind: 'peer_rise', median_mohm: 88.5, reference_mohm: 60.5 },
              ],
            },
          ],
          flag_count: 2,
        },
        {
          meter_id: 'm-2',
          service_point_id: 'SP-m-2',
          legs: [
            {
              leg: 1,
              latest_median_mohm: 19.25,
              days: [
                { day: dayText(1), median_mohm: 19.25, stderr_mohm: 0.625, event_count: 11, is_final: false },
              ],
              flags: [{ day: dayText(1), kind: 'own_rise', median_mohm: 19.25, reference_mohm: 60.5 }],
            },
          ],
          flag_count: 1,
        },
        { meter_id: 'm-3', service_point_id: 'SP-m-3', legs: [], flag_count: 0 },
      ],
      flagged_meters: 2,
    });
    expect(Date.parse(body.to as string) - Date.parse(body.from as string)).toBe(30 * DAY_MS);
    // A range of days before the flags: m-2's old day only, no flags; every meter still listed.
    const old = await get(
      `/v1/dt/dt-a/meters?from=${iso(today - 41 * DAY_MS)}&to=${iso(today - 39 * DAY_MS)}`,
    );
    expect(old.body).toMatchObject({
      meters: [
        { meter_id: 'm-1', legs: [], flag_count: 0 },
        { meter_id: 'm-2', legs: [{ leg: 1, latest_median_mohm: 12.5, flags: [] }], flag_count: 0 },
        { meter_id: 'm-3', legs: [] },
      ],
      flagged_meters: 0,
    });
  });

  it("lists the DT's assets and their dispatches, each as GET /v1/dispatches gives it, with its check", async () => {
    const { status, body } = await get('/v1/dt/dt-a/dispatches');
    expect(status).toBe(200);
    expect(body.assets).toEqual([{ asset_id: 'bess-1', nominal_kw: 2000 }]);
    expect(body.truncated).toBe(false);
    const dispatches = body.dispatches as Body[];
    expect(dispatches).toHaveLength(1);
    expect(dispatches[0]).toMatchObject({
      event_id: '5d1e0c2a-0000-4000-8000-000000000001',
      asset_id: 'bess-1',
      action: 'dispatch',
      target_power: { amount: '-0.250', unit: 'MW' },
      check: { dt_id: 'dt-a', requested_kw: expect.any(Number), verdict: expect.any(String) },
    });
    const history = await get(`/v1/dispatches?asset_ids=bess-1&from=${body.from}&to=${body.to}`);
    expect(dispatches).toEqual((history.body as { dispatches: Body[] }).dispatches);
    // dt-c: the 500 newest of its 502, oldest first.
    const many = (await get('/v1/dt/dt-c/dispatches')).body;
    expect(many).toMatchObject({ assets: [{ asset_id: 'bess-c', nominal_kw: null }], truncated: true });
    const times = (many.dispatches as Body[]).map((d) => Date.parse(d.dispatch_time as string));
    expect(times).toHaveLength(500);
    expect(times[0]).toBe(at - 499 * 60_000);
    expect(times.at(-1)).toBe(at);
    // dt-b has no assets.
    expect((await get('/v1/dt/dt-b/dispatches')).body).toMatchObject({ assets: [], dispatches: [] });
  });

  it("refuses another tenant's key and an unknown DT (404)", async () => {
    for (const route of ['meters', 'dispatches']) {
      expect((await get(`/v1/dt/dt-a/${route}`, OTHER_TENANT_KEY)).status).toBe(404);
      expect((await get(`/v1/dt/dt-other/${route}`)).status).toBe(404);
      expect((await get(`/v1/dt/dt-x/${route}`)).status).toBe(404);
      expect((await get(`/v1/dt/dt-other/${route}`, OTHER_TENANT_KEY)).status).toBe(200);
      expect((await get(`/v1/dt/dt-a/${route}?days=0`)).status).toBe(400);
    }
  });
});
