import { describe, expect, it } from 'vitest';
import { DAY_MS, MINUTE_MS, SLOT_MS, slotStart } from '../../core/time.js';
import {
  GroundTruth,
  IMPEDANCE_CSV_HEADER,
  TRUTH_CSV_HEADER,
  computeGroundTruth,
  formatImpedanceCsv,
  formatTruthCsv,
  impedanceTruth,
  type DtSlotTruth,
} from '../../simulator/ground-truth.js';
import { DEGRADED_CAP_MOHM, createSimulation, type SimulationOptions } from '../../simulator/model.js';

const START = Date.UTC(2026, 4, 4);
const options = (over: Partial<SimulationOptions> = {}): SimulationOptions => ({
  seed: 3,
  transformers: 3,
  metersPerTransformer: 12,
  silentShare: 0.25,
  startMs: START,
  endMs: START + 2 * DAY_MS,
  ...over,
});

/** The truth recomputed here, independently, from nothing but the published messages. */
function independentTruth(o: SimulationOptions) {
  const sim = createSimulation(o);
  const interval = o.intervalMs ?? MINUTE_MS;
  const dtOf = new Map(sim.topology.meters.map((m) => [m.meter_id, m.dt_id]));
  const perMinute = new Map<string, Map<number, number>>(); // `${dt} ${slot}` → minute → Σ p_kw
  const meters = new Map<string, Set<string>>();
  for (const m of sim.messages()) {
    if (m.kind !== 'telemetry') continue;
    for (const r of Array.isArray(m.payload) ? m.payload : [m.payload]) {
      const ts = Date.parse(r.ts);
      for (let t = ts; t < ts + interval; t += MINUTE_MS) {
        const key = `${dtOf.get(m.source)} ${slotStart(t)}`;
        const minutes = perMinute.get(key) ?? new Map<number, number>();
        perMinute.set(key, minutes);
        minutes.set(t, (minutes.get(t) ?? 0) + r.p_kw);
        const set = meters.get(key) ?? new Set<string>();
        meters.set(key, set);
        set.add(m.source);
      }
    }
  }
  const out = new Map<
    string,
    { import_kwh: number; export_kwh: number; net_mean_kw: number; meters: number }
  >();
  for (const [key, minutes] of perMinute) {
    const ps = [...minutes.values()];
    out.set(key, {
      import_kwh: ps.reduce((s, p) => s + Math.max(p, 0), 0) / 60,
      export_kwh: ps.reduce((s, p) => s + Math.max(-p, 0), 0) / 60,
      net_mean_kw: ps.reduce((s, p) => s + p, 0) / ps.length,
      meters: meters.get(key)!.size,
    });
  }
  return { sim, truth: out };
}

function expectMatches(rows: DtSlotTruth[], expected: ReturnType<typeof independentTruth>['truth']) {
  expect(rows).toHaveLength(expected.size);
  for (const row of rows) {
    const e = expected.get(`${row.dt_id} ${row.slot_start}`);
    expect(e, `${row.dt_id} ${row.slot_start}`).toBeDefined();
    expect(row.import_kwh).toBeCloseTo(e!.import_kwh, 9);
    expect(row.export_kwh).toBeCloseTo(e!.export_kwh, 9);
    expect(row.net_mean_kw).toBeCloseTo(e!.net_mean_kw, 9);
    expect(row.meters).toBe(e!.meters);
  }
}

