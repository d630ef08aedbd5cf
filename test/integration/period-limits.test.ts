import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, SLOT_MS, iso } from '../../core/time.js';
import { dtOperatingEnvelopeRow } from '../../io/warehouse/rows.js';
import { operatingEnvelope } from '../support/records.js';
import {
  OTHER_TENANT_KEY,
  startTestGridstream,
  TEST_API_KEY,
  testMqttUrl,
} from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;
type Quantity = { amount: string; unit: string } | null;
interface Source {
  source: string;
  power_charge: Quantity;
  power_discharge: Quantity;
  energy_low: Quantity;
  energy_high: Quantity;
  trading_locked: boolean | null;
  created_at: string;
  updated_at: string;
  network?: { dt_id: string; share: number; basis: string; envelope_issued_at: string };
}
interface Period {
  asset_id: string;
  start_time: string;
  end_time: string;
  delivery_day: string;
  computed_limits: Omit<Source, 'source' | 'created_at' | 'updated_at'> & {
    binding: Record<string, string | null>;
  };
  sources: Source[];
}

// A day far ahead, so that no envelope the pipeline issues of its own is newer than the ones stored here.
const D = Date.UTC(2030, 0, 7);
const at = (h: number, m = 0, day = 0) => D + day * DAY_MS + h * 3_600_000 + m * 60_000;
const PATH = '/v1/assets/period-limits';

// dt-a (default) has bess-1 (30 kW) and bess-2 (10 kW) behind it: bess-1 gets 3/4 of dt-a's headroom. dt-b has
// pv-1 and pv-2, one without nominal power: equal shares. dt-o belongs to utility-b.
const topology = {
  transformers: [transformer('dt-a'), transformer('dt-b'), transformer('dt-o', { tenant: 'utility-b' })],
  meters: [meter('m-a', 'dt-a'), meter('m-b', 'dt-b'), meter('m-o', 'dt-o')],
  assets: [
    { asset_id: 'bess-1', dt_id: 'dt-a', meter_id: null, asset_type: 'BESS', nominal_kw: 30 },
    { asset_id: 'bess-2', dt_id: 'dt-a', meter_id: null, asset_type: 'BESS', nominal_kw: 10 },
    { asset_id: 'pv-1', dt_id: 'dt-b', meter_id: null, asset_type: 'PV', nominal_kw: 5 },
    { asset_id: 'pv-2', dt_id: 'dt-b', meter_id: null, asset_type: 'PV', nominal_kw: null },
    { asset_id: 'bess-o', dt_id: 'dt-o', meter_id: null, asset_type: 'BESS', nominal_kw: 10 },
  ],
};

