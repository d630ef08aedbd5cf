import { describe, expect, it } from 'vitest';
import { DEFAULT_CALIBRATION, formatCalibration, runCalibration } from '../../bin/calibrate.js';
import { ReliabilityAccumulator, formatReliability } from '../../processors/stress/stress-calibration.js';
import { DEFAULT_STRESS_CONFIG } from '../../processors/stress/stress.js';
import { SimulationOptionsError, buildTopology, createSimulation } from '../../simulator/model.js';

describe('reliability and Brier score', () => {
  it('bins forecasts, scores them, and scores climatology as the base rate', () => {
    const r = new ReliabilityAccumulator();
    // 100 forecasts: 80 at 0.0 (no event), 20 at 0.9 (18 events).
    for (let i = 0; i < 80; i++) r.add(0, false);
    for (let i = 0; i < 20; i++) r.add(0.9, i < 18);
    const result = r.result();
    expect(result.count).toBe(100);
    expect(result.events).toBe(18);
    expect(result.baseRate).toBeCloseTo(0.18, 12);
    expect(result.brier).toBeCloseTo((18 * 0.01 + 2 * 0.81) / 100, 12);
    expect(result.brierClimatology).toBeCloseTo(0.18 * 0.82, 12);
    expect(result.skill).toBeCloseTo(1 - 0.018 / 0.1476, 9);
    const top = result.bins.find((b) => b.count === 20)!;
    expect([top.low, top.high, top.meanPredicted, top.observedFrequency]).toEqual([0.9, 0.95, 0.9, 0.9]);
    expect(formatReliability('test', result)).toMatch(/0\.90-0\.95\s+20\s+0\.9000\s+0\.9000/);
    expect(() => r.add(1.2, true)).toThrow(RangeError);
  });
});

describe('simulator options for a stressed fleet', () => {
  const START = Date.UTC(2026, 3, 1);
  const base = {
    seed: 3,
    transformers: 6,
    metersPerTransformer: 10,
    startMs: START,
    endMs: START + 3_600_000,
  };

  it('scale every rating, and leave the default fleet as it was', () => {
    const sized = buildTopology(base).transformers.map((t) => t.rated_kva);
    expect(buildTopology({ ...base, ratingScale: 1 }).transformers.map((t) => t.rated_kva)).toEqual(sized);
    expect(buildTopology({ ...base, ratingScale: 0.55 }).transformers.map((t) => t.rated_kva)).toEqual(
      sized.map((kva) => Math.round(kva * 0.55 * 10) / 10),
    );
    expect(() => buildTopology({ ...base, ratingScale: 0 })).toThrow(SimulationOptionsError);
  });

  it('shift the ambient by a constant, and change nothing else of the weather', () => {
    const ambient = (offset?: number) =>
      [...createSimulation({ ...base, ambientOffsetC: offset }).steps()].map((s) => s.weather[0]!.ambient_c);
    const plain = ambient();
    const hot = ambient(5);
    expect(ambient(0)).toEqual(plain);
    hot.forEach((c, i) => expect(c - plain[i]!).toBeCloseTo(5, 6));
    expect(() => createSimulation({ ...base, ambientOffsetC: 40 })).toThrow(/ambientOffsetC/);
  });
});

describe('calibration on simulated ground truth', () => {
  it('a smaller calibration: thermal and voltage stress forecasts beat climatology, next slot and a day ahead', () => {
    const options = {
      ...DEFAULT_CALIBRATION,
      transformers: 8,
      metersPerTransformer: 30,
      warmupDays: 5,
      days: 7,
      intervalMs: 15 * 60_000,
      leads: [1, 96],
      stress: DEFAULT_STRESS_CONFIG,
    };
    const result = runCalibration(options);
    console.log(formatCalibration(options, result));
    expect(result.scoredSlots).toBe(8 * 7 * 96);
    // The processor's own observed exceedances agree with the truth (the envelopes see the same load).
    expect(result.observedAgreement.thermal).toBeGreaterThan(0.99);
    expect(result.observedAgreement.voltage).toBeGreaterThan(0.99);
    for (const { lead, thermal, voltage } of result.leads) {
      // Enough events to score, and forecasts for almost every slot.
      expect(thermal.events, `lead ${lead}`).toBeGreaterThan(100);
      expect(voltage.events, `lead ${lead}`).toBeGreaterThan(100);
      expect(thermal.count).toBeGreaterThan(0.99 * result.scoredSlots);
      expect(thermal.brier, `thermal lead ${lead}`).toBeLessThan(thermal.brierClimatology);
      expect(voltage.brier, `voltage lead ${lead}`).toBeLessThan(voltage.brierClimatology);
    }
    const next = result.leads.find((l) => l.lead === 1)!;
    expect(next.thermal.skill).toBeGreaterThan(0.8);
    expect(next.voltage.skill).toBeGreaterThan(0.3);
    // Reliable at the ends, where most forecasts are: "no" means no, "yes" means yes.
    const [lowest] = next.thermal.bins;
    const highest = next.thermal.bins.at(-1)!;
    expect(lowest!.count).toBeGreaterThan(1000);
    expect(lowest!.observedFrequency).toBeLessThan(0.01);
    expect(highest.count).toBeGreaterThan(50);
    expect(highest.observedFrequency).toBeGreaterThan(0.9);
  }, 300_000);
});
