import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTopologyFiles } from '../../core/topology.js';
import { DAY_MS, SLOT_MS } from '../../core/time.js';
import {
  SimulateOptionsError,
  planSimulation,
  runSimulate,
  simulateTopology,
  truthPaths,
} from '../../simulator/command.js';
import { SITE, buildTopology, createSimulation } from '../../simulator/model.js';
import {
  lvNetworkCsv,
  METER_FIELDS,
  TRANSFORMER_FIELDS,
  metersCsv,
  topologyDocument,
  transformersCsv,
  writeTopologyFiles,
} from '../../simulator/topology-files.js';
import { radialNetwork, solveRadial } from '../../simulator/power-flow.js';

const dir = mkdtempSync(join(tmpdir(), 'gridstream-sim-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const schemaFields = (file: string): string[] =>
  (
    JSON.parse(readFileSync(new URL(`../../schemas/${file}`, import.meta.url), 'utf8')) as {
      fields: { name: string }[];
    }
  ).fields
    .map((f) => f.name)
    .filter((name) => name !== 'topology_version');

describe('simulated topology', () => {
  const topology = buildTopology({ seed: 1 });

  it('has N DTs of M meters with realistic, unique identifiers', () => {
    expect(topology.transformers).toHaveLength(5);
    expect(topology.meters).toHaveLength(200);
    expect(topology.transformers.map((t) => t.dt_id)).toEqual([
      'dt-0001',
      'dt-0002',
      'dt-0003',
      'dt-0004',
      'dt-0005',
    ]);
    expect(topology.meters[0]!.meter_id).toBe('mtr-000001');
    expect(topology.meters[199]!.meter_id).toBe('mtr-000200');
    for (const t of topology.transformers) {
      expect(t.feeder_id).toBe('fdr-01');
      expect(t.weather_station_id).toBe('ws-01');
      expect(t.cooling_class).toBe('ONAN');
      expect(t.nominal_voltage_v).toBe(230);
      expect(t.topology_version).toBe(1);
      expect(t.rated_kva).toBeGreaterThanOrEqual(63);
      expect(t.rated_kva).toBeLessThanOrEqual(400);
      expect(Math.abs(t.latitude - SITE.latitude)).toBeLessThan(0.05);
      expect(Math.abs(t.longitude - SITE.longitude)).toBeLessThan(0.05);
      expect(topology.meters.filter((m) => m.dt_id === t.dt_id)).toHaveLength(40);
    }
    for (const key of [
      'meter_id',
      'meter_number',
      'electronic_serial_number',
      'service_point_id',
      'premise_id',
    ] as const)
      expect(new Set(topology.meters.map((m) => m[key])).size).toBe(200);
    const legs = topology.meters.map((m) => m.legs);
    expect(legs.every((l) => l >= 1 && l <= 3)).toBe(true);
    expect(legs.filter((l) => l === 1).length).toBeGreaterThan(120);
    expect(legs.filter((l) => l > 1).length).toBeGreaterThan(10);
    expect(topology.meters[0]!.premise_id).toBe(`P${topology.meters[0]!.service_point_id}`);
  });

  it('depends on the seed and counts only, not on the time window or the shares', () => {
    const sim = createSimulation({
      seed: 1,
      startMs: Date.UTC(2026, 0, 1),
      endMs: Date.UTC(2026, 0, 2),
      pvShare: 0.9,
    });
    expect(sim.topology).toEqual(topology);
    expect(buildTopology({ seed: 2 })).not.toEqual(topology);
    expect(
      buildTopology({ seed: 1, transformers: 4, feeders: 2 }).transformers.map((t) => t.feeder_id),
    ).toEqual(['fdr-01', 'fdr-01', 'fdr-02', 'fdr-02']);
  });

  it('is what simulateTopology returns for the demo, without versions', () => {
    const doc = simulateTopology({ seed: 1 });
    expect(doc).toEqual(topologyDocument(topology));
    expect(doc.meters[0]).not.toHaveProperty('topology_version');
    expect(simulateTopology({ seed: 9, transformers: 2, meters: 3 }).meters).toHaveLength(6);
  });
});

describe('topology files', () => {
  const topology = buildTopology({ seed: 5, transformers: 3, metersPerTransformer: 7 });

  it('name every field of the Avro schemas, in schema order', () => {
    expect([...TRANSFORMER_FIELDS]).toEqual(schemaFields('topology-transformer.avsc'));
    expect([...METER_FIELDS]).toEqual(schemaFields('topology-meter.avsc'));
    const doc = topologyDocument(topology);
    for (const t of doc.transformers) expect(Object.keys(t)).toEqual([...TRANSFORMER_FIELDS]);
    for (const m of doc.meters) expect(Object.keys(m)).toEqual([...METER_FIELDS]);
    expect(transformersCsv(topology).split('\n')[0]).toBe(TRANSFORMER_FIELDS.join(','));
    expect(metersCsv(topology).split('\n')[0]).toBe(METER_FIELDS.join(','));
    expect(transformersCsv(topology).split('\n')[1]).toMatch(
      /^dt-0001,fdr-01,\d+,ONAN,[\d.]+,[\d.]+,ws-01,230,,,,,,default,$/,
    );
  });

  it('load with the topology loader as JSON and as CSV', () => {
    const json = writeTopologyFiles(join(dir, 'topology.json'), topology);
    expect(json).toEqual([join(dir, 'topology.json')]);
    const csvDir = join(dir, 'csv') + '/';
    const csv = writeTopologyFiles(csvDir, topology);
    expect(csv).toEqual([join(dir, 'csv', 'transformers.csv'), join(dir, 'csv', 'meters.csv')]);
    const expected = topologyDocument(topology);
    expect(readTopologyFiles(json)).toEqual(expected);
    expect(readTopologyFiles([join(dir, 'csv')])).toEqual(expected);
    expect(JSON.parse(readFileSync(json[0]!, 'utf8'))).toEqual(expected);
  });

  it('quote CSV cells that need it', () => {
    const odd = buildTopology({ seed: 5, transformers: 1, metersPerTransformer: 1 });
    odd.transformers[0]!.feeder_id = 'north, "A"';
    expect(transformersCsv(odd).split('\n')[1]).toContain(',"north, ""A""",');
  });
});

describe('simulate options', () => {
  const now = Date.UTC(2026, 4, 10, 12, 7, 30);

  it('resolves the window from days, start and end', () => {
    const days = planSimulation({ mqttUrl: 'mqtt://x', days: 2, now });
    expect(days.endMs).toBe(Date.UTC(2026, 4, 10, 12, 7));
    expect(days.startMs).toBe(Date.UTC(2026, 4, 8, 12, 0));
    expect(days.startMs % SLOT_MS).toBe(0);
    const byDefault = planSimulation({ mqttUrl: 'mqtt://x', now });
    expect(byDefault.startMs).toBe(Date.UTC(2026, 4, 9, 12, 0));
    const range = planSimulation({
      mqttUrl: 'mqtt://x',
      start: '2026-05-01',
      end: '2026-05-02T06:00:00Z',
      now,
    });
    expect([range.startMs, range.endMs]).toEqual([Date.UTC(2026, 4, 1), Date.UTC(2026, 4, 2, 6)]);
    const startDays = planSimulation({ mqttUrl: 'mqtt://x', start: Date.UTC(2026, 4, 1), days: 0.5, now });
    expect(startDays.endMs).toBe(Date.UTC(2026, 4, 1, 12));
    const epochText = planSimulation({
      mqttUrl: 'mqtt://x',
      start: String(Date.UTC(2026, 4, 1)),
      days: 1,
      now,
    });
    expect(epochText.startMs).toBe(Date.UTC(2026, 4, 1));
    const follow = planSimulation({ mqttUrl: 'mqtt://x', days: 0, follow: true, now });
    expect(follow.endMs).toBe(Infinity);
    expect(follow.startMs).toBe(Date.UTC(2026, 4, 10, 12, 0));
    const interval = planSimulation({ mqttUrl: 'mqtt://x', days: 1, intervalS: 900, meters: 3, now });
    expect(interval).toMatchObject({ intervalMs: 900_000, metersPerTransformer: 3, seed: 1 });
  });

  it('refuses bad options with clear errors', () => {
    const plan = (o: object) => () => planSimulation({ mqttUrl: 'mqtt://x', now, ...o });
    expect(plan({ intervalS: 90 })).toThrow(/intervalS must be a multiple of 60/);
    expect(plan({ intervalS: 420 })).toThrow(/divides a day/);
    expect(plan({ days: -1 })).toThrow(/days must be/);
    expect(plan({ days: Number.NaN })).toThrow(/days must be/);
    expect(plan({ days: 1, start: '2026-05-01', end: '2026-05-03' })).toThrow(
      /at most two of days, start and end/,
    );
    expect(plan({ follow: true, end: '2026-05-03' })).toThrow(/end cannot be combined with follow/);
    expect(plan({ start: 'yesterday' })).toThrow(/start must be an ISO-8601 time/);
    expect(plan({ start: '2026-05-02', end: '2026-05-01' })).toThrow(/shorter than one reading interval/);
    expect(plan({ speed: -2 })).toThrow(/speed must be/);
    expect(plan({ seed: 1.5 })).toThrow(/seed must be an integer/);
    expect(plan({ transformers: 0 })).toThrow(/transformers must be an integer/);
    expect(plan({ transformers: 2, feeders: 3 })).toThrow(/feeders \(3\) must not exceed transformers \(2\)/);
    expect(plan({ pvShare: 2 })).toThrow(/pvShare must be a share/);
    expect(plan({ days: 0 })).toThrow(SimulateOptionsError);
    expect(plan({ days: 0 })).toThrow(/0 only with follow/);
  });

  it('checks the broker URL before doing anything', async () => {
    await expect(runSimulate({ mqttUrl: '' })).rejects.toThrow(/mqttUrl is required/);
    await expect(runSimulate({ mqttUrl: 'localhost:1883' })).rejects.toThrow(/mqttUrl must use one of/);
    await expect(runSimulate({ mqttUrl: 'not a url' })).rejects.toThrow(/mqttUrl is not a URL/);
  });

  it('puts the impedance truth beside the slot truth', () => {
    expect(truthPaths('/tmp/x/truth.csv')).toEqual({
      slots: '/tmp/x/truth.csv',
      impedance: '/tmp/x/truth.impedance.csv',
    });
    expect(truthPaths(dir)).toEqual({
      slots: join(dir, 'dt-slot-truth.csv'),
      impedance: join(dir, 'impedance-truth.csv'),
    });
  });

  it('covers a whole number of days', () => {
    const plan = planSimulation({ mqttUrl: 'mqtt://x', start: '2026-05-01', days: 3, now });
    expect(plan.endMs - plan.startMs).toBe(3 * DAY_MS);
  });
});

describe('the LV network file', () => {
  it("is enough for an independent power flow to find the simulator's meter voltages", () => {
    const start = Date.UTC(2026, 4, 1, 14); // evening in India: load on every feeder
    const sim = createSimulation({
      seed: 3,
      transformers: 2,
      metersPerTransformer: 20,
      startMs: start,
      endMs: start + 60_000,
    });
    const [step] = [...sim.steps()];
    const rows = lvNetworkCsv(sim)
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(','));
    for (const [d, dt] of sim.transformers.entries()) {
      const own = rows.filter((r) => r[0] === dt.dt_id);
      for (const phase of [1, 2, 3]) {
        // Nodes: source, busbar, the poles, then this phase's meter legs; loads from the published readings.
        const names = ['source', 'busbar'];
        const parent = [-1, 0];
        const r = [0, Number(own[0]![6])];
        const x = [0, Number(own[0]![7])];
        const p = [0, 0];
        const q = [0, 0];
        const legs: Array<[number, number, number]> = []; // node, meter index, leg
        for (const row of own.slice(1)) {
          const [, element, from, to, ph, , rOhm, xOhm] = row as string[];
          if (element === 'service' && Number(ph) !== phase) continue;
          parent.push(names.indexOf(from!));
          names.push(to!);
          r.push(Number(rOhm));
          x.push(Number(xOhm));
          if (element === 'service') {
            const m = sim.meters.find((mm) => mm.meter_id === to)!;
            const reading = step!.readings[m.index]!;
            p.push((reading.p_kw * 1000) / m.legs);
            q.push((reading.q_kvar * 1000) / m.legs);
            legs.push([names.length - 1, m.index, m.phases.indexOf(phase)]);
          } else {
            p.push(0);
            q.push(0);
          }
        }
        const v = solveRadial(radialNetwork(parent, r, x), step!.sourceVoltage[d]!, p, q);
        expect(legs.length).toBeGreaterThan(0);
        for (const [node, meter, leg] of legs) {
          // The file has each service drop before degradation: a joint degraded since the first day differs.
          const m = sim.meters[meter]!;
          if (m.impedanceMohm[leg] !== step!.impedanceMohm[meter]![leg]) continue;
          // Within what the readings' rounding of p and q (0.5 W, 0.5 var) moves a voltage.
          expect(Math.abs(v[node]! - step!.meterVoltage[meter]![leg]!)).toBeLessThan(2e-3);
        }
      }
    }
  });
});
