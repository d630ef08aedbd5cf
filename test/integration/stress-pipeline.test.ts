import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Gridstream } from '../../app/start-gridstream.js';
import { DAY_MS, SLOT_MS } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { decode } from '../../core/codec.js';
import { partitionFor } from '../../io/log/partitioner.js';
import { interleave } from '../../pipelines/stress-stage.js';
import { TOPICS } from '../../pipelines/log-topics.js';
import {
  DEFAULT_STRESS_CONFIG,
  initialStressState,
  slotLoad,
  stepStress,
  type DtOperatingEnvelope,
  type DtStress,
  type StressInput,
  type StressState,
} from '../../processors/stress/stress.js';
import { runSimulate, simulateTopology } from '../../simulator/command.js';
import { createSimulation } from '../../simulator/model.js';
import { parseSchedule } from '../../core/schedule.js';
import { judgeHosting, type LimitingFactor } from '../../processors/stress/hosting.js';
import type { DtEnvelope, WeatherObservation } from '../../schemas/types.gen.js';
import {
  OTHER_TENANT_KEY,
  startTestGridstream,
  TEST_API_KEY,
  testMqttUrl,
} from '../support/test-gridstream.js';

const START = Date.UTC(2026, 6, 1);
const RESTART = START + 2 * DAY_MS;
const END = START + 4 * DAY_MS;
const PARTITIONS = 4;
const OPTIONS = { seed: 11, transformers: 2, meters: 20, silentShare: 0 };

type Row = Record<string, unknown>;

/** Equal to 1e-9, NaN (no forecast) equal to NaN. */
const same = (a: number, b: number) => (Number.isNaN(a) ? Number.isNaN(b) : Math.abs(a - b) < 1e-9);

/**
 * The inputs the stage had: the final envelopes it used, from the log as they came, and the weather,
 * interleaved as the stage interleaves them. The table keeps one envelope per slot, but the stage may have
 * used another: after the restart the envelope stage re-emits the slots of its revision horizon with the same
 * version, imputed with the patterns then in force (docs/methods/load-envelope.md), and the stress stage skips
 * those it has processed. The stored row names the version it used and its net power tells the copy apart.
 */
async function usedInputs(
  warehouse: Warehouse,
  captured: DtEnvelope[],
  stress: Row[],
): Promise<StressInput[]> {
  const rows = new Map(stress.map((r) => [`${String(r.dt_id)}/${Number(r.ms)}`, r]));
  const used = new Map<string, DtEnvelope>();
  for (const e of captured) {
    const key = `${e.dt_id}/${e.slot_start}`;
    const row = rows.get(key);
    if (!e.is_final || used.has(key) || !row || e.version !== Number(row.version)) continue;
    if (Math.abs(slotLoad(e, DEFAULT_STRESS_CONFIG.powerFactor).p - Number(row.net_kw)) < 1e-9)
      used.set(key, e);
  }
  const weather = await warehouse.query<Row>(
    `SELECT station_id, toUnixTimestamp64Milli(ts) AS ms, ambient_c FROM weather FINAL ORDER BY ts, station_id`,
  );
  const observations: WeatherObservation[] = weather.map((w) => ({
    station_id: String(w.station_id),
    ts: Number(w.ms),
    ambient_c: Number(w.ambient_c),
    received_at: Number(w.ms),
  }));
  return interleave([...used.values()], observations);
}

/** Every envelope record on the log, read by a consumer group of the test's own (it holds them all). */
function captureEnvelopes(gridstream: Gridstream) {
  const consumer = gridstream.edges.log.consumer({
    group: 'test-capture',
    topics: [TOPICS.envelopes.name],
    fromBeginning: true,
  });
  return async (): Promise<DtEnvelope[]> => {
    const out: DtEnvelope[] = [];
    for (;;) {
      const records = await consumer.poll(10_000, 200);
      if (records.length === 0) break;
      out.push(...records.map((r) => decode('DtEnvelope', r.value)));
    }
    await consumer.close();
    return out;
  };
}