describe('asset period limits', () => {
  let g: Running;

  const call = async (method: string, path: string, body?: unknown, key = TEST_API_KEY) => {
    const res = await fetch(`${g.url}${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const patch = (body: unknown, key?: string) => call('PATCH', PATH, body, key);
  const read = async (assets: string, from: number, to: number, extra = '') => {
    const { status, body } = await call(
      'GET',
      `${PATH}?asset_ids=${assets}&from=${iso(from)}&to=${iso(to)}&limit=1000${extra}`,
    );
    expect(status).toBe(200);
    return body as { limits: Period[]; total: number };
  };
  const period = async (asset: string, start: number) => {
    const { limits } = await read(asset, start, start + SLOT_MS);
    expect(limits).toHaveLength(1);
    return limits[0]!;
  };
  const sourceOf = (p: Period, source: string) => p.sources.find((s) => s.source === source);
  const issue = (dt: string, issuedAt: number, importKw: number, exportKw: number) =>
    g.edges.warehouse.insert(
      'dt_operating_envelopes',
      Array.from({ length: 96 }, (_, k) =>
        dtOperatingEnvelopeRow(
          operatingEnvelope(dt, D + k * SLOT_MS, issuedAt, { import_kw: importKw, export_kw: exportKw }),
        ),
      ),
    );

  beforeAll(async () => {
    g = await startTestGridstream();
    await g.pipeline.loadTopology(topology, 'period limits test');
    // dt-a's newest issue: 40 kW more import and 80 kW more export in every slot of day D.
    await issue('dt-a', D - SLOT_MS, 40, 80);
    await issue('dt-b', D - SLOT_MS, 40, 80);
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
  });

  it("upserts the asset-and-dispatch interface's sample request into 15-minute periods, with units converted", async () => {
    // The interface's sample body, every field as it gives them, with an asset, a window and amounts of ours.
    const { status, body } = await patch({
      limits: [
        {
          asset_id: 'bess-1',
          start_time: iso(at(8)),
          end_time: iso(at(9)),
          recurrent: false,
          source: 'REPORTED',
          power_charge: { amount: -0.02, unit: 'MW' },
          power_discharge: { amount: 0.1, unit: 'MW' },
          energy_low: { amount: 0, unit: 'MW' },
          energy_high: { amount: 0.2, unit: 'MW' },
          trading_locked: true,
        },
      ],
    });
    expect(status).toBe(200);
    expect(body).toEqual({ periods: 4 });
    const { limits } = await read('bess-1', at(8), at(9), '&sources=REPORTED');
    expect(limits.map((p) => p.start_time)).toEqual([at(8), at(8, 15), at(8, 30), at(8, 45)].map(iso));
    const first = limits[0]!;
    expect(first.end_time).toBe(iso(at(8, 15)));
    expect(first.delivery_day).toBe('2030-01-07');
    expect(first.sources).toEqual([
      expect.objectContaining({
        source: 'REPORTED',
        power_charge: { amount: '-20', unit: 'kW' },
        power_discharge: { amount: '100', unit: 'kW' },
        energy_low: { amount: '0', unit: 'kWh' },
        energy_high: { amount: '200', unit: 'kWh' },
        trading_locked: true,
      }),
    ]);
  });

  it('expands a recurring time-of-day window over every day of its date range', async () => {
    const { status, body } = await patch({
      limits: [
        {
          asset_id: 'bess-1',
          source: 'OPERATIONS',
          start_time: iso(at(8)),
          end_time: iso(at(8, 30)),
          recurrent: true,
          valid_from: '2030-01-07',
          valid_until: '2030-01-09',
          power_charge: { amount: -10, unit: 'kW' },
        },
      ],
    });
    expect(status).toBe(200);
    expect(body).toEqual({ periods: 6 });
    const { limits, total } = await read('bess-1', D, D + 3 * DAY_MS, '&sources=OPERATIONS');
    expect(total).toBe(6);
    expect(limits.map((p) => p.start_time)).toEqual(
      [0, 1, 2].flatMap((d) => [iso(at(8, 0, d)), iso(at(8, 15, d))]),
    );
    for (const p of limits)
      expect(sourceOf(p, 'OPERATIONS')!.power_charge).toEqual({ amount: '-10', unit: 'kW' });
  });

  it('updates partially: a field left out keeps its value, created_at stays', async () => {
    const before = sourceOf(await period('bess-1', at(8)), 'REPORTED')!;
    const { status } = await patch({
      limits: [
        {
          asset_id: 'bess-1',
          source: 'REPORTED',
          start_time: iso(at(8)),
          end_time: iso(at(8, 15)),
          power_discharge: { amount: 50_000, unit: 'W' },
          energy_high: null,
        },
      ],
    });
    expect(status).toBe(200);
    const after = sourceOf(await period('bess-1', at(8)), 'REPORTED')!;
    expect(after.power_discharge).toEqual({ amount: '50', unit: 'kW' });
    expect(after.power_charge).toEqual({ amount: '-20', unit: 'kW' });
    expect(after.energy_high).toEqual({ amount: '200', unit: 'kWh' });
    expect(after.trading_locked).toBe(true);
    expect(after.created_at).toBe(before.created_at);
    expect(Date.parse(after.updated_at)).toBeGreaterThanOrEqual(Date.parse(before.updated_at));
  });

  it('computes the most restrictive limits with the source that binds, NETWORK included', async () => {
    // 08:00: REPORTED -20/50 kW, OPERATIONS -10 kW, NETWORK 3/4 of dt-a's 40/80 kW: -30/60 kW.
    const p = await period('bess-1', at(8));
    expect(p.sources.map((s) => s.source)).toEqual(['REPORTED', 'OPERATIONS', 'NETWORK']);
    const network = sourceOf(p, 'NETWORK')!;
    expect(network.power_charge).toEqual({ amount: '-30', unit: 'kW' });
    expect(network.power_discharge).toEqual({ amount: '60', unit: 'kW' });
    expect(network.network).toMatchObject({ dt_id: 'dt-a', share: 0.75, basis: 'nominal_kw' });
    expect(p.computed_limits).toMatchObject({
      power_charge: { amount: '-10', unit: 'kW' },
      power_discharge: { amount: '50', unit: 'kW' },
      energy_low: { amount: '0', unit: 'kWh' },
      energy_high: { amount: '200', unit: 'kWh' },
      trading_locked: true,
      binding: {
        power_charge: 'OPERATIONS',
        power_discharge: 'REPORTED',
        energy_low: 'REPORTED',
        energy_high: 'REPORTED',
        trading_locked: 'REPORTED',
      },
    });
    // 08:45: REPORTED allows 100 kW of export, the network 60: the network binds.
    const later = await period('bess-1', at(8, 45));
    expect(later.computed_limits.power_discharge).toEqual({ amount: '60', unit: 'kW' });
    expect(later.computed_limits.binding.power_discharge).toBe('NETWORK');
    // A DT with an asset without nominal power shares equally.
    const pv = sourceOf(await period('pv-1', at(12)), 'NETWORK')!;
    expect(pv.network).toMatchObject({ dt_id: 'dt-b', share: 0.5, basis: 'equal' });
    expect(pv.power_discharge).toEqual({ amount: '40', unit: 'kW' });
  });

  it("shrinks the NETWORK limit when the DT's newer envelope issue shrinks", async () => {
    await issue('dt-a', D, 8, 20);
    const p = await period('bess-1', at(8, 45));
    expect(sourceOf(p, 'NETWORK')!.network!.envelope_issued_at).toBe(iso(D));
    expect(sourceOf(p, 'NETWORK')!.power_discharge).toEqual({ amount: '15', unit: 'kW' });
    expect(p.computed_limits.power_discharge).toEqual({ amount: '15', unit: 'kW' });
    expect(p.computed_limits.binding.power_discharge).toBe('NETWORK');
    // At 08:00 the network's import limit, 3/4 of 8 kW, is now tighter than OPERATIONS' -10 kW.
    const eight = await period('bess-1', at(8));
    expect(eight.computed_limits.power_charge).toEqual({ amount: '-6', unit: 'kW' });
    expect(eight.computed_limits.binding.power_charge).toBe('NETWORK');
  });

  it("deletes one source's range: its limits cleared, its lock kept, other sources untouched", async () => {
    const q = `asset_id=bess-1&source=REPORTED&start_time=${iso(at(8))}&end_time=${iso(at(8, 30))}`;
    const { status, body } = await call('DELETE', `${PATH}?${q}`);
    expect(status).toBe(200);
    expect(body).toEqual({ cleared: 2, removed: 0 });
    const p = await period('bess-1', at(8));
    expect(sourceOf(p, 'REPORTED')).toMatchObject({
      power_charge: null,
      power_discharge: null,
      energy_low: null,
      energy_high: null,
      trading_locked: true,
    });
    expect(sourceOf(p, 'OPERATIONS')!.power_charge).toEqual({ amount: '-10', unit: 'kW' });
    expect(sourceOf(await period('bess-1', at(8, 30)), 'REPORTED')!.power_discharge).toEqual({
      amount: '100',
      unit: 'kW',
    });
    // Unlocked, the 08:00 row holds nothing and is gone.
    await patch({
      limits: [
        {
          asset_id: 'bess-1',
          source: 'REPORTED',
          start_time: iso(at(8)),
          end_time: iso(at(8, 15)),
          trading_locked: false,
        },
      ],
    });
    expect(sourceOf(await period('bess-1', at(8)), 'REPORTED')).toBeUndefined();
  });

  it("refuses another tenant's asset with 403 and an asset the topology does not place with 404", async () => {
    const entry = {
      asset_id: 'bess-o',
      source: 'CUSTOMER',
      start_time: iso(at(10)),
      end_time: iso(at(11)),
      power_discharge: { amount: 1, unit: 'kW' },
    };
    expect((await patch({ limits: [entry] })).status).toBe(403);
    expect((await call('GET', `${PATH}?asset_ids=bess-o&from=${iso(D)}&to=${iso(D + DAY_MS)}`)).status).toBe(
      403,
    );
    expect((await patch({ limits: [entry] }, OTHER_TENANT_KEY)).status).toBe(200);
    expect(
      (
        await call(
          'GET',
          `${PATH}?asset_ids=bess-1&from=${iso(D)}&to=${iso(D + DAY_MS)}`,
          undefined,
          OTHER_TENANT_KEY,
        )
      ).status,
    ).toBe(403);
    expect((await patch({ limits: [{ ...entry, asset_id: 'nowhere' }] })).status).toBe(404);
  });

  it('refuses bad units, a wrong sign, NETWORK, windows off the quarter hour and oversized reads with 400', async () => {
    const entry = {
      asset_id: 'bess-1',
      source: 'CUSTOMER',
      start_time: iso(at(10)),
      end_time: iso(at(11)),
    };
    for (const bad of [
      { power_charge: { amount: -1, unit: 'MWh' } },
      { power_discharge: { amount: 1, unit: 'kVA' } },
      { energy_low: { amount: 1, unit: 'J' } },
      { power_discharge: { amount: 'lots', unit: 'kW' } },
      { power_charge: { amount: 5, unit: 'kW' } },
      { source: 'NETWORK' },
      { start_time: iso(at(10, 5)) },
      { delivery_day: '2030-01-07' },
      // Found by the OpenAPI fuzzer, each a 500 before: an amount without its unit, a time before 1970.
      { power_discharge: { amount: 1 } },
      { start_time: '1969-12-31T23:45:00Z', end_time: '1970-01-01T00:00:00Z' },
    ]) {
      const { status } = await patch({ limits: [{ ...entry, ...bad }] });
      expect(status, JSON.stringify(bad)).toBe(400);
    }
    const q = `asset_id=bess-1&source=NETWORK&start_time=${iso(at(8))}&end_time=${iso(at(9))}`;
    expect((await call('DELETE', `${PATH}?${q}`)).status).toBe(400);
    const before1970 = `asset_id=bess-1&source=CUSTOMER&start_time=0173-01-07T13:45:00Z&end_time=${iso(at(9))}`;
    expect((await call('DELETE', `${PATH}?${before1970}`)).status).toBe(400);
    // Reads: an unknown source, a range over 7 days, more than 1,000 asset-days.
    const range = (days: number) => `from=${iso(D)}&to=${iso(D + days * DAY_MS)}`;
    expect((await call('GET', `${PATH}?asset_ids=bess-1&${range(1)}&sources=GRID`)).status).toBe(400);
    expect((await call('GET', `${PATH}?asset_ids=bess-1&${range(8)}`)).status).toBe(400);
    const many = Array.from({ length: 200 }, (_, i) => `a-${i}`).join(',');
    expect((await call('GET', `${PATH}?asset_ids=${many}&${range(6)}`)).status).toBe(400);
    expect((await call('GET', `${PATH}?asset_ids=${many}&${range(5)}`)).status).toBe(200);
  });

  it("judges dispatches against the asset's computed limits: its NETWORK share of the envelope in force, a stored source, a lock", async () => {
    // dt-a's issues: 40 kW import / 80 kW export made at D - 15 min, 8 / 20 kW made at D (the test above).
    // bess-1 (3/4 of dt-a) gets an OPERATIONS export limit of 25 kW at 10:00; bess-2 (1/4) is locked at 11:00.
    for (const entry of [
      {
        asset_id: 'bess-1',
        source: 'OPERATIONS',
        start: at(10),
        power_discharge: { amount: 25, unit: 'kW' },
      },
      { asset_id: 'bess-2', source: 'CUSTOMER', start: at(11), trading_locked: true },
    ]) {
      const { start, ...rest } = entry;
      const { status } = await patch({
        limits: [{ ...rest, start_time: iso(start), end_time: iso(start + SLOT_MS) }],
      });
      expect(status).toBe(200);
    }
    const beforeShrink = D - 5 * 60_000; // the 40 / 80 kW issue is in force
    const afterShrink = at(9); // the 8 / 20 kW issue is in force
    const dispatches = [
      // 30 kW: within dt-a's 80 kW of export headroom, beyond bess-2's quarter of it (20 kW).
      { asset: 'bess-2', time: beforeShrink, delivery: at(10), kw: '30' },
      { asset: 'bess-2', time: beforeShrink, delivery: at(10), kw: '15' },
      // 40 kW: within bess-1's NETWORK share (60 kW), beyond OPERATIONS' 25 kW.
      { asset: 'bess-1', time: beforeShrink, delivery: at(10), kw: '40' },
      // After the shrink, bess-1's NETWORK share of the 20 kW is 15 kW, below OPERATIONS: NETWORK binds.
      { asset: 'bess-1', time: afterShrink, delivery: at(10), kw: '20' },
      // Charging 5 kW against 3/4 of 8 kW of import headroom.
      { asset: 'bess-1', time: afterShrink, delivery: at(10, 15), kw: '-5' },
      { asset: 'bess-2', time: afterShrink, delivery: at(11), kw: '1' },
    ];
    const client = await mqtt.connectAsync(testMqttUrl(g));
    for (const [k, d] of dispatches.entries())
      await client.publishAsync(
        `gridstream/v1/dispatch/${d.asset}`,
        JSON.stringify({
          event_id: `5e1f0000-0000-4000-8000-00000000000${k}`,
          asset_id: d.asset,
          dispatch_time: iso(d.time),
          delivery_period_start: iso(d.delivery),
          target_power: { amount: d.kw, unit: 'kW' },
        }),
        { qos: 1 },
      );
    await client.endAsync();
    await g.pipeline.settle();

    const { status, body } = await call(
      'GET',
      `/v1/dispatches?asset_ids=bess-1,bess-2&delivery_day=2030-01-07`,
    );
    expect(status).toBe(200);
    const checks = new Map(
      (body.dispatches as Array<{ event_id: string; check: Record<string, unknown> }>).map((d) => [
        d.event_id,
        d.check,
      ]),
    );
    const checkOf = (k: number) => checks.get(`5e1f0000-0000-4000-8000-00000000000${k}`);
    expect(checkOf(0)).toMatchObject({
      verdict: 'exceeds',
      requested_kw: 30,
      limit_kw: 20,
      limit_source: 'NETWORK',
      network_share: 0.25,
      headroom_kw: 80,
      envelope_issued_at: iso(D - SLOT_MS),
    });
    expect(checkOf(1)).toMatchObject({ verdict: 'within', limit_kw: 20, limit_source: 'NETWORK' });
    expect(checkOf(2)).toMatchObject({
      verdict: 'exceeds',
      limit_kw: 25,
      limit_source: 'OPERATIONS',
      headroom_kw: 80,
    });
    expect(checkOf(3)).toMatchObject({
      verdict: 'exceeds',
      limit_kw: 15,
      limit_source: 'NETWORK',
      headroom_kw: 20,
      envelope_issued_at: iso(D),
    });
    expect(checkOf(4)).toMatchObject({ verdict: 'within', limit_kw: -6, limit_source: 'NETWORK' });
    expect(checkOf(5)).toMatchObject({ verdict: 'locked', limit_kw: null, limit_source: 'CUSTOMER' });
    // GET answers bess-1's 10:00 period with the same computation (the newest issue's share).
    const p = await period('bess-1', at(10));
    expect(p.computed_limits.power_discharge).toEqual({ amount: '15', unit: 'kW' });
    expect(p.computed_limits.binding.power_discharge).toBe('NETWORK');
  });
});
