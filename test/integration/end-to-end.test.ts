import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateTopology } from '../../simulator/command.js';
import { simulateInto, startTestGridstream, TEST_API_KEY } from '../support/test-gridstream.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;

const DAY = '2026-07-01';
const START = Date.parse(`${DAY}T00:00:00Z`);
const END = START + 86_400_000;

interface Slot {
  slot_start: string;
  import_kwh: number;
  export_kwh: number;
  net_mean_kw: number;
  meters_reporting: number;
  meters_connected: number;
}

/** Relative agreement within 0.5%, with an absolute floor for slots near zero. */
function within(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= 0.005 * Math.abs(expected) + 1e-6;
}

describe('end to end: a simulated day through the embedded pipeline', () => {
  let g: Running;
  let dir: string;
  let truth: Map<string, { import_kwh: number; export_kwh: number; net_mean_kw: number }>;
  let simulated: { readings: number; messages: number; weather: number };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gridstream-e2e-'));
    g = await startTestGridstream();
    const options = { seed: 7, transformers: 5, meters: 40 };
    await g.pipeline.loadTopology(simulateTopology(options), 'e2e');
    const truthFile = join(dir, 'truth.csv');
    simulated = await simulateInto(
      g,
      { ...options, start: START, end: END, truthOut: truthFile, now: END },
      120_000,
    );
    truth = new Map();
    for (const line of readFileSync(truthFile, 'utf8').trim().split('\n').slice(1)) {
      const [dt, slot, imp, exp, net] = line.split(',');
      truth.set(`${dt}|${new Date(slot!).toISOString()}`, {
        import_kwh: Number(imp),
        export_kwh: Number(exp),
        net_mean_kw: Number(net),
      });
    }
  }, 300_000);

  afterAll(async () => {
    await g?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores every published reading exactly once', async () => {
    const [row] = await g.edges.warehouse.query<{ n: string }>('SELECT count() AS n FROM readings FINAL');
    const [dead] = await g.edges.warehouse.query<{ n: string }>('SELECT count() AS n FROM dead_letters');
    expect(Number(dead!.n)).toBe(0);
    expect(Number(row!.n)).toBe(simulated.readings);
  });

  it('serves 96 slots per DT whose import and export kWh match the ground truth within 0.5%', async () => {
    expect(truth.size).toBe(5 * 96);
    for (let k = 1; k <= 5; k++) {
      const dt = `dt-000${k}`;
      const response = await fetch(
        `${g.url}/v1/dt/${dt}/load-profile?from=${DAY}T00:00:00Z&to=2026-07-02T00:00:00Z`,
        {
          headers: { 'x-api-key': TEST_API_KEY },
        },
      );
      expect(response.status).toBe(200);
      const body = (await response.json()) as {
        slots: Slot[];
        data_quality: string;
        ami_coverage_pct: number;
      };
      expect(body.slots).toHaveLength(96);
      // One day of data out of the 30-day window: partial AMI coverage.
      expect(body.data_quality).toBe('ami-imputed');
      const mismatches = body.slots.filter((slot) => {
        const expected = truth.get(`${dt}|${slot.slot_start}`)!;
        return !within(slot.import_kwh, expected.import_kwh) || !within(slot.export_kwh, expected.export_kwh);
      });
      expect(mismatches.map((s) => ({ s, truth: truth.get(`${dt}|${s.slot_start}`) }))).toEqual([]);
      // The simulated feeder has midday rooftop-PV export somewhere and evening import everywhere.
      expect(body.slots.every((s) => s.meters_connected === 40)).toBe(true);
    }
  });

  it('reports meters as connected, and late store-and-forward readings revise their slots', async () => {
    const rows = await g.edges.warehouse.query<{ slots: string; full: string }>(
      'SELECT count() AS slots, countIf(meters_reporting = meters_connected) AS full FROM envelopes FINAL',
    );
    // Silent meters send their stored readings when they come back: every slot ends complete.
    expect(Number(rows[0]!.slots)).toBe(5 * 96);
    expect(Number(rows[0]!.full)).toBe(5 * 96);
    // The simulated day had meters sending stored readings as arrays after an outage...
    expect(simulated.readings).toBeGreaterThan(simulated.messages - simulated.weather);
    // ...which arrived after their slots had closed: closing emits a slot once as final, so more final
    // emissions than final slots are revisions.
    const metric = await g.metrics.registry.getSingleMetricAsString(
      'gridstream_envelope_slots_written_total',
    );
    const finalEmissions = Number(/final="true"} (\d+)/.exec(metric)?.[1] ?? 0);
    const [closed] = await g.edges.warehouse.query<{ n: string }>(
      'SELECT countIf(is_final) AS n FROM envelopes FINAL',
    );
    // Every slot but the day's last (its lateness has not passed in event time) is closed.
    expect(Number(closed!.n)).toBe(5 * 95);
    expect(finalEmissions).toBeGreaterThan(Number(closed!.n));
    // Outages of up to 6 h: stored readings of slots older than the resident hour were revised from the
    // warehouse's readings (every slot complete, and within 0.5% of the truth above).
    const loaded = await g.metrics.registry.getSingleMetricAsString('gridstream_envelope_slots_loaded_total');
    expect(Number(/ (\d+)$/m.exec(loaded)?.[1] ?? 0)).toBeGreaterThan(0);
  });
});