/** The pure processor on the same inputs, uninterrupted, one state per partition as the pipeline keeps them. */
function offline(inputs: StressInput[], partitions: number) {
  const states = new Map<number, StressState>();
  const stress: DtStress[] = [];
  const envelopes = new Map<string, DtOperatingEnvelope>();
  const topology = simulateTopology(OPTIONS);
  const partitionsOf = (input: StressInput): number[] => {
    if (input.type === 'transformer') return [partitionFor(input.transformer.dt_id, partitions)];
    if (input.type === 'envelope') return [partitionFor(input.envelope.dt_id, partitions)];
    // Weather goes to every partition with a DT on the station.
    const station = input.type === 'weather' ? input.observation.station_id : null;
    return [
      ...new Set(
        topology.transformers
          .filter((t) => t.weather_station_id === station)
          .map((t) => partitionFor(t.dt_id, partitions)),
      ),
    ];
  };
  for (const input of [
    ...topology.transformers.map((t) => ({
      type: 'transformer' as const,
      transformer: { ...t, topology_version: 1 },
    })),
    ...inputs,
  ])
    for (const partition of partitionsOf(input)) {
      const step = stepStress(states.get(partition) ?? initialStressState(), input, DEFAULT_STRESS_CONFIG);
      states.set(partition, step.state);
      for (const o of step.outputs) {
        if (o.type === 'stress') stress.push(o.row);
        // The newest issue of each slot, as the table keeps it.
        if (o.type === 'operating-envelope') envelopes.set(`${o.row.dt_id}/${o.row.slot_start}`, o.row);
      }
    }
  return { stress, envelopes };
}

