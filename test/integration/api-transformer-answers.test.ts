import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../api/auth.js';
import { buildApi } from '../../api/server.js';
import { SLOT_MS, slotStart } from '../../core/time.js';
import { dtOperatingEnvelopeRow, envelopeRow } from '../../io/warehouse/rows.js';
import { operatingEnvelope, sampleEnvelope } from '../support/records.js';
import { startTestGridstream, TEST_API_KEY } from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;
type Row = Record<string, unknown>;

// Bangalore: the transformer-stress interface's sample DT. dt-blr names no zone; dt-dxb, at the same place, names
// Asia/Dubai; dt-bare has a nameplate and no meters (no AMI: the stress stage never issues it an envelope).
const BLR = { latitude: 12.97, longitude: 77.59, feeder_id: 'fdr-blr' };
const topology = {
  transformers: [
    transformer('dt-blr', BLR),
    transformer('dt-dxb', { ...BLR, timezone: 'Asia/Dubai' }),
    transformer('dt-bare', { ...BLR, rated_kva: 160 }),
  ],
  meters: [meter('m-1', 'dt-blr'), meter('m-2', 'dt-dxb')],
};

/** UTC minute of the day of an ISO instant. */
const utcMinute = (at: string) => (Date.parse(at) % 86_400_000) / 60_000;

