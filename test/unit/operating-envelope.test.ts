import { describe, expect, it } from 'vitest';
import {
  OperatingEnvelopeSolver,
  allocateForecast,
  type ConfidenceQuantiles,
  type EnvelopeDt,
  type SlotForecast,
} from '../../processors/stress/operating-envelope.js';
import { normalQuantile, t4Cdf, t4Quantile, t4Sf } from '../../processors/stress/stress-math.js';
import { NORMAL_CYCLIC_LIMITS, SlotKernel } from '../../processors/stress/stress-thermal.js';
import { COOLING_SETS, ThermalModel, ThermalStates } from '../../processors/thermal/thermal.js';
import { Rng } from '../../simulator/random.js';

const H = 96;
const model = new ThermalModel(COOLING_SETS['distribution-ONAN']);
const kernel = new SlotKernel(model);
const limits = NORMAL_CYCLIC_LIMITS;
const RATED = 100;
const q95: ConfidenceQuantiles = { load: t4Quantile(0.95), ambient: normalQuantile(0.95) };

/** A DT in the steady state of load factor k0 at an ambient, as the processor holds it after a quiet spell. */
function steadyDt(k0: number, ambientC: number, extra: Partial<EnvelopeDt> = {}): EnvelopeDt {
  const states = new ThermalStates(1);
  model.initSteady(states, 0, k0, ambientC);
  return {
    kernel,
    ratedKva: RATED,
    limits,
    vLow: 216.2,
    vHigh: 253,
    sensitivityVPerKw: 0.1,
    topOilC: states.topOilC(0),
    rise1: states.rise1(0),
    rise2: states.rise2(0),
    ...extra,
  };
}

/** A forecast: base load (kW, unity power factor) and sd per slot, flat ambient, no voltages unless given. */
function forecast(
  base: (j: number) => number,
  sd: (j: number) => number,
  ambientC: number,
  voltage?: { vMin: number; vMax: number; sd: number },
): SlotForecast {
  const fc = allocateForecast(H);
  for (let j = 0; j < H; j++) {
    fc.pMean[j] = base(j);
    fc.pSd[j] = sd(j);
    fc.q[j] = 0;
    fc.w[j] = 0;
    fc.ambMean[j] = ambientC;
    fc.ambSd[j] = 1;
    fc.vMinMean[j] = voltage ? voltage.vMin : Number.NaN;
    fc.vMaxMean[j] = voltage ? voltage.vMax : Number.NaN;
    fc.vMinSd[j] = voltage ? voltage.sd : Number.NaN;
    fc.vMaxSd[j] = voltage ? voltage.sd : Number.NaN;
  }
  return fc;
}

/** Runs slots [0, n) from the DT's state at the given net loads (kW) and ambient: the hottest peak and oil. */
function run(dt: EnvelopeDt, loadKw: (j: number) => number, ambient: (j: number) => number, n: number) {
  let o = dt.topOilC;
  let r1 = dt.rise1;
  let r2 = dt.rise2;
  let peak = -Infinity;
  let oil = -Infinity;
  let k = 0;
  for (let j = 0; j < n; j++) {
    const kf = Math.abs(loadKw(j)) / dt.ratedKva;
    k = Math.max(k, kf);
    const r = kernel.slot(o, r1, r2, kf, ambient(j));
    peak = Math.max(peak, r.peakHotSpotC);
    oil = Math.max(oil, r.topOilC);
    o = r.topOilC;
    r1 = r.rise1;
    r2 = r.rise2;
  }
  return { peak, oil, k };
}