describe('stress through the embedded pipeline, restarted half way', () => {
  // One data directory for both runs: the warehouse survives the restart, the in-process log and the states do not.
  const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-stress-'));
  let g: Gridstream;
  let beforeRestart: Row[];
  let expected: ReturnType<typeof offline>;
  let stress: Row[];

  const simulate = (gridstream: Gridstream, start: number, end: number) =>
    runSimulate({ ...OPTIONS, mqttUrl: testMqttUrl(gridstream), start, end, now: END });

  beforeAll(async () => {
    const first = await startTestGridstream({ dataDir, partitions: PARTITIONS });
    const captured: DtEnvelope[] = [];
    try {
      const capture = captureEnvelopes(first);
      await first.pipeline.loadTopology(simulateTopology(OPTIONS), 'stress');
      await simulate(first, START, RESTART);
      await first.pipeline.settle(180_000);
      captured.push(...(await capture()));
      beforeRestart = await first.edges.warehouse.query<Row>(
        `SELECT dt_id, toUnixTimestamp64Milli(slot_start) AS ms, loss_of_life_min FROM dt_stress FINAL ORDER BY dt_id, slot_start`,
      );
    } finally {
      await first.stop();
    }
    g = await startTestGridstream({ dataDir, partitions: PARTITIONS });
    const capture = captureEnvelopes(g);
    await simulate(g, RESTART, END);
    await g.pipeline.settle(180_000);
    captured.push(...(await capture()));
    stress = await g.edges.warehouse.query<Row>(
      `SELECT *, toUnixTimestamp64Milli(slot_start) AS ms FROM dt_stress FINAL ORDER BY dt_id, slot_start`,
    );
    expected = offline(await usedInputs(g.edges.warehouse, captured, stress), PARTITIONS);
  }, 600_000);

  afterAll(async () => {
    await g?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("stores every DT slot's stress row exactly as the uninterrupted processor computes it", () => {
    expect(beforeRestart.length).toBeGreaterThan(2 * 150);
    expect(stress.length).toBeGreaterThan(2 * 350);
    const want = new Map(expected.stress.map((r) => [`${r.dt_id}/${r.slot_start}`, r]));
    expect(stress.map((r) => `${String(r.dt_id)}/${Number(r.ms)}`)).toEqual([...want.keys()].sort());
    const probs: number[][] = [];
    for (const row of stress) {
      const w = want.get(`${String(row.dt_id)}/${Number(row.ms)}`)!;
      for (const field of [
        'net_kw',
        'load_factor',
        'ambient_c',
        'top_oil_c',
        'hot_spot_c',
        'peak_hot_spot_c',
        'ageing_rate',
        'loss_of_life_min',
      ] as const)
        expect(Number(row[field]), `${w.dt_id} ${new Date(w.slot_start).toISOString()} ${field}`).toBeCloseTo(
          w[field],
          9,
        );
      expect(row.ambient_source).toBe(w.ambient_source);
      expect(row.state_initialised).toBe(w.state_initialised);
      expect(row.thermal_exceeded).toBe(w.thermal_exceeded);
      expect(Number(row.forecast_lead_slots)).toBe(w.forecast_lead_slots);
      expect(row.thermal_stress_prob === null).toBe(w.thermal_stress_prob === null);
      probs.push([
        Number(row.thermal_stress_prob ?? NaN),
        w.thermal_stress_prob ?? NaN,
        Number(row.voltage_stress_prob ?? NaN),
        w.voltage_stress_prob ?? NaN,
      ]);
    }
    // The probabilities also depend on how far the station's weather had run ahead of the slot when it was
    // processed (docs/methods/stress-and-operating-envelopes.md); here it leads by the
    // envelopes' lateness, under a slot, as in the reference, and they agree but for the odd race.
    const differing = probs.filter(([got, want, gotV, wantV]) => !same(got!, want!) || !same(gotV!, wantV!));
    expect(differing.length).toBeLessThanOrEqual(0.05 * probs.length);
  });

  it('carries the loss of life across the restart: only the first slot of each DT starts a thermal state', () => {
    for (const dt of new Set(stress.map((r) => String(r.dt_id)))) {
      const rows = stress.filter((r) => r.dt_id === dt);
      expect(rows.filter((r) => r.state_initialised === true)).toHaveLength(1);
      const last = beforeRestart.filter((r) => r.dt_id === dt).at(-1)!;
      const next = rows.find((r) => Number(r.ms) === Number(last.ms) + SLOT_MS)!;
      expect(Number(next.loss_of_life_min)).toBeGreaterThan(Number(last.loss_of_life_min));
      for (let i = 1; i < rows.length; i++)
        expect(Number(rows[i]!.loss_of_life_min)).toBeGreaterThan(Number(rows[i - 1]!.loss_of_life_min));
    }
  });

  it('stores the operating envelope of the next 24 hours after every slot, the newest issue of each slot', async () => {
    const rows = await g.edges.warehouse.query<Row>(
      `SELECT dt_id, toUnixTimestamp64Milli(slot_start) AS ms, toUnixTimestamp64Milli(issued_at) AS issued,
              lead_slots, import_kw, export_kw, import_slot_kw
       FROM dt_operating_envelopes FINAL ORDER BY dt_id, slot_start`,
    );
    expect(rows.map((r) => `${String(r.dt_id)}/${Number(r.ms)}`)).toEqual(
      [...expected.envelopes.keys()].sort(),
    );
    let differing = 0;
    for (const row of rows) {
      const w = expected.envelopes.get(`${String(row.dt_id)}/${Number(row.ms)}`)!;
      expect(Number(row.issued)).toBe(w.issued_at);
      expect(Number(row.lead_slots)).toBe(w.lead_slots);
      expect(Number(row.import_kw)).toBeGreaterThanOrEqual(0);
      expect(Number(row.import_slot_kw)).toBeGreaterThanOrEqual(Number(row.import_kw) - 1e-6);
      // The row in force for each past slot (lead 1) is exact, as the stress rows' probabilities are (the same
      // forecast, with the same odd race). The long leads of the last issue rest on the station's long-lead
      // error record, which misses the slots between the resume point and the restart (their weather came in
      // before their forecasts were made): close, not exact.
      // Close here means within 0.5% (measured: a few hundredths of a kW on tens of kW).
      const off = (got: number, want: number) =>
        Math.abs(got - want) > (w.lead_slots === 1 ? 1e-9 : Math.max(0.01, 0.005 * Math.abs(want)));
      if (off(Number(row.import_kw), w.import_kw) || off(Number(row.export_kw), w.export_kw)) differing++;
    }
    expect(differing).toBeLessThanOrEqual(0.05 * rows.length);
  });

  it("serves each DT's stress rows and operating envelopes through the API as stored", async () => {
    const get = async (path: string, key: string | null = TEST_API_KEY) => {
      const res = await fetch(`${g.url}${path}`, { headers: key === null ? {} : { 'x-api-key': key } });
      return { status: res.status, body: (await res.json()) as Row };
    };
    const range = `from=${new Date(START).toISOString()}&to=${new Date(END + DAY_MS).toISOString()}`;
    for (const dt of new Set(stress.map((r) => String(r.dt_id)))) {
      const stored = stress.filter((r) => r.dt_id === dt);
      const { status, body } = await get(`/v1/dt/${dt}/stress?${range}`);
      expect(status).toBe(200);
      const slots = body.slots as Row[];
      expect(slots.map((s) => Date.parse(String(s.slot_start)))).toEqual(stored.map((r) => Number(r.ms)));
      slots.forEach((s, i) => {
        expect(s.loss_of_life_min).toBe(Number(stored[i]!.loss_of_life_min));
        expect(s.hot_spot_c).toBe(Number(stored[i]!.hot_spot_c));
        expect(s.thermal_exceeded).toBe(stored[i]!.thermal_exceeded);
        expect(s.thermal_stress_prob).toBe(
          stored[i]!.thermal_stress_prob === null ? null : Number(stored[i]!.thermal_stress_prob),
        );
      });
      const last = stored.at(-1)!;
      expect(body.data_quality).toBe(last.data_quality);
      expect(body.ami_coverage_pct).toBe(Math.round(Number(last.ami_coverage_pct) * 100) / 100);
      expect(body.summary).toMatchObject({
        slots: stored.length,
        thermal_exceedances: stored.filter((r) => r.thermal_exceeded === true).length,
        loss_of_life_min: Number(last.loss_of_life_min),
      });

      const doe = await g.edges.warehouse.query<Row>(
        `SELECT toUnixTimestamp64Milli(slot_start) AS ms, toUnixTimestamp64Milli(issued_at) AS issued, import_kw,
                export_slot_kw, toString(import_limited_by) AS limited
         FROM dt_operating_envelopes FINAL WHERE dt_id = {dt:String} ORDER BY slot_start`,
        { dt },
      );
      const envelopes = await get(`/v1/dt/${dt}/envelopes?${range}`);
      expect(envelopes.status).toBe(200);
      const served = envelopes.body.slots as Row[];
      expect(served.map((s) => [Date.parse(String(s.slot_start)), Date.parse(String(s.issued_at))])).toEqual(
        doe.map((r) => [Number(r.ms), Number(r.issued)]),
      );
      served.forEach((s, i) => {
        expect(s.import_kw).toBe(Number(doe[i]!.import_kw));
        expect(s.export_slot_kw).toBe(Number(doe[i]!.export_slot_kw));
        expect(s.import_limited_by).toBe(doe[i]!.limited);
      });
      expect(envelopes.body.newest_issued_at).toBe(
        new Date(Math.max(...doe.map((r) => Number(r.issued)))).toISOString(),
      );
      expect(['ami-direct', 'ami-imputed', 'modelled-only']).toContain(envelopes.body.data_quality);

      // A client that demands a better tier than the DT has is refused, naming the field; its own tier is served.
      const tier = String(body.data_quality);
      expect((await get(`/v1/dt/${dt}/stress?${range}&min_data_quality=${tier}`)).status).toBe(200);
      if (tier !== 'ami-direct') {
        const refused = await get(`/v1/dt/${dt}/envelopes?${range}&min_data_quality=ami-direct`);
        expect(refused.status).toBe(422);
        expect(refused.body).toMatchObject({
          error: 'data_quality_below_minimum',
          fields: [{ field: 'min_data_quality' }],
        });
      }
    }
  });

  it('refuses stress and envelope requests without a key, for another tenant, unknown DTs and bad fields', async () => {
    const dt = String(stress[0]!.dt_id);
    const status = async (path: string, key: string | null = TEST_API_KEY) =>
      (await fetch(`${g.url}${path}`, { headers: key === null ? {} : { 'x-api-key': key } })).status;
    for (const route of ['stress', 'envelopes']) {
      expect(await status(`/v1/dt/${dt}/${route}`, null)).toBe(401);
      expect(await status(`/v1/dt/${dt}/${route}`, OTHER_TENANT_KEY)).toBe(404);
      expect(await status(`/v1/dt/${encodeURIComponent("x' OR 1=1 --")}/${route}`)).toBe(404);
      const bad = await fetch(`${g.url}/v1/dt/${dt}/${route}?days=0&min_data_quality=gold`, {
        headers: { 'x-api-key': TEST_API_KEY },
      });
      expect(bad.status).toBe(400);
      const fields = ((await bad.json()) as { fields: Array<{ field: string }> }).fields.map((f) => f.field);
      expect(fields).toEqual(expect.arrayContaining(['days', 'min_data_quality']));
      expect(await status(`/v1/dt/${dt}/${route}?from=2026-07-03T00:00:00Z&to=2026-07-02T00:00:00Z`)).toBe(
        400,
      );
    }
  });

  /** A POST with the test's API key, its status and JSON body. */
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${g.url}${path}`, {
      method: 'POST',
      headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Row };
  };

  it("judges additions and rooftop PV against each DT's newest envelope issue, as the pure judge does", async () => {
    for (const dt of new Set(stress.map((r) => String(r.dt_id)))) {
      const issue = await g.edges.warehouse.query<Row>(
        `SELECT toUnixTimestamp64Milli(slot_start) AS ms, toUnixTimestamp64Milli(issued_at) AS issued, confidence, base_kw,
                base_kw_low, import_kw, export_kw, import_slot_kw, export_slot_kw,
                toString(import_limited_by) AS il, toString(export_limited_by) AS el, toString(data_quality) AS dq
         FROM dt_operating_envelopes FINAL WHERE dt_id = {dt:String}
           AND issued_at = (SELECT max(issued_at) FROM dt_operating_envelopes WHERE dt_id = {dt:String})
         ORDER BY slot_start`,
        { dt },
      );
      expect(issue).toHaveLength(96);
      const [where] = await g.edges.warehouse.query<Row>(
        `SELECT latitude, longitude FROM topology_transformers FINAL WHERE dt_id = {dt:String}`,
        { dt },
      );
      const expected = judgeHosting({
        slots: issue.map((r) => ({
          slotStart: Number(r.ms),
          importKw: Number(r.import_kw),
          exportKw: Number(r.export_kw),
          importSlotKw: Number(r.import_slot_kw),
          exportSlotKw: Number(r.export_slot_kw),
          importLimitedBy: r.il as LimitingFactor,
          exportLimitedBy: r.el as LimitingFactor,
          baseKw: Number(r.base_kw),
          baseKwLow: Number(r.base_kw_low),
        })),
        additions: [{ type: 'ev', kw: 7.4, schedule: parseSchedule('23:00-05:00') }],
        timeZone: 'Asia/Kolkata',
        latitude: Number(where!.latitude),
        longitude: Number(where!.longitude),
        confidence: Number(issue[0]!.confidence),
        modelledOnly: issue[0]!.dq === 'modelled-only',
      });
      const ev = await post('/v1/dt/hosting-capacity', {
        dt_id: dt,
        additions: [{ type: 'ev', kw: 7.4, schedule: '23:00-05:00' }],
        timezone: 'Asia/Kolkata',
      });
      expect(ev.status).toBe(200);
      expect(ev.body).toMatchObject({
        dt_id: dt,
        verdict: expected.verdict,
        data_quality: issue[0]!.dq,
        envelope_issued_at: new Date(Number(issue[0]!.issued)).toISOString(),
      });
      const slots = ev.body.slots as Row[];
      expect(slots.map((s) => Date.parse(String(s.slot_start)))).toEqual(issue.map((r) => Number(r.ms)));
      slots.forEach((s, i) => {
        expect(s.addition_kw).toBeCloseTo(expected.slots[i]!.additionKw, 3);
        expect((s.headroom_before as Row).import_kw).toBeCloseTo(Number(issue[i]!.import_kw), 3);
      });
      // 7.4 kW from 23:00 to 05:00 India time is 17:30 to 23:30 UTC: six hours, 44.4 kWh.
      expect(ev.body.requested_kwh).toBeCloseTo(44.4, 3);

      const huge = await post('/v1/dt/hosting-capacity', {
        dt_id: dt,
        additions: [{ type: 'heat_pump', kw: 50000 }],
      });
      expect(huge.body.verdict).toBe(issue[0]!.dq === 'modelled-only' ? 'defer-to-DERMS' : 'decline');
      expect((huge.body.curtailment_schedule as Row[]).length).toBeGreaterThan(0);

      const roof = await post('/v1/rooftop/sanction-check', { dt_id: dt, pv_kwp: 5, inverter_kw: 4 });
      expect(roof.status).toBe(200);
      expect(roof.body.pv_peak_kw).toBe(4);
      expect(['approve', 'approve-with-curtailment', 'decline', 'defer-to-DERMS']).toContain(
        roof.body.recommendation,
      );
      const reverse = roof.body.reverse_power_flow as { max_probability: number };
      expect(reverse.max_probability).toBeGreaterThanOrEqual(0);
      expect(reverse.max_probability).toBeLessThanOrEqual(1);
      const farm = await post('/v1/rooftop/sanction-check', { dt_id: dt, pv_kwp: 20000 });
      expect(farm.body.recommendation).toBe(issue[0]!.dq === 'modelled-only' ? 'defer-to-DERMS' : 'decline');
      expect((farm.body.reverse_power_flow as { slots_likely: number }).slots_likely).toBeGreaterThan(0);
    }
  });

  it('judges an EV at the end of a feeder against the voltages it moves: no more headroom than at the DT, less where voltage binds', async () => {
    // The simulator's layout depends on the seed and the counts only: the customer at each DT's farthest pole.
    const sim = createSimulation({
      seed: OPTIONS.seed,
      transformers: OPTIONS.transformers,
      metersPerTransformer: OPTIONS.meters,
      startMs: START,
      endMs: START,
    });
    let tighter = 0;
    for (const t of sim.transformers) {
      const far = [...t.meterIndices].sort(
        (a, b) => t.lv.distanceM[sim.meters[b]!.pole]! - t.lv.distanceM[sim.meters[a]!.pole]! || a - b,
      )[0]!;
      const meter = sim.topology.meters[far]!;
      const ev = { type: 'ev', kw: 7.4 };
      const atDt = await post('/v1/dt/hosting-capacity', { dt_id: t.dt_id, additions: [ev] });
      const atMeter = await post('/v1/dt/hosting-capacity', {
        dt_id: t.dt_id,
        meter_id: meter.meter_id,
        additions: [ev],
      });
      expect(atMeter.status).toBe(200);
      expect(atDt.body.judged_at).toBeNull();
      expect(atMeter.body.judged_at).toEqual({
        meter_id: meter.meter_id,
        service_point_id: meter.service_point_id,
        customer_sensitivity: true,
      });
      const before = (r: { body: Row }) =>
        (r.body.slots as Row[]).map((x) => (x.headroom_before as { import_kw: number }).import_kw);
      const dtSlots = before(atDt);
      before(atMeter).forEach((kw, i) => {
        expect(kw).toBeLessThanOrEqual(dtSlots[i]! + 1e-9);
        if (kw < dtSlots[i]! - 1e-6) tighter++;
      });
      // The service point names the same customer.
      const bySp = await post('/v1/dt/hosting-capacity', {
        dt_id: t.dt_id,
        service_point_id: meter.service_point_id,
        additions: [ev],
      });
      expect(before(bySp)).toEqual(before(atMeter));
      const roof = await post('/v1/rooftop/sanction-check', {
        dt_id: t.dt_id,
        meter_id: meter.meter_id,
        pv_kwp: 5,
      });
      expect(roof.status).toBe(200);
      expect((roof.body.judged_at as Row).meter_id).toBe(meter.meter_id);
      // A meter behind another DT is refused.
      const other = sim.transformers.find((o) => o !== t)!;
      const wrong = await post('/v1/dt/hosting-capacity', {
        dt_id: other.dt_id,
        meter_id: meter.meter_id,
        additions: [ev],
      });
      expect(wrong.status).toBe(400);
    }
    expect(tighter).toBeGreaterThan(0);
  });

  it('refuses hosting and sanction requests that are malformed, unauthorised or for unknown DTs', async () => {
    const dt = String(stress[0]!.dt_id);
    const post = async (path: string, body: unknown, key: string | null = TEST_API_KEY) => {
      const res = await fetch(`${g.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'x-api-key': key }) },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { fields?: Array<{ field: string }> } };
    };
    const ev = { type: 'ev', kw: 7 };
    const fields = (r: { body: { fields?: Array<{ field: string }> } }) => r.body.fields?.map((f) => f.field);
    expect((await post('/v1/dt/hosting-capacity', { dt_id: dt, additions: [ev] }, null)).status).toBe(401);
    expect(
      (await post('/v1/dt/hosting-capacity', { dt_id: dt, additions: [ev] }, OTHER_TENANT_KEY)).status,
    ).toBe(404);
    expect((await post('/v1/rooftop/sanction-check', { dt_id: 'dt-nowhere', pv_kwp: 5 })).status).toBe(404);
    const badSchedule = await post('/v1/dt/hosting-capacity', {
      dt_id: dt,
      additions: [{ ...ev, schedule: '25:00-05:00' }],
    });
    expect(badSchedule.status).toBe(400);
    expect(fields(badSchedule)).toEqual(['additions.0.schedule']);
    const badZone = await post('/v1/dt/hosting-capacity', {
      dt_id: dt,
      additions: [ev],
      timezone: 'Mars/Olympus',
    });
    expect(fields(badZone)).toEqual(['timezone']);
    const badMode = await post('/v1/dt/hosting-capacity', {
      dt_id: dt,
      additions: [{ ...ev, mode: 'charge' }],
    });
    expect(fields(badMode)).toEqual(['additions.0.mode']);
    const badKw = await post('/v1/dt/hosting-capacity', { dt_id: dt, additions: [{ type: 'ev', kw: -1 }] });
    expect(badKw.status).toBe(400);
    expect((await post('/v1/dt/hosting-capacity', { dt_id: dt, additions: [] })).status).toBe(400);
    expect(fields(await post('/v1/rooftop/sanction-check', { dt_id: dt }))).toEqual(['pv_kwp']);
    const [newest] = await g.edges.warehouse.query<Row>(
      `SELECT toString(argMax(data_quality, version)) AS tier FROM dt_operating_envelopes WHERE dt_id = {dt:String}`,
      { dt },
    );
    const tier = String(newest!.tier);
    if (tier !== 'ami-direct') {
      const refused = await post('/v1/rooftop/sanction-check', {
        dt_id: dt,
        pv_kwp: 5,
        min_data_quality: 'ami-direct',
      });
      expect(refused.status).toBe(422);
    }
  });

  it("screens EV sites: the tenant's DTs near the coordinates, ranked by how much of the dwell window fits", async () => {
    const screen = async (body: Record<string, unknown>, key = TEST_API_KEY) => {
      const res = await fetch(`${g.url}/v1/ev/site-screen`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Row };
    };
    const [site] = await g.edges.warehouse.query<Row>(
      `SELECT latitude, longitude FROM topology_transformers FINAL ORDER BY dt_id LIMIT 1`,
    );
    const at = { latitude: Number(site!.latitude), longitude: Number(site!.longitude), radius_km: 50 };
    const dts = [...new Set(stress.map((r) => String(r.dt_id)))].sort();

    // The window read in UTC (each DT's own zone, Asia/Kolkata for the simulated feeder, when none is named).
    const small = await screen({ ...at, station_kw: 1, dwell: { schedule: '02:00-04:00' }, timezone: 'UTC' });
    expect(small.status).toBe(200);
    const candidates = small.body.candidates as Row[];
    expect(candidates.map((c) => c.dt_id).sort()).toEqual(dts);
    expect(candidates[0]!.distance_km).toBeLessThan(0.001);
    for (const c of candidates) {
      expect(c.status).toBe('screened');
      expect(c.fit_share).toBe(1);
      // 02:00-04:00 UTC: eight slots in one window (the issue covers the next 24 h, so a day's window once).
      const windows = c.windows as Array<{ from: string; to: string }>;
      expect(windows).toHaveLength(1);
      expect(Date.parse(windows[0]!.to) - Date.parse(windows[0]!.from)).toBe(8 * SLOT_MS);
      expect(windows[0]!.from.slice(11)).toBe('02:00:00.000Z');
    }

    const huge = await screen({ ...at, station_kw: 50000, dwell: { schedule: '00:00-24:00' } });
    for (const c of huge.body.candidates as Row[]) {
      expect(c.fit_share).toBeLessThan(0.05);
      expect(['decline', 'defer-to-DERMS']).toContain(c.verdict);
    }
    // Ranked by fit, then distance.
    const fits = (huge.body.candidates as Row[]).map((c) => Number(c.fit_share));
    expect(fits).toEqual([...fits].sort((a, b) => b - a));

    expect(
      (await screen({ latitude: 0, longitude: 0, station_kw: 1, dwell: { schedule: '02:00-04:00' } })).body
        .candidates,
    ).toEqual([]);
    expect(
      (await screen({ ...at, station_kw: 1, dwell: { schedule: '02:00-04:00' } }, OTHER_TENANT_KEY)).body
        .candidates,
    ).toEqual([]);
    const bad = await screen({ ...at, station_kw: 1, dwell: { schedule: '2-4' }, radius_km: 51 });
    expect(bad.status).toBe(400);
    // The schema names the schedule's form too, so both bad fields are named at once.
    expect((bad.body.fields as Array<{ field: string }>).map((f) => f.field)).toEqual([
      'radius_km',
      'dwell.schedule',
    ]);
    const badDwell = await screen({ ...at, station_kw: 1, dwell: { schedule: '2-4' } });
    expect((badDwell.body.fields as Array<{ field: string }>).map((f) => f.field)).toEqual([
      'dwell.schedule',
    ]);
  });

  it("gives a feeder's and its DTs' stress probabilities under a scenario, the stored ones when it is empty", async () => {
    const stressOf = async (body: Record<string, unknown>, key = TEST_API_KEY) => {
      const res = await fetch(`${g.url}/v1/feeder/stress`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Row };
    };
    const [{ feeder_id: feeder }] = (await g.edges.warehouse.query<Row>(
      `SELECT feeder_id FROM topology_transformers FINAL ORDER BY dt_id LIMIT 1`,
    )) as [{ feeder_id: string }];
    const stored = await g.edges.warehouse.query<Row>(
      `SELECT dt_id, toUnixTimestamp64Milli(slot_start) AS ms, thermal_stress_prob AS p
       FROM dt_operating_envelopes FINAL
       WHERE (dt_id, issued_at) IN (SELECT dt_id, max(issued_at) FROM dt_operating_envelopes GROUP BY dt_id)
       ORDER BY dt_id, slot_start`,
    );
    type Dt = {
      dt_id: string;
      status: string;
      slots: Array<{ slot_start: string; thermal_stress_prob: number; voltage_stress_prob: number | null }>;
    };
    const asIs = await stressOf({ feeder_id: feeder });
    expect(asIs.status).toBe(200);
    const dts = asIs.body.transformers as Dt[];
    expect(dts.length).toBeGreaterThan(0);
    for (const dt of dts) {
      const own = stored.filter((r) => r.dt_id === dt.dt_id);
      expect(dt.slots.map((x) => [Date.parse(x.slot_start), x.thermal_stress_prob])).toEqual(
        own.map((r) => [Number(r.ms), Math.round(Number(r.p) * 1e6) / 1e6]),
      );
    }
    const feederSlots = (
      asIs.body.feeder as { slots: Array<{ slot_start: string; thermal_stress_prob: number }> }
    ).slots;
    for (const slot of feederSlots) {
      const ps = stored.filter((r) => Number(r.ms) === Date.parse(slot.slot_start)).map((r) => Number(r.p));
      expect(slot.thermal_stress_prob).toBeCloseTo(1 - ps.reduce((k, p) => k * (1 - p), 1), 5);
    }

    const grown = await stressOf({ feeder_id: feeder, scenario: { load_growth_pct: 50 } });
    // Growth scales the base: more import, or more export on an exporting DT (growth of a negative base),
    // and heating goes with |S| either way, so no slot's probability falls.
    const before = dts.flatMap((dt) => dt.slots.map((x) => x.thermal_stress_prob));
    const after = (grown.body.transformers as Dt[]).flatMap((dt) =>
      dt.slots.map(
        (x) => [x.thermal_stress_prob, (x as unknown as { load_shift_kw: number }).load_shift_kw] as const,
      ),
    );
    after.forEach(([p], i) => expect(p).toBeGreaterThanOrEqual(before[i]! - 1e-9));
    expect(after.some(([p, shift], i) => shift > 0 && p > before[i]!)).toBe(true);

    const target = dts[0]!.dt_id;
    const loaded = await stressOf({
      feeder_id: feeder,
      scenario: { additions: [{ dt_id: target, type: 'heat_pump', kw: 100000 }] },
    });
    for (const dt of loaded.body.transformers as Dt[]) {
      if (dt.dt_id === target) for (const x of dt.slots) expect(x.thermal_stress_prob).toBeGreaterThan(0.999);
      else expect(dt.slots).toEqual(dts.find((d) => d.dt_id === dt.dt_id)!.slots);
    }
    // The voltage probability moves with the load too: so much import takes every customer below the band.
    const loadedTarget = (loaded.body.transformers as Dt[]).find((dt) => dt.dt_id === target)!;
    const withVoltage = loadedTarget.slots.filter((x) => x.voltage_stress_prob !== null);
    expect(withVoltage.length).toBeGreaterThan(0);
    for (const x of withVoltage) expect(x.voltage_stress_prob).toBeGreaterThan(0.999);
    expect(
      (loaded.body.feeder as { peak_thermal_stress_prob: number }).peak_thermal_stress_prob,
    ).toBeGreaterThan(0.999);

    // Rooftop PV far beyond the DT's rating: in the sunny slots the flow reverses past the bound, and the DT
    // overheats in export as it would in import (it does not count as relief).
    const reversed = await stressOf({
      feeder_id: feeder,
      scenario: { additions: [{ dt_id: target, type: 'pv', kw: 100000 }] },
    });
    const sunny = (reversed.body.transformers as Dt[])
      .find((dt) => dt.dt_id === target)!
      .slots.filter((x) => (x as unknown as { load_shift_kw: number }).load_shift_kw < -10000);
    expect(sunny.length).toBeGreaterThan(0);
    for (const x of sunny) expect(x.thermal_stress_prob).toBeGreaterThan(0.999);

    expect((await stressOf({ feeder_id: 'no-such-feeder' })).status).toBe(404);
    expect((await stressOf({ feeder_id: feeder }, OTHER_TENANT_KEY)).status).toBe(404);
    const badDt = await stressOf({
      feeder_id: feeder,
      scenario: { additions: [{ dt_id: 'elsewhere', type: 'ev', kw: 5 }] },
    });
    expect((badDt.body.fields as Array<{ field: string }>).map((f) => f.field)).toEqual([
      'scenario.additions.0.dt_id',
    ]);
    const unknown = await stressOf({ feeder_id: feeder, scenario: { ambient_delta_c: 5 } });
    expect(unknown.status).toBe(400);
    expect((unknown.body.fields as Array<{ field: string }>).map((f) => f.field)).toEqual([
      'ambient_delta_c',
    ]);
  });

  it('counts the slots and exports the at-risk gauge', async () => {
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    const processed = /gridstream_stress_slots_total\{outcome="processed"\} (\d+)/.exec(metrics);
    expect(Number(processed?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/gridstream_stress_dts_at_risk\{kind="thermal"\} \d+/);
  });
});