describe('transformer answers: time zones, modelled-only DTs, tiers', () => {
  let g: Running;
  const issuedAt = slotStart(Date.now());

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${g.url}${path}`, {
      method: 'POST',
      headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Row };
  };

  beforeAll(async () => {
    // No readings are published: the pipeline issues no envelope of its own, only the rows stored here count.
    g = await startTestGridstream();
    await g.pipeline.loadTopology(topology, 'transformer answers');
    // A newest issue of 96 slots for dt-blr and dt-dxb with room for anything (ami-direct), forecast from the
    // slot before issuedAt.
    await g.edges.warehouse.insert(
      'dt_operating_envelopes',
      ['dt-blr', 'dt-dxb'].flatMap((dt) =>
        Array.from({ length: 96 }, (_, k) =>
          dtOperatingEnvelopeRow(
            operatingEnvelope(dt, issuedAt + k * SLOT_MS, issuedAt, {
              import_kw: 10_000,
              export_kw: 10_000,
              import_slot_kw: 10_000,
              export_slot_kw: 10_000,
              data_quality: 'ami_direct',
            }),
          ),
        ),
      ),
    );
    // dt-blr's load envelopes: the slot the issue was forecast from (93.5% coverage, ami-direct) and a newer one
    // (50%, ami-imputed) the stress stage has not issued from yet.
    const slot = (at: number, coverage: number, quality: 'ami_direct' | 'ami_imputed') =>
      envelopeRow({
        ...sampleEnvelope,
        dt_id: 'dt-blr',
        slot_start: at,
        ami_coverage_pct: coverage,
        data_quality: quality,
      });
    await g.edges.warehouse.insert('envelopes', [
      slot(issuedAt - SLOT_MS, 93.5, 'ami_direct'),
      slot(issuedAt, 50, 'ami_imputed'),
    ]);
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
  });

  it('judges the hosting-capacity sample request (Bangalore DT, EV 300 kW, 23:00-05:00) in Asia/Kolkata when it names no zone', async () => {
    const { status, body } = await post('/v1/dt/hosting-capacity', {
      dt_id: 'dt-blr',
      additions: [{ type: 'ev', kw: 300, schedule: '23:00-05:00' }],
    });
    expect(status).toBe(200);
    expect(body.timezone).toBe('Asia/Kolkata');
    // 23:00-05:00 India time is 17:30-23:30 UTC: 24 slots of 300 kW, 1,800 kWh.
    const slots = body.slots as Array<{ slot_start: string; addition_kw: number }>;
    const charging = slots.filter((s) => s.addition_kw > 0);
    expect(charging).toHaveLength(24);
    for (const s of charging) {
      expect(s.addition_kw).toBe(300);
      expect(utcMinute(s.slot_start)).toBeGreaterThanOrEqual(17 * 60 + 30);
      expect(utcMinute(s.slot_start)).toBeLessThan(23 * 60 + 30);
    }
    expect(body.requested_kwh).toBe(1800);
    expect(body.verdict).toBe('approve');
  });

  it("reads schedules in the topology's zone, the request's above it, and GRIDSTREAM_TIMEZONE for DTs without one", async () => {
    const firstCharging = (body: Row) =>
      utcMinute(
        (body.slots as Array<{ slot_start: string; addition_kw: number }>)
          .filter((s) => s.addition_kw > 0)
          .map((s) => s.slot_start)
          .sort((a, b) => utcMinute(a) - utcMinute(b))[0]!,
      );
    const ev = { type: 'ev', kw: 10, schedule: '08:00-09:00' };
    const dubai = await post('/v1/dt/hosting-capacity', { dt_id: 'dt-dxb', additions: [ev] });
    expect(dubai.body.timezone).toBe('Asia/Dubai');
    expect(firstCharging(dubai.body)).toBe(4 * 60); // 08:00 in Dubai (+4) is 04:00 UTC
    const asked = await post('/v1/dt/hosting-capacity', {
      dt_id: 'dt-dxb',
      additions: [ev],
      timezone: 'UTC',
    });
    expect(asked.body.timezone).toBe('UTC');
    expect(firstCharging(asked.body)).toBe(8 * 60);

    const app = await buildApi({
      warehouse: g.edges.warehouse,
      keys: parseApiKeys(TEST_API_KEY),
      registry: g.metrics.registry,
      retentionDays: 395,
      timeZone: 'Europe/Berlin',
    });
    try {
      const inject = (dt: string) =>
        app.inject({
          method: 'POST',
          url: '/v1/dt/hosting-capacity',
          headers: { 'x-api-key': TEST_API_KEY },
          payload: { dt_id: dt, additions: [ev] },
        });
      expect((await inject('dt-blr')).json<Row>().timezone).toBe('Europe/Berlin');
      expect((await inject('dt-dxb')).json<Row>().timezone).toBe('Asia/Dubai');
      const listed = (
        await app.inject({ method: 'GET', url: '/v1/dt', headers: { 'x-api-key': TEST_API_KEY } })
      ).json<{ transformers: Row[] }>().transformers;
      expect(Object.fromEntries(listed.map((t) => [t.dt_id, t.timezone]))).toEqual({
        'dt-bare': 'Europe/Berlin',
        'dt-blr': 'Europe/Berlin',
        'dt-dxb': 'Asia/Dubai',
      });
    } finally {
      await app.close();
    }
  });

  it('answers a DT with a nameplate and no meters from a modelled envelope, tier modelled-only, instead of 409', async () => {
    const hosting = await post('/v1/dt/hosting-capacity', {
      dt_id: 'dt-bare',
      additions: [{ type: 'ev', kw: 20, schedule: '23:00-05:00' }],
    });
    expect(hosting.status).toBe(200);
    expect(hosting.body).toMatchObject({
      dt_id: 'dt-bare',
      data_quality: 'modelled-only',
      ami_coverage_pct: 0,
      tier_confidence_band: { low: 0.4, high: 0.65 },
      envelope_source: 'modelled',
      verdict: 'defer-to-DERMS',
      timezone: 'Asia/Kolkata',
    });
    expect(hosting.body.reason).toMatch(/modelled-only/);
    expect(hosting.body.reason).toMatch(/160 kVA nameplate × the standard residential load shape/);
    const slots = hosting.body.slots as Array<{ headroom_before: { import_kw: number } }>;
    expect(slots).toHaveLength(96);
    // A 160 kVA DT at a residential load of at most 0.55 of its rating has room to import, within 10 x rating.
    for (const s of slots) {
      expect(s.headroom_before.import_kw).toBeGreaterThan(0);
      expect(s.headroom_before.import_kw).toBeLessThan(1600);
    }

    const roof = await post('/v1/rooftop/sanction-check', { dt_id: 'dt-bare', pv_kwp: 5 });
    expect(roof.status).toBe(200);
    expect(roof.body).toMatchObject({
      data_quality: 'modelled-only',
      ami_coverage_pct: 0,
      recommendation: 'defer-to-DERMS',
    });
    // A sanctioning desk that will not act on modelled data is refused, naming the field.
    const refused = await post('/v1/rooftop/sanction-check', {
      dt_id: 'dt-bare',
      pv_kwp: 5,
      min_data_quality: 'ami-imputed',
    });
    expect(refused.status).toBe(422);
  });

  it('leaves the DTs below min_data_quality out of an EV site screen, modelled ones included', async () => {
    const screen = (extra: Row) =>
      post('/v1/ev/site-screen', {
        latitude: BLR.latitude,
        longitude: BLR.longitude,
        station_kw: 10,
        dwell: { schedule: '23:00-05:00' },
        ...extra,
      });
    const all = await screen({});
    expect(all.status).toBe(200);
    const byDt = new Map((all.body.candidates as Row[]).map((c) => [c.dt_id, c]));
    expect([...byDt.keys()].sort()).toEqual(['dt-bare', 'dt-blr', 'dt-dxb']);
    expect(byDt.get('dt-bare')).toMatchObject({
      status: 'screened',
      envelope_source: 'modelled',
      data_quality: 'modelled-only',
      timezone: 'Asia/Kolkata',
    });
    expect(byDt.get('dt-dxb')!.timezone).toBe('Asia/Dubai');
    expect((all.body.dwell as Row).timezone).toBeNull();

    for (const minimum of ['ami-direct', 'ami-imputed']) {
      const strict = await screen({ min_data_quality: minimum });
      expect((strict.body.candidates as Row[]).map((c) => c.dt_id).sort()).toEqual(['dt-blr', 'dt-dxb']);
    }
  });

  it("declares the tier's confidence band apart from the envelope's confidence, tier and coverage from the slot the issue was forecast from", async () => {
    const { body } = await post('/v1/dt/hosting-capacity', {
      dt_id: 'dt-blr',
      additions: [{ type: 'heat_pump', kw: 5 }],
    });
    expect(body).toMatchObject({
      data_quality: 'ami-direct',
      ami_coverage_pct: 93.5,
      confidence: 0.95,
      tier_confidence_band: { low: 0.85, high: 0.95 },
      envelope_source: 'stored',
      envelope_issued_at: new Date(issuedAt).toISOString(),
    });
    const feeder = await post('/v1/feeder/stress', { feeder_id: 'fdr-blr' });
    expect(feeder.status).toBe(200);
    const dts = new Map((feeder.body.transformers as Row[]).map((t) => [t.dt_id, t]));
    expect(dts.get('dt-blr')).toMatchObject({
      data_quality: 'ami-direct',
      ami_coverage_pct: 93.5,
      timezone: 'Asia/Kolkata',
    });
    expect(dts.get('dt-dxb')!.timezone).toBe('Asia/Dubai');
    // The feeder's DT without AMI is forecast from a modelled issue, not left out as no_envelope.
    expect(dts.get('dt-bare')).toMatchObject({
      status: 'forecast',
      envelope_source: 'modelled',
      data_quality: 'modelled-only',
      ami_coverage_pct: 0,
    });
    expect(dts.get('dt-bare')!.slots).toHaveLength(96);
    expect(feeder.body.data_quality).toBe('modelled-only');

    // The envelopes series declares the same pair: the forecast slot's, not the newer slot's 50% / ami-imputed.
    const series = await fetch(`${g.url}/v1/dt/dt-blr/envelopes`, { headers: { 'x-api-key': TEST_API_KEY } });
    expect(series.status).toBe(200);
    expect(await series.json()).toMatchObject({
      data_quality: 'ami-direct',
      ami_coverage_pct: 93.5,
      newest_issued_at: new Date(issuedAt).toISOString(),
    });
  });
});