describe('ground truth per DT and slot', () => {
  it('equals the energy summed independently from the published one-minute readings', () => {
    const o = options();
    const { sim, truth } = independentTruth(o);
    const rows = computeGroundTruth(sim.messages(), sim.topology.meters);
    expectMatches(rows, truth);
    expect(rows).toHaveLength(3 * 2 * 96);
    expect(rows.every((r) => r.slot_start % SLOT_MS === 0 && r.minutes === 15)).toBe(true);
    // Reverse power flow at midday and import in the evening both occur.
    expect(rows.some((r) => r.export_kwh > 0)).toBe(true);
    expect(rows.some((r) => r.import_kwh > 5)).toBe(true);
    // Backfill delivers everything except an outage still going on at the end of the run.
    const full = rows.filter((r) => r.meters === 12).length;
    expect(full / rows.length).toBeGreaterThan(0.9);
  });

  it('holds each reading over its interval when readings are longer than a minute', () => {
    const o = options({ intervalMs: 5 * MINUTE_MS, silentShare: 0 });
    const { sim, truth } = independentTruth(o);
    const rows = computeGroundTruth(sim.messages(), sim.topology.meters, { intervalMs: o.intervalMs });
    expectMatches(rows, truth);
    expect(rows.every((r) => r.meters === 12)).toBe(true);
  });

  it('counts only the meters with data when readings are lost', () => {
    const o = options({ backfillSilent: false });
    const { sim, truth } = independentTruth(o);
    const rows = computeGroundTruth(sim.messages(), sim.topology.meters);
    expectMatches(rows, truth);
    expect(rows.some((r) => r.meters < 12)).toBe(true);
  });

  it('finalises slots while streaming, never revising a slot it already returned', () => {
    const sim = createSimulation(options());
    const streaming = new GroundTruth(sim.topology.meters);
    const early: DtSlotTruth[] = [];
    let lastSlot = -Infinity;
    for (const m of sim.messages())
      for (const row of streaming.add(m)) {
        expect(row.slot_start).toBeGreaterThanOrEqual(lastSlot);
        lastSlot = row.slot_start;
        early.push(row);
      }
    const rest = streaming.finish();
    expect(early.length).toBeGreaterThan(rest.length);
    const all = computeGroundTruth(sim.messages(), sim.topology.meters, { horizonMs: Infinity });
    expect([...early, ...rest]).toEqual(all);
  });

  it('is the same for the same seed and differs for another', () => {
    const truthOf = (seed: number) => {
      const sim = createSimulation(options({ seed, endMs: START + DAY_MS / 4 }));
      return formatTruthCsv(computeGroundTruth(sim.messages(), sim.topology.meters));
    };
    expect(truthOf(3)).toBe(truthOf(3));
    expect(truthOf(4)).not.toBe(truthOf(3));
  });

  it('writes CSV with the documented header and ISO slot starts', () => {
    const csv = formatTruthCsv([
      {
        dt_id: 'dt-0001',
        slot_start: Date.UTC(2026, 4, 4, 10, 15),
        import_kwh: 12.3456789,
        export_kwh: 0,
        net_mean_kw: -1 / 3,
        meters: 4,
        minutes: 15,
      },
    ]);
    expect(csv).toBe(`${TRUTH_CSV_HEADER}\ndt-0001,2026-05-04T10:15:00.000Z,12.345679,0,-0.333333\n`);
    expect(TRUTH_CSV_HEADER).toBe('dt_id,slot_start,import_kwh,export_kwh,net_mean_kw');
  });
});

describe('impedance ground truth', () => {
  it('gives every meter leg a value per UTC day, rising day by day on degrading connections', () => {
    const sim = createSimulation(
      options({ transformers: 5, metersPerTransformer: 20, endMs: START + 10 * DAY_MS }),
    );
    const rows = [...impedanceTruth(sim, START, START + 10 * DAY_MS)];
    const legs = sim.meters.reduce((s, m) => s + m.legs, 0);
    expect(rows).toHaveLength(10 * legs);
    expect(rows[0]!.day).toBe('2026-05-04');
    expect(rows.at(-1)!.day).toBe('2026-05-13');
    const degrading = sim.meters.filter((m) => m.degradation);
    expect(degrading.length).toBe(3);
    for (const row of rows) {
      const m = sim.meters.find((x) => x.meter_id === row.meter_id)!;
      const degraded =
        m.degradation?.leg === row.leg && Date.parse(row.day) / DAY_MS >= m.degradation.onsetDay;
      if (!degraded) {
        expect(row.impedance_mohm).toBe(m.impedanceMohm[row.leg - 1]);
        expect(row.impedance_mohm).toBeGreaterThanOrEqual(50);
        expect(row.impedance_mohm).toBeLessThanOrEqual(400);
      } else {
        expect(row.impedance_mohm).toBeGreaterThan(m.impedanceMohm[row.leg - 1]!);
        expect(row.impedance_mohm).toBeLessThanOrEqual(DEGRADED_CAP_MOHM);
      }
    }
    for (const m of degrading) {
      const series = rows.filter((r) => r.meter_id === m.meter_id && r.leg === m.degradation!.leg);
      for (let k = 1; k < series.length; k++)
        expect(series[k]!.impedance_mohm).toBeGreaterThanOrEqual(series[k - 1]!.impedance_mohm);
      expect(series.at(-1)!.impedance_mohm).toBeGreaterThan(series[0]!.impedance_mohm);
    }
    expect(formatImpedanceCsv(rows.slice(0, 1))).toBe(
      `${IMPEDANCE_CSV_HEADER}\n${rows[0]!.meter_id},${rows[0]!.leg},2026-05-04,${rows[0]!.impedance_mohm}\n`,
    );
  });

  it('is the impedance the voltages were computed with', () => {
    const sim = createSimulation(
      options({ transformers: 5, metersPerTransformer: 20, endMs: START + 3 * DAY_MS }),
    );
    const m = sim.meters.find((x) => x.degradation)!;
    const leg = m.degradation!.leg;
    for (const step of sim.steps()) {
      if (step.ts % (6 * 3_600_000) !== 0) continue;
      expect(step.impedanceMohm[m.index]![leg - 1]).toBeCloseTo(
        sim.impedanceMohm(m.index, leg, Math.floor(step.ts / DAY_MS)),
        9,
      );
    }
  });
});
