import { describe, expect, it } from 'vitest';
import {
  LONG_TIME_EMERGENCY_LIMITS,
  ModelCache,
  NORMAL_CYCLIC_LIMITS,
  SlotKernel,
  constantsOf,
} from '../../processors/stress/stress-thermal.js';
import {
  normalCdf,
  normalQuantile,
  normalSf,
  t4Cdf,
  t4Quantile,
  t4Sf,
} from '../../processors/stress/stress-math.js';
import { COOLING_SETS, ThermalModel, ThermalStates } from '../../processors/thermal/thermal.js';
import { Rng } from '../../simulator/random.js';

const onan = new ThermalModel(COOLING_SETS['distribution-ONAN']);
const onaf = new ThermalModel(COOLING_SETS['power-ONAF']);

describe('slot kernel (closed form of one slot)', () => {
  it('agrees with the thermal model stepped sub-step by sub-step, for k21 = 1 and k21 > 1 (tables within 1e-4 K)', () => {
    for (const model of [onan, onaf]) {
      const kernel = new SlotKernel(model);
      const states = new ThermalStates(1);
      model.init(states, 0, 60, 75);
      const loads = [0.3, 1.4, 0.9, 0, 1.8, 0.5];
      for (const [i, k] of loads.entries()) {
        const ambient = 20 + 3 * i;
        const fast = { ...kernel.slot(states.topOilC(0), states.rise1(0), states.rise2(0), k, ambient) };
        const r = kernel.slotExact(states.topOilC(0), states.rise1(0), states.rise2(0), k, ambient);
        const { topOilC, hotSpotC, peakHotSpotC } = r;
        // The tabulated targets are within 10⁻⁴ K.
        expect(Math.abs(fast.hotSpotC - hotSpotC)).toBeLessThan(1e-4);
        expect(Math.abs(fast.topOilC - topOilC)).toBeLessThan(1e-4);
        model.stepSlot(states, 0, k, ambient);
        expect(topOilC).toBeCloseTo(states.topOilC(0), 9);
        expect(hotSpotC).toBeCloseTo(states.hotSpotC(0), 9);
        // The model's peak includes the slot's start; the kernel's does not, so it is never higher.
        expect(peakHotSpotC).toBeLessThanOrEqual(states.peakHotSpotC(0) + 1e-9);
        expect(peakHotSpotC).toBeGreaterThanOrEqual(hotSpotC - 1e-9);
      }
    }
  });

  it('finds the largest load factor within the limits: a little more breaks one', () => {
    const kernel = new SlotKernel(onan);
    const limits = NORMAL_CYCLIC_LIMITS;
    // Hot: the hot spot binds below the K limit.
    const hot = { ...kernel.maxLoadFactor(95, 20, 0, 40, limits) };
    expect(hot.limitedBy).toBe('hot_spot');
    expect(hot.k).toBeGreaterThan(0.5);
    expect(hot.k).toBeLessThan(limits.loadFactor);
    expect(kernel.excess(95, 20, 0, hot.k, 40, limits)).toBeLessThanOrEqual(0);
    expect(kernel.excess(95, 20, 0, hot.k + 0.0005, 40, limits)).toBeGreaterThan(0);
    // ... checked against the model itself: the peak hot spot at that K is the limit.
    expect(kernel.slotExact(95, 20, 0, hot.k, 40).peakHotSpotC).toBeCloseTo(limits.hotSpotC, 3);
    // Cool: K's own limit binds.
    expect({ ...kernel.maxLoadFactor(40, 3, 0, 20, limits) }).toEqual({
      k: limits.loadFactor,
      limitedBy: 'load_factor',
    });
    // Top oil binds when the oil is near its limit and the winding cool (an emergency-limited hot spot).
    expect({ ...kernel.maxLoadFactor(103, 2, 0, 45, { ...limits, hotSpotC: 200 }) }).toMatchObject({
      limitedBy: 'top_oil',
    });
    // Too hot to cool within the slot even at no load.
    expect(kernel.maxLoadFactor(125, 25, 0, 40, limits)).toMatchObject({ k: 0 });
    // Emergency limits allow more.
    expect(kernel.maxLoadFactor(95, 20, 0, 40, LONG_TIME_EMERGENCY_LIMITS).k).toBeGreaterThan(hot.k);
  });

  it('finds the same load factor whatever the search starts from', () => {
    const kernel = new SlotKernel(onan);
    const rng = new Rng(4);
    for (let i = 0; i < 500; i++) {
      const topOil = rng.uniform(30, 110);
      const rise1 = rng.uniform(0, 40);
      const ambient = rng.uniform(10, 45);
      const plain = { ...kernel.maxLoadFactor(topOil, rise1, 0, ambient, NORMAL_CYCLIC_LIMITS) };
      for (const hint of [0, 0.3, plain.k, 1.2, 1.5, 3])
        expect({
          ...kernel.maxLoadFactor(topOil, rise1, 0, ambient, NORMAL_CYCLIC_LIMITS, undefined, hint),
        }).toEqual(plain);
    }
  });

  it('fills a topology DT from its cooling class and keeps its heat-run figures', () => {
    const dt = {
      cooling_class: 'ONAN' as const,
      top_oil_rise_k: 50,
      hot_spot_gradient_k: null,
      loss_ratio: null,
      tau_oil_min: 150,
      tau_winding_min: null,
    };
    expect(constantsOf(dt)).toEqual({
      ...COOLING_SETS['distribution-ONAN'],
      top_oil_rise_k: 50,
      tau_oil_min: 150,
    });
    expect(constantsOf({ ...dt, cooling_class: 'ONAF', top_oil_rise_k: null, tau_oil_min: null })).toEqual(
      COOLING_SETS['power-ONAF'],
    );
    const cache = new ModelCache();
    expect(cache.get(constantsOf(dt), 'normal')).toBe(cache.get(constantsOf(dt), 'normal'));
    expect(cache.get(constantsOf(dt), 'normal')).not.toBe(cache.get(constantsOf(dt), 'upgraded'));
  });
});

describe('distributions', () => {
  it('normal: CDF, tail and quantile agree with known values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalSf(3)).toBeCloseTo(0.0013499, 6);
    expect(normalSf(6) / 9.8659e-10).toBeCloseTo(1, 2);
    for (const p of [0.001, 0.05, 0.5, 0.9, 0.99]) expect(normalCdf(normalQuantile(p))).toBeCloseTo(p, 7);
  });

  it('t4 (unit variance): symmetric, heavier tails than the normal, variance 1, quantile inverts the CDF', () => {
    // Student t with 4 degrees of freedom: P(T > 2.776) = 0.025, and t4 is T/√2.
    expect(t4Sf(2.776445 / Math.SQRT2)).toBeCloseTo(0.025, 6);
    expect(t4Cdf(-1) + t4Cdf(1)).toBeCloseTo(1, 12);
    expect(t4Sf(4)).toBeGreaterThan(10 * normalSf(4));
    expect(t4Sf(1)).toBeLessThan(normalSf(1));
    // Variance by numerical integration of z² dF.
    let variance = 0;
    for (let z = -200; z < 200; z += 0.001) variance += z * z * (t4Cdf(z + 0.001) - t4Cdf(z));
    expect(variance).toBeCloseTo(1, 2);
    for (const p of [0.01, 0.2, 0.5, 0.95, 0.999]) expect(t4Cdf(t4Quantile(p))).toBeCloseTo(p, 9);
  });
});
