import { describe, expect, it } from 'vitest';

import { DAY_MS, MINUTE_MS } from '../../core/time.js';
import {
  DEFAULT_IMPEDANCE_CONFIG,
  initialImpedanceState,
  stepImpedance,
  type ImpedanceConfig,
  type ImpedanceOutput,
} from '../../processors/impedance/impedance.js';
import {
  LegSteps,
  effectiveCount,
  noiseFloorStdErr,
  weightedMedian,
  weightedMedianStdErr,
  type StepEstimate,
} from '../../processors/impedance/impedance-steps.js';
import type { MeterReading } from '../../schemas/types.gen.js';

const T0 = Date.UTC(2026, 6, 1);
const DT_OHM = 0.08;

/** A deterministic pseudo-random sequence (the test must not depend on Math.random). */
function lcg(seed: number) {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

interface Leg {
  meter: string;
  phase: number;
  ohm: number;
  /** Current when idle, A (negative: exporting). */
  base: number;
}

/**
 * A DT with single-phase meters spread over three phases, noise-free physics: each phase's terminal voltage
 * is the supply (drifting) minus the DT impedance times the phase current; a meter's voltage is that minus
 * its own service drop. Every minute one meter switches an appliance of `stepA` on or off.
 */
function* synthetic(legs: Leg[], minutes: number, stepA = 5, seed = 1) {
  const random = lcg(seed);
  const on = legs.map(() => false);
  for (let m = 0; m < minutes; m++) {
    const ts = T0 + m * MINUTE_MS;
    if (m > 0) {
      const k = Math.floor(random() * legs.length);
      on[k] = !on[k];
    }
    const currents = legs.map((leg, k) => leg.base + (on[k] ? stepA : 0));
    const supply = 240 + 2 * Math.sin(m / 90);
    const phaseCurrent = [0, 0, 0];
    legs.forEach((leg, k) => (phaseCurrent[leg.phase]! += currents[k]!));
    yield legs.map((leg, k): MeterReading => {
      const i = currents[k]!;
      const v = supply - DT_OHM * phaseCurrent[leg.phase]! - leg.ohm * i;
      return {
        meter_id: leg.meter,
        dt_id: 'dt-1',
        ts,
        p_kw: (v * i) / 1000,
        q_kvar: null,
        legs: [{ leg: 1, v, i: Math.abs(i) }],
        e_imp_kwh: null,
        e_exp_kwh: null,
        received_at: ts + MINUTE_MS,
      };
    });
  }
}

const feeder = (count: number): Leg[] =>
  Array.from({ length: count }, (_, k) => ({
    meter: `m${String(k).padStart(2, '0')}`,
    phase: k % 3,
    ohm: 0.05 + 0.01 * k,
    base: 1 + (k % 4) * 0.5,
  }));

function run(legs: Leg[], minutes: number, config: ImpedanceConfig = DEFAULT_IMPEDANCE_CONFIG, stepA = 5) {
  let state = initialImpedanceState();
  const outputs: ImpedanceOutput[] = [];
  for (const readings of synthetic(legs, minutes, stepA))
    for (const reading of readings) {
      const step = stepImpedance(state, { type: 'reading', reading }, config);
      state = step.state;
      outputs.push(...step.outputs);
    }
  return { state, outputs };
}

describe('impedance from current steps (noise-free physics)', () => {
  it("gives each estimate the exact receive time of the leg's reading after the step, however far from its time", () => {
    const legs = feeder(18);
    const steps = new LegSteps();
    const estimates: StepEstimate[] = [];
    // Receive times a minute after, a fraction of a millisecond after, a month after and before their time.
    const receivedAt = (meter: string, ts: number) =>
      ts +
      [MINUTE_MS, 0.25, 31 * DAY_MS, -3, -40 * DAY_MS][
        (Number(meter.replace(/\D/g, '')) + ts / MINUTE_MS) % 5
      ]!;
    for (const readings of synthetic(legs, 600)) {
      for (const r of readings)
        steps.add(
          r.meter_id,
          1,
          r.ts,
          r.legs[0]!.v,
          Math.sign(r.p_kw) * r.legs[0]!.i,
          receivedAt(r.meter_id, r.ts),
        );
      steps.close(readings[0]!.ts, estimates);
    }
    expect(estimates.length).toBeGreaterThan(100);
    const offsets = new Set<number>();
    for (const e of estimates) {
      const [meter] = steps.legOf(e.leg);
      expect(e.receivedAt).toBe(receivedAt(meter, e.ts));
      offsets.add(e.receivedAt - e.ts);
    }
    expect(offsets.size).toBe(5);
  });

  it("estimates each leg's service drop despite the DT's own drop and a drifting supply", () => {
    const legs = feeder(18);
    const steps = new LegSteps();
    const estimates: StepEstimate[] = [];
    for (const readings of synthetic(legs, 1500)) {
      for (const r of readings)
        steps.add(r.meter_id, 1, r.ts, r.legs[0]!.v, Math.sign(r.p_kw) * r.legs[0]!.i, r.received_at);
      steps.close(readings[0]!.ts, estimates);
    }
    expect(estimates.length).toBeGreaterThan(500);
    for (const e of estimates) {
      const leg = legs.find((l) => steps.legOf(e.leg)[0] === l.meter)!;
      expect(e.mohm).toBeCloseTo(leg.ohm * 1000, 1);
    }
  });

  it("learns each leg's phase mates: the whole DT as reference would add part of the DT impedance", () => {
    const legs = feeder(18);
    // The naive reference (median over every quiet leg of the DT) for one step of leg 0: two thirds of the
    // legs are on other phases and do not feel it, so the estimate carries the DT drop.
    const [before, after] = [...synthetic(legs, 2)];
    const dV = (k: number) => after![k]!.legs[0]!.v - before![k]!.legs[0]!.v;
    const stepped = legs.findIndex((_, k) => Math.abs(after![k]!.legs[0]!.i - before![k]!.legs[0]!.i) > 1);
    const others = legs.map((_, k) => k).filter((k) => k !== stepped);
    const naiveTerminal = others.map(dV).sort((a, b) => a - b)[others.length >> 1]!;
    const naive = (-(dV(stepped) - naiveTerminal) / 5) * 1000;
    expect(naive - legs[stepped]!.ohm * 1000).toBeGreaterThan(0.9 * DT_OHM * 1000);

    const { outputs } = run(legs, 3 * 1440);
    const rows = outputs.flatMap((o) => (o.type === 'leg-day' && o.row.is_final ? [o.row] : []));
    expect(rows.length).toBeGreaterThan(legs.length);
    for (const row of rows) {
      const leg = legs.find((l) => l.meter === row.meter_id)!;
      expect(Math.abs(row.median_mohm / (leg.ohm * 1000) - 1)).toBeLessThan(0.001);
    }
  });

  it('gives the same impedance for a leg that exports (the current is signed by the power flow)', () => {
    const legs = feeder(18).map((leg, k) => (k % 2 ? { ...leg, base: -4 - leg.base } : leg));
    const { outputs } = run(legs, 2 * 1440);
    const exporters = outputs.flatMap((o) =>
      o.type === 'leg-day' && o.row.is_final && legs.find((l) => l.meter === o.row.meter_id)!.base < 0
        ? [o.row]
        : [],
    );
    expect(exporters.length).toBeGreaterThan(0);
    for (const row of exporters) {
      const leg = legs.find((l) => l.meter === row.meter_id)!;
      expect(row.median_mohm).toBeCloseTo(leg.ohm * 1000, 1);
    }
  });

  it('yields no estimate for a leg before it has seen warmupSteps steps of its own', () => {
    const legs = feeder(9);
    const steps = new LegSteps();
    const estimates: StepEstimate[] = [];
    const seen = new Map<string, number>();
    let previous: MeterReading[] | null = null;
    for (const readings of synthetic(legs, 600)) {
      for (const r of readings) steps.add(r.meter_id, 1, r.ts, r.legs[0]!.v, r.legs[0]!.i, r.received_at);
      const before = estimates.length;
      steps.close(readings[0]!.ts, estimates);
      for (const e of estimates.slice(before)) {
        const key = steps.legOf(e.leg).join('\u0000');
        expect(seen.get(key) ?? 0, key).toBeGreaterThanOrEqual(DEFAULT_IMPEDANCE_CONFIG.steps.warmupSteps);
      }
      // Count the steps (evaluation lags the plateau, so count them as they happen, at most early).
      if (previous)
        readings.forEach((r, k) => {
          if (Math.abs(r.legs[0]!.i - previous![k]!.legs[0]!.i) >= 2) {
            const key = `${r.meter_id}\u00001`;
            seen.set(key, (seen.get(key) ?? 0) + 1);
          }
        });
      previous = readings;
    }
    expect(estimates.length).toBeGreaterThan(0);
  });

  it('ignores a re-delivered reading and refuses one for a time already closed', () => {
    const steps = new LegSteps();
    const out: StepEstimate[] = [];
    expect(steps.add('m', 1, T0, 230, 1, T0)).toBe('added');
    expect(steps.add('m', 1, T0, 231, 1, T0)).toBe('duplicate');
    steps.close(T0 + MINUTE_MS, out);
    expect(steps.add('m', 1, T0 + MINUTE_MS, 230, 1, T0)).toBe('closed');
    expect(steps.add('m', 1, T0 + 2 * MINUTE_MS, 230, 1, T0)).toBe('added');
  });

  it('tells legs apart by meter and leg number, an unusual leg number too', () => {
    const steps = new LegSteps();
    expect(steps.add('m', 1, T0, 230, 1, T0)).toBe('added');
    expect(steps.add('m', 2, T0, 231, 1, T0)).toBe('added');
    expect(steps.add('n', 1, T0, 229, 1, T0)).toBe('added');
    expect(steps.add('m', 7, T0, 232, 1, T0)).toBe('added');
    expect(steps.add('m', 7, T0, 232, 1, T0)).toBe('duplicate');
    expect(steps.add('m', 2, T0, 231, 1, T0)).toBe('duplicate');
    expect(Array.from({ length: steps.legCount }, (_, leg) => steps.legOf(leg))).toEqual([
      ['m', 1],
      ['m', 2],
      ['n', 1],
      ['m', 7],
    ]);
  });

  it('holds only the readings later steps can still use', () => {
    const steps = new LegSteps();
    const out: StepEstimate[] = [];
    for (let m = 0; m < 500; m++) {
      steps.add('m', 1, T0 + m * MINUTE_MS, 230, 1, T0);
      steps.close(T0 + m * MINUTE_MS, out);
    }
    expect(steps.heldTimes).toBeLessThanOrEqual(2 * DEFAULT_IMPEDANCE_CONFIG.steps.plateauReadings);
  });
});

describe('impedance processor outputs', () => {
  it('counts a reading for a closed time as too late for impedance', () => {
    let state = initialImpedanceState();
    const reading = (ts: number): MeterReading => ({
      meter_id: 'm',
      dt_id: 'dt-1',
      ts,
      p_kw: 1,
      q_kvar: null,
      legs: [{ leg: 1, v: 230, i: 4 }],
      e_imp_kwh: null,
      e_exp_kwh: null,
      received_at: ts,
    });
    state = stepImpedance(state, { type: 'reading', reading: reading(T0 + 60 * MINUTE_MS) }).state;
    const late = stepImpedance(state, { type: 'reading', reading: reading(T0) });
    expect(late.outputs).toEqual([{ type: 'too-late', reading: reading(T0) }]);
  });

  it('emits provisional medians on punctuation and a final one with a higher version once the day is done', () => {
    const legs = feeder(12);
    // Noise-free readings: a voltage noise of 1 mV lets a few steps make a publishable median.
    const config: ImpedanceConfig = {
      ...DEFAULT_IMPEDANCE_CONFIG,
      evidence: { ...DEFAULT_IMPEDANCE_CONFIG.evidence, voltageNoiseV: 0.001 },
    };
    let state = initialImpedanceState();
    const provisional: number[] = [];
    const final: Array<{ version: number; received_at: number; event_count: number }> = [];
    let minute = 0;
    for (const readings of synthetic(legs, 1440 + 120)) {
      for (const reading of readings) {
        const step = stepImpedance(state, { type: 'reading', reading }, config);
        state = step.state;
        for (const o of step.outputs)
          if (o.type === 'leg-day' && o.row.meter_id === 'm00' && o.row.is_final) final.push(o.row);
      }
      if (++minute % 60 === 0)
        for (const o of stepImpedance(state, { type: 'emit' }, config).outputs)
          if (o.type === 'leg-day' && o.row.meter_id === 'm00') {
            expect(o.row.is_final).toBe(false);
            expect(o.row.day).toBe(T0);
            provisional.push(o.row.version);
          }
    }
    expect(provisional.length).toBeGreaterThan(1);
    expect([...provisional].sort((a, b) => a - b)).toEqual(provisional);
    expect(final).toHaveLength(1);
    expect(final[0]!.version).toBe(2 * (final[0]!.received_at + final[0]!.event_count) + 1);
    expect(final[0]!.version).toBeGreaterThan(provisional.at(-1)!);
    expect(final[0]!.received_at).toBeLessThan(T0 + DAY_MS + MINUTE_MS);
  });

  it('publishes no median for a leg-day without enough steps, and says so', () => {
    const legs = feeder(12);
    const strict: ImpedanceConfig = {
      ...DEFAULT_IMPEDANCE_CONFIG,
      evidence: { ...DEFAULT_IMPEDANCE_CONFIG.evidence, minEffectiveEvents: 10_000 },
    };
    const { outputs } = run(legs, 1440 + 120, strict);
    expect(outputs.some((o) => o.type === 'leg-day' && o.row.is_final)).toBe(false);
    const insufficient = outputs.filter((o) => o.type === 'insufficient');
    expect(insufficient.length).toBeGreaterThan(0);
  });
});

describe('weighted median statistics', () => {
  it('takes the value where half the weight lies on each side', () => {
    expect(weightedMedian([1, 2, 3], [1, 1, 1])).toBe(2);
    expect(weightedMedian([1, 2, 3], [1, 1, 5])).toBe(3);
    expect(weightedMedian([10, 1, 5], [1, 1, 1])).toBe(5);
  });

  it('counts effective estimates: n for equal weights, about one when one dominates', () => {
    expect(effectiveCount([2, 2, 2, 2])).toBeCloseTo(4);
    expect(effectiveCount([1000, 1, 1])).toBeLessThan(1.01);
  });

  it('puts a floor under the standard error from the voltage noise', () => {
    // Eight estimates, each from a 5 A step between single readings (weight 25 / 2), 0.1 V noise.
    const weights = Array<number>(8).fill(12.5);
    const floor = noiseFloorStdErr(weights, 0.1);
    expect(floor).toBeCloseTo(1000 * 0.1 * Math.sqrt(Math.PI / 2 / 100), 6);
    // Identical estimates have no spread, so only the floor bounds their standard error.
    expect(weightedMedianStdErr(Array<number>(8).fill(150), weights, 150)).toBe(0);
  });
});
