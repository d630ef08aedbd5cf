import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTopologyFiles } from '../../core/topology.js';
import { MINUTE_MS, SLOT_MS } from '../../core/time.js';
import {
  BATTERY_KW,
  SITE,
  SimulationOptionsError,
  buildTopology,
  createSimulation,
  type SimFlexEvent,
  type SimStep,
} from '../../simulator/model.js';
import { simulateTopology } from '../../simulator/command.js';
import { topologyDocument, writeTopologyFiles } from '../../simulator/topology-files.js';

/**
 * Responsive batteries in the simulator: topology assets behind a share of the meters, flexibility events that
 * move their meters' power by exactly the event's kW, and the truth: the same simulation without the events is
 * the counterfactual, and flexResponseKw the response.
 */
const dir = mkdtempSync(join(tmpdir(), 'gridstream-sim-flex-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OFFSET_MS = SITE.utcOffsetMinutes * MINUTE_MS;
// Monday 2026-05-04, local midnight.
const START = Date.UTC(2026, 4, 4) - OFFSET_MS;
const HOUR = 3_600_000;
const BASE = { seed: 7, transformers: 2, metersPerTransformer: 10, batteryShare: 0.5 };

describe('simulated batteries in the topology', () => {
  it('a share of 0 (the default) adds no asset and a share changes nothing else in the topology', () => {
    const without = buildTopology({ seed: 7, transformers: 2, metersPerTransformer: 10 });
    const withBatteries = buildTopology(BASE);
    expect(without.assets).toEqual([]);
    expect(withBatteries.transformers).toEqual(without.transformers);
    expect(withBatteries.meters).toEqual(without.meters);
    expect(withBatteries.assets).toHaveLength(10);
    for (const a of withBatteries.assets) {
      const meter = withBatteries.meters.find((m) => m.meter_id === a.meter_id)!;
      expect(a).toEqual({
        asset_id: `bess-${meter.meter_id.slice(4)}`,
        dt_id: meter.dt_id,
        meter_id: meter.meter_id,
        asset_type: 'BESS',
        nominal_kw: BATTERY_KW,
        topology_version: 1,
      });
    }
    expect(topologyDocument(without)).not.toHaveProperty('assets');
    expect(simulateTopology({ seed: 7, transformers: 2, meters: 10, batteryShare: 0.5 }).assets).toHaveLength(
      10,
    );
  });

  it('the topology files carry the assets, and the loader reads them back (JSON and CSV)', () => {
    const topology = buildTopology(BASE);
    const expected = topologyDocument(topology);
    expect(expected.assets).toHaveLength(10);
    const json = join(dir, 'topology.json');
    writeTopologyFiles(json, topology);
    expect(readTopologyFiles([json])).toEqual(expected);
    const csvDir = join(dir, 'csv') + '/';
    expect(writeTopologyFiles(csvDir, topology).map((f) => f.slice(csvDir.length))).toEqual([
      'transformers.csv',
      'meters.csv',
      'assets.csv',
    ]);
    expect(readTopologyFiles([csvDir])).toEqual(expected);
  });
});

describe('flexibility events on simulated batteries', () => {
  const assets = buildTopology(BASE).assets;
  const downIds = assets.slice(0, 4).map((a) => a.asset_id);
  const upIds = assets.slice(4, 6).map((a) => a.asset_id);
  const events: SimFlexEvent[] = [
    // 18:00–20:00 local, on quarter hours.
    {
      assetIds: downIds,
      direction: 'turn-down',
      startMs: START + 18 * HOUR,
      endMs: START + 20 * HOUR,
      kw: 3,
    },
    // 10:05–10:50 local: partial first and last periods.
    {
      assetIds: upIds,
      direction: 'turn-up',
      startMs: START + 10 * HOUR + 5 * MINUTE_MS,
      endMs: START + 10 * HOUR + 50 * MINUTE_MS,
      kw: 4.5,
    },
  ];
  const window = { ...BASE, intervalMs: SLOT_MS, silentShare: 0, startMs: START, endMs: START + 24 * HOUR };

  it('readings outside the events are identical with and without them (registers aside); inside, p_kw moves by the true response', () => {
    const plain = [...createSimulation(window).steps()];
    const sim = createSimulation({ ...window, flexEvents: events });
    const flexed = [...sim.steps()];
    expect(flexed).toHaveLength(plain.length);
    const meterOf = new Map(sim.topology.meters.map((m, i) => [m.meter_id, i]));
    const responding = new Set(
      assets.filter((a) => [...downIds, ...upIds].includes(a.asset_id)).map((a) => meterOf.get(a.meter_id!)!),
    );
    let inside = 0;
    let outside = 0;
    const energy = new Map<number, number>();
    flexed.forEach((step: SimStep, k) => {
      const before = plain[k]!;
      expect(step.ts).toBe(before.ts);
      step.readings.forEach((r, i) => {
        const b = before.readings[i]!;
        const truth = sim.flexResponseKw(i, step.ts, SLOT_MS);
        // Voltages follow the household load alone; reactive power is untouched (unity power factor).
        expect(r.legs.map((l) => l.v)).toEqual(b.legs.map((l) => l.v));
        expect(r.q_kvar).toBe(b.q_kvar);
        if (truth === 0) {
          outside++;
          expect({ ...r, e_imp_kwh: 0, e_exp_kwh: 0 }).toEqual({ ...b, e_imp_kwh: 0, e_exp_kwh: 0 });
        } else {
          inside++;
          expect(responding.has(i)).toBe(true);
          expect(r.p_kw - b.p_kw).toBeCloseTo(truth, 2);
          expect(Math.abs(r.p_kw - b.p_kw - truth)).toBeLessThanOrEqual(0.0011);
          // Currents are |P_leg| / V minute by minute: they move with the battery.
          expect(r.legs.map((l) => l.i)).not.toEqual(b.legs.map((l) => l.i));
          energy.set(i, (energy.get(i) ?? 0) + truth / 4);
        }
      });
    });
    // 4 assets × 8 periods, 2 assets × 4 periods (10:00, 10:15, 10:30, 10:45).
    expect(inside).toBe(4 * 8 + 2 * 4);
    expect(outside).toBe(plain.length * 20 - inside);
    // The registers keep the events' energy: net register (import − export) moved by exactly it.
    const last = flexed.at(-1)!;
    const lastPlain = plain.at(-1)!;
    for (const [i, kwh] of energy) {
      const net = (r: { e_imp_kwh: number; e_exp_kwh: number }) => r.e_imp_kwh - r.e_exp_kwh;
      expect(Math.abs(net(last.readings[i]!) - net(lastPlain.readings[i]!) - kwh)).toBeLessThan(0.003);
    }
  });

  it('the true response: the event kW in its periods (signed: turn-down negative), prorated in partial periods, 0 elsewhere', () => {
    const sim = createSimulation({ ...window, flexEvents: events });
    const meter = (id: string) =>
      sim.topology.meters.findIndex((m) => m.meter_id === assets.find((a) => a.asset_id === id)!.meter_id);
    const down = meter(downIds[0]!);
    const up = meter(upIds[0]!);
    expect(sim.flexResponseKw(down, START + 18 * HOUR)).toBe(-3);
    expect(sim.flexResponseKw(down, START + 20 * HOUR - SLOT_MS)).toBe(-3);
    expect(sim.flexResponseKw(down, START + 20 * HOUR)).toBe(0);
    expect(sim.flexResponseKw(down, START + 18 * HOUR, 2 * HOUR)).toBe(-3);
    expect(sim.flexResponseKw(down, START + 17 * HOUR, 2 * HOUR)).toBe(-1.5);
    expect(sim.flexResponseKw(up, START + 10 * HOUR)).toBeCloseTo((4.5 * 10) / 15, 12);
    expect(sim.flexResponseKw(up, START + 10 * HOUR + SLOT_MS)).toBe(4.5);
    expect(sim.flexResponseKw(up, START + 10 * HOUR + 45 * MINUTE_MS)).toBeCloseTo((4.5 * 5) / 15, 12);
    expect(sim.flexResponseKw(up, START + 18 * HOUR)).toBe(0);
    const other = sim.topology.meters.findIndex((m) => !assets.some((a) => a.meter_id === m.meter_id));
    expect(sim.flexResponseKw(other, START + 18 * HOUR)).toBe(0);
  });

  it('refuses events it cannot simulate, naming what is wrong', () => {
    const bad =
      (event: Partial<SimFlexEvent>, more: SimFlexEvent[] = []) =>
      () =>
        createSimulation({ ...window, flexEvents: [...more, { ...events[0]!, ...event }] });
    expect(bad({ assetIds: ['bess-999999'] })).toThrow(SimulationOptionsError);
    expect(bad({ assetIds: ['bess-999999'] })).toThrow(/bess-999999 is not a battery of this simulation/);
    expect(bad({ assetIds: [] })).toThrow(/assetIds must list at least one battery/);
    expect(bad({ kw: BATTERY_KW + 0.1 })).toThrow(/kw must be more than 0 and at most .* 5 kW/);
    expect(bad({ kw: 0 })).toThrow(/kw must be more than 0/);
    expect(bad({ direction: 'sideways' as never })).toThrow(/direction must be turn-down or turn-up/);
    expect(bad({ endMs: START + 18 * HOUR })).toThrow(/startMs < endMs/);
    expect(bad({ startMs: START + 1 })).toThrow(/whole minutes/);
    expect(bad({ startMs: START + 19 * HOUR, endMs: START + 21 * HOUR }, [events[0]!])).toThrow(
      /already in an event that overlaps it/,
    );
  });
});
