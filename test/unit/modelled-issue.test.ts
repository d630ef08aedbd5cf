import { describe, expect, it } from 'vitest';
import { SLOT_MS } from '../../core/time.js';
import { buildLoadPatterns, emptyLoadPatterns } from '../../processors/load-envelope/imputation.js';
import { modelledBasis, modelledIssue, type ModelledDt } from '../../processors/stress/modelled-issue.js';

const DT: ModelledDt = {
  feeder_id: 'f-1',
  rated_kva: 160,
  time_zone: 'Asia/Kolkata',
  cooling_class: 'ONAN',
  top_oil_rise_k: null,
  hot_spot_gradient_k: null,
  loss_ratio: null,
  tau_oil_min: null,
  tau_winding_min: null,
};
const FIRST = Date.UTC(2026, 6, 1);

describe('modelled operating-envelope issue of a DT without AMI', () => {
  it('gives 96 slots of thermal headroom from the nameplate and the standard shape on a feeder without AMI', () => {
    const issue = modelledIssue(DT, emptyLoadPatterns(), FIRST);
    expect(issue.slots).toHaveLength(96);
    expect(issue.slots.map((s) => s.slotStart)).toEqual(issue.slots.map((_, k) => FIRST + k * SLOT_MS));
    expect(issue.loadSource).toBe('standard');
    expect(issue.confidence).toBe(0.95);
    // The standard shape peaks at 0.55 of the rating: 88 kW.
    expect(issue.peakKw).toBeCloseTo(88, 6);
    for (const s of issue.slots) {
      expect(s.importKw).toBeGreaterThan(0);
      // Within K 1.5 of a 160 kVA DT, less the load already there.
      expect(s.importKw + s.baseKw).toBeLessThan(1.5 * 160);
      expect(s.importSlotKw).toBeGreaterThanOrEqual(s.importKw - 1e-6);
      expect(s.baseKwLow).toBeLessThan(s.baseKw);
    }
    expect(issue.thermalStressProb.every((p) => p >= 0 && p < 0.01)).toBe(true);
    expect(modelledBasis(issue, 160)).toMatch(/160 kVA nameplate × the standard residential load shape/);
  });

  it("follows the feeder's measured load per kVA where the feeder has AMI, and has less room on a heavier feeder", () => {
    const rows = (kwPerMeter: number) =>
      Array.from({ length: 2 * 96 }, (_, i) => ({
        feeder_id: 'f-1',
        day_type: i >= 96 ? 1 : 0,
        slot_of_day: i % 96,
        kw_sum: kwPerMeter * 10,
        meter_slots: 10,
      }));
    const dts = new Map([
      ['dt-metered', { feeder_id: 'f-1', rated_kva: 100, meters_connected: 40 }],
      ['dt-bare', { feeder_id: 'f-1', rated_kva: 160, meters_connected: 0 }],
    ]);
    const level = [{ dt_id: 'dt-metered', kw_sum: 100, meter_slots: 100 }];
    const light = modelledIssue(DT, buildLoadPatterns(rows(1), level, dts), FIRST);
    const heavy = modelledIssue(DT, buildLoadPatterns(rows(2.5), level, dts), FIRST);
    expect(light.loadSource).toBe('feeder');
    // 1 kW a meter × 40 meters on 100 kVA: 0.4 kW per kVA, 64 kW on 160 kVA.
    expect(light.meanKw).toBeCloseTo(64, 6);
    expect(heavy.meanKw).toBeCloseTo(160, 6);
    for (let k = 0; k < 96; k++) expect(heavy.slots[k]!.importKw).toBeLessThan(light.slots[k]!.importKw);
  });
});