describe('operating envelope', () => {
  it('a cool transformer shows headroom above nameplate for one slot, but not for six', () => {
    // A hot afternoon (40 °C) after a light morning (K 0.4): the oil is far below its limit.
    const dt = steadyDt(0.4, 40);
    const fc = forecast(
      () => 40,
      () => 2,
      40,
    );
    const solver = new OperatingEnvelopeSolver(H);
    const baseHigh = 40 + q95.load * 2;
    const ambientHigh = 40 + q95.ambient * 1;
    const oneSlot = solver.burstHeadroomKw(dt, fc, H, 1, 1, q95, 1);
    const sixSlots = solver.burstHeadroomKw(dt, fc, H, 1, 6, q95, 1);
    // One slot: the thermal mass takes the load above nameplate, up to the load-factor limit.
    expect(baseHigh + oneSlot).toBeGreaterThan(RATED * 1.4);
    expect(baseHigh + oneSlot).toBeCloseTo(RATED * limits.loadFactor, 1);
    // Six slots of that burst heat the oil too far: the hot spot goes over its limit...
    const held = run(
      dt,
      (j) => (j < 6 ? baseHigh + oneSlot : baseHigh),
      () => ambientHigh,
      6,
    );
    expect(held.peak).toBeGreaterThan(limits.hotSpotC);
    // ... so six slots allow less, limited by the hot spot, not by K.
    expect(sixSlots).toBeLessThan(oneSlot - 10);
    const six = run(
      dt,
      (j) => (j < 6 ? baseHigh + sixSlots : baseHigh),
      () => ambientHigh,
      6,
    );
    expect(six.peak).toBeCloseTo(limits.hotSpotC, 0);
    expect(six.k).toBeLessThan(limits.loadFactor);

    // The envelope's one-slot figure (closed form over the later slots) agrees with the direct simulation.
    const res = solver.envelope(dt, fc, H, q95);
    expect(res.importSlotKw[0]!).toBeCloseTo(oneSlot, 0);
    // The sustained envelope starts above nameplate and settles as the oil would heat.
    expect(baseHigh + res.importKw[0]!).toBeGreaterThan(RATED);
    expect(res.importKw[H - 1]!).toBeLessThan(res.importKw[0]! - 20);
    expect(res.importLimitedBy[0]).toBe('load_factor');
    expect(res.importLimitedBy[H - 1]).toBe('hot_spot');
  });

  it('the sustained envelope is safe when used in full in every slot, and the one-slot figure in its slot alone', () => {
    // An evening peak on a warm day, a cool start.
    const base = (j: number) => 35 + 45 * Math.exp(-(((j - 40) / 8) ** 2));
    const dt = steadyDt(0.35, 32);
    const fc = forecast(base, (j) => 3 + 0.05 * base(j), 32);
    const solver = new OperatingEnvelopeSolver(H);
    const res = solver.envelope(dt, fc, H, q95);
    const high = (j: number) => fc.pMean[j]! + q95.load * fc.pSd[j]!;
    const ambient = () => 32 + q95.ambient;
    const full = run(dt, (j) => high(j) + res.importKw[j]!, ambient, H);
    expect(full.peak).toBeLessThanOrEqual(limits.hotSpotC + 1e-6);
    expect(full.oil).toBeLessThanOrEqual(limits.topOilC + 1e-6);
    expect(full.k).toBeLessThanOrEqual(limits.loadFactor + 1e-6);
    // Somewhere it binds (it is not just conservative).
    expect(full.peak).toBeGreaterThan(limits.hotSpotC - 0.5);
    for (const j of [0, 20, 39, 40, 60]) {
      const alone = run(dt, (i) => high(i) + (i === j ? res.importSlotKw[j]! : 0), ambient, H);
      expect(alone.peak, `slot ${j}`).toBeLessThanOrEqual(limits.hotSpotC + 0.01);
      expect(alone.k).toBeLessThanOrEqual(limits.loadFactor + 1e-6);
      expect(res.importSlotKw[j]!).toBeGreaterThanOrEqual(res.importKw[j]! - 1e-6);
      // And it is close to the most the direct simulation allows (the closed form is a little conservative).
      const exact = solver.burstHeadroomKw(dt, fc, H, j + 1, 1, q95, 1);
      expect(res.importSlotKw[j]!).toBeLessThanOrEqual(exact + 0.01);
      expect(res.importSlotKw[j]!).toBeGreaterThan(exact - 0.02 * RATED);
    }
  });

  it('exports: reverse flow counts against K like import, and voltage rise can bind first', () => {
    // Midday PV: the DT exports 30 kW.
    const dt = steadyDt(0.3, 30);
    const solver = new OperatingEnvelopeSolver(H);
    const thermalOnly = solver.envelope(
      dt,
      forecast(
        () => -30,
        () => 2,
        30,
      ),
      H,
      q95,
    );
    const low = -30 - q95.load * 2;
    // Thermal: net export may reach the K limit (cool oil), i.e. 150 kW − 30 kW − the confidence margin.
    expect(thermalOnly.exportKw[0]!).toBeCloseTo(RATED * limits.loadFactor + low, 0);
    expect(thermalOnly.exportLimitedBy[0]).toBe('load_factor');
    // With voltages: the highest customer is at 249 V, 4 V below the band's top at 0.1 V/kW: ~40 kW less
    // the confidence margin.
    const withVolts = forecast(
      () => -30,
      () => 2,
      30,
      { vMin: 232, vMax: 249, sd: 0.5 },
    );
    const res = solver.envelope(dt, withVolts, H, q95);
    expect(res.exportLimitedBy[0]).toBe('voltage');
    expect(res.exportKw[0]!).toBeCloseTo((253 - (249 + q95.load * 0.5)) / 0.1, 6);
    // Import is voltage-limited too: 232 V less the margin down to 216.2 V.
    expect(res.importKw[0]!).toBeCloseTo((232 - q95.load * 0.5 - 216.2) / 0.1, 6);
  });

  it('gives a transformer already over its limit no import headroom', () => {
    const dt = steadyDt(1.35, 42);
    const res = new OperatingEnvelopeSolver(H).envelope(
      dt,
      forecast(
        () => 135,
        () => 5,
        42,
      ),
      H,
      q95,
    );
    for (let j = 0; j < H; j++) {
      expect(res.importKw[j]).toBe(0);
      expect(res.importSlotKw[j]).toBe(0);
    }
    expect(res.hotSpotC[0]!).toBeGreaterThan(limits.hotSpotC);
  });
});

