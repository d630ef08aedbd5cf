import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DAY_MS } from '../../core/time.js';
import { loadConfig } from '../../core/config.js';
import { partitionFor } from '../../io/log/partitioner.js';
import {
  DEFAULT_IMPEDANCE_CONFIG,
  initialImpedanceState,
  stepImpedance,
  type ImpedanceState,
  type LegDayImpedance,
} from '../../processors/impedance/impedance.js';
import { planSimulation, simulateTopology } from '../../simulator/command.js';
import type { ImpedanceFlag } from '../../schemas/types.gen.js';
import { createSimulation } from '../../simulator/model.js';
import { meterReadingOf } from '../../simulator/readings.js';
import { simulateInto, startTestGridstream } from '../support/test-gridstream.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;

const START = Date.UTC(2026, 6, 1);
const DAYS = 4;
const OPTIONS = { seed: 5, transformers: 2, meters: 40, silentShare: 0 };

/** What the pure processor computes from the same readings, one state per log partition as the pipeline. */
function offline(partitions: number) {
  const sim = createSimulation(
    planSimulation({
      ...OPTIONS,
      mqttUrl: 'mqtt://unused',
      start: START,
      end: START + DAYS * DAY_MS,
      now: START + DAYS * DAY_MS,
    }),
  );
  const dtOf = new Map(sim.topology.meters.map((m) => [m.meter_id, m.dt_id]));
  const states = new Map<number, ImpedanceState>();
  const days: LegDayImpedance[] = [];
  const flags: ImpedanceFlag[] = [];
  for (const message of sim.messages()) {
    if (message.kind !== 'telemetry') continue;
    const dt = dtOf.get(message.source)!;
    const partition = partitionFor(dt, partitions);
    let state = states.get(partition) ?? initialImpedanceState();
    for (const r of Array.isArray(message.payload) ? message.payload : [message.payload]) {
      const reading = meterReadingOf(r, message.source, dt, message.ts);
      const step = stepImpedance(state, { type: 'reading', reading }, DEFAULT_IMPEDANCE_CONFIG);
      state = step.state;
      for (const o of step.outputs) {
        if (o.type === 'leg-day' && o.row.is_final) days.push(o.row);
        if (o.type === 'flag') flags.push(o.flag);
      }
    }
    states.set(partition, state);
  }
  return { days, flags, sim };
}

describe('impedance through the embedded pipeline', () => {
  let g: Running;
  let expected: ReturnType<typeof offline>;

  beforeAll(async () => {
    g = await startTestGridstream();
    await g.pipeline.loadTopology(simulateTopology(OPTIONS), 'impedance');
    const end = START + DAYS * DAY_MS;
    await simulateInto(g, { ...OPTIONS, start: START, end, now: end }, 180_000);
    expected = offline(loadConfig({}).partitions);
  }, 400_000);

  afterAll(async () => {
    await g?.stop();
  });

  it('stores in ClickHouse exactly the final daily medians the processor computes, with the CIS/GIS identifiers', async () => {
    const rows = await g.edges.warehouse.query<Record<string, unknown>>(
      `SELECT meter_id, leg, toString(day) AS day, dt_id, median_mohm, event_count, is_final,
              service_point_id, meter_number, electronic_serial_number, premise_id
       FROM impedance_daily FINAL WHERE is_final ORDER BY meter_id, leg, day`,
    );
    expect(expected.days.length).toBeGreaterThan(10);
    const key = (meter: unknown, leg: unknown, day: string) => `${String(meter)}/${Number(leg)}/${day}`;
    const want = new Map(
      expected.days.map((d) => [key(d.meter_id, d.leg, new Date(d.day).toISOString().slice(0, 10)), d]),
    );
    expect(rows.map((r) => key(r.meter_id, r.leg, String(r.day))).sort()).toEqual([...want.keys()].sort());
    const meters = new Map(expected.sim.topology.meters.map((m) => [m.meter_id, m]));
    for (const row of rows) {
      const d = want.get(key(row.meter_id, row.leg, String(row.day)))!;
      expect(Number(row.median_mohm)).toBeCloseTo(d.median_mohm, 9);
      expect(Number(row.event_count)).toBe(d.event_count);
      expect(row.dt_id).toBe(d.dt_id);
      const meter = meters.get(d.meter_id)!;
      expect(row.service_point_id).toBe(meter.service_point_id);
      expect(row.meter_number).toBe(meter.meter_number);
      expect(row.electronic_serial_number).toBe(meter.electronic_serial_number);
      expect(row.premise_id).toBe(meter.premise_id);
    }
  });

  it('stores the flags the processor raises, and counts them in the metrics', async () => {
    const rows = await g.edges.warehouse.query<{ meter_id: string; leg: number; day: string; kind: string }>(
      'SELECT meter_id, leg, toString(day) AS day, toString(kind) AS kind FROM impedance_flags FINAL',
    );
    const got = rows.map((r) => `${r.meter_id}/${Number(r.leg)}/${r.day}/${r.kind}`).sort();
    const want = expected.flags
      .map((f) => `${f.meter_id}/${f.leg}/${new Date(f.day).toISOString().slice(0, 10)}/${f.kind}`)
      .sort();
    expect(got).toEqual(want);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    const published = /gridstream_impedance_leg_days_total\{outcome="published"\} (\d+)/.exec(metrics);
    expect(Number(published?.[1])).toBe(expected.days.length);
    const flagged = [...metrics.matchAll(/gridstream_impedance_flags_total\{kind="[a-z_]+"\} (\d+)/g)];
    expect(flagged.reduce((sum, m) => sum + Number(m[1]), 0)).toBe(expected.flags.length);
  });
});