describe('stress probabilities', () => {
  /** Monte Carlo under the method's own model: one t₄ draw for the path, a normal ambient error per slot. */
  function monteCarlo(dt: EnvelopeDt, fc: SlotForecast, slots: number[], draws: number): number[] {
    const rng = new Rng(99);
    const hits = slots.map(() => 0);
    const sigma = (j: number) => Math.sqrt(fc.ambSd[j]! ** 2 + 1);
    for (let d = 0; d < draws; d++) {
      // t₄/√2: a normal over √(χ²₄/4), scaled to unit variance.
      const chi2 = -2 * Math.log((1 - rng.next()) * (1 - rng.next()));
      const z = rng.normal() / Math.sqrt(chi2 / 4) / Math.SQRT2;
      let o = dt.topOilC;
      let r1 = dt.rise1;
      let r2 = dt.rise2;
      for (let j = 0, s = 0; j <= slots[slots.length - 1]!; j++) {
        const p = fc.pMean[j]! + z * fc.pSd[j]!;
        const k = Math.abs(p) / dt.ratedKva;
        const r = kernel.slot(o, r1, r2, k, fc.ambMean[j]!);
        if (j === slots[s]) {
          const margin = Math.max(r.peakHotSpotC - limits.hotSpotC, r.topOilC - limits.topOilC);
          if (k > limits.loadFactor || margin + sigma(j) * rng.normal() > 0) hits[s]!++;
          s++;
        }
        o = r.topOilC;
        r1 = r.rise1;
        r2 = r.rise2;
      }
    }
    return hits.map((h) => h / draws);
  }

  it('match a Monte Carlo of the load and ambient model they assume, from near 0 to near 1', () => {
    // An evening peak that takes the hot spot near its limit on a hot day.
    const base = (j: number) => 45 + 80 * Math.exp(-(((j - 30) / 10) ** 2));
    const dt = steadyDt(0.45, 40);
    const fc = forecast(base, (j) => 4 + 0.08 * base(j), 40);
    const solver = new OperatingEnvelopeSolver(H);
    const p = new Float64Array(H);
    solver.thermalProbabilities(dt, fc, H, p);
    const slots = [5, 15, 20, 25, 30, 35, 45];
    const mc = monteCarlo(dt, fc, slots, 40_000);
    const pairs = slots.map((j, i) => [p[j]!, mc[i]!]);
    expect(Math.max(...pairs.map(([a]) => a!))).toBeGreaterThan(0.5);
    expect(Math.min(...pairs.map(([a]) => a!))).toBeLessThan(0.01);
    // 40,000 draws: a standard error of 0.0025 at p = 0.5.
    for (const [closed, simulated] of pairs) expect(Math.abs(closed! - simulated!)).toBeLessThan(0.01);
  });

  it('are near 0 far below the limits and near 1 far above', () => {
    const solver = new OperatingEnvelopeSolver(H);
    const p = new Float64Array(H);
    solver.thermalProbabilities(
      steadyDt(0.3, 25),
      forecast(
        () => 30,
        () => 5,
        25,
      ),
      H,
      p,
    );
    expect(Math.max(...p)).toBeLessThan(1e-4);
    solver.thermalProbabilities(
      steadyDt(1.6, 40),
      forecast(
        () => 160,
        () => 5,
        40,
      ),
      H,
      p,
    );
    expect(Math.min(...p)).toBeGreaterThan(0.99);
  });

  it('voltage: the chance the lowest voltage is under the band or the highest over it', () => {
    const solver = new OperatingEnvelopeSolver(4);
    const fc = forecast(
      () => 0,
      () => 1,
      25,
      { vMin: 218, vMax: 250, sd: 1.5 },
    );
    const p = new Float64Array(4);
    solver.voltageProbabilities(steadyDt(0.3, 25), fc, 4, p);
    const low = t4Cdf((216.2 - 218) / 1.5);
    const high = t4Sf((253 - 250) / 1.5);
    expect(p[0]).toBeCloseTo(1 - (1 - low) * (1 - high), 12);
    solver.voltageProbabilities(
      steadyDt(0.3, 25),
      forecast(
        () => 0,
        () => 1,
        25,
      ),
      4,
      p,
    );
    expect(Number.isNaN(p[0]!)).toBe(true);
  });
});
