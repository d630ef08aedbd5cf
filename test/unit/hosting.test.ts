import { describe, expect, it } from 'vitest';
import { parseSchedule } from '../../core/schedule.js';
import { SLOT_MS } from '../../core/time.js';
import {
  additionKw,
  anyOf,
  envelopeAtMeter,
  judgeHosting,
  pvShare,
  shiftedThermalProb,
  shiftedVoltageProb,
  type EnvelopeSlot,
  type HostingRequest,
} from '../../processors/stress/hosting.js';

const DAY = Date.UTC(2026, 6, 1);

/** A day of envelope slots: 60 kW of import headroom, 40 kW between 18:00 and 22:00 UTC; 50 kW export. */
function envelope(): EnvelopeSlot[] {
  return Array.from({ length: 96 }, (_, i) => {
    const evening = i >= 72 && i < 88;
    return {
      slotStart: DAY + i * SLOT_MS,
      importKw: evening ? 40 : 60,
      exportKw: 50,
      importSlotKw: evening ? 70 : 90,
      exportSlotKw: 80,
      importLimitedBy: evening ? 'hot_spot' : 'load_factor',
      exportLimitedBy: 'voltage',
      baseKw: 30,
      baseKwLow: 10,
    };
  });
}

const request = (over: Partial<HostingRequest>): HostingRequest => ({
  slots: envelope(),
  additions: [],
  timeZone: 'UTC',
  latitude: 12.97,
  longitude: 77.59,
  confidence: 0.95,
  modelledOnly: false,
  ...over,
});

describe('hosting capacity', () => {
  it('approves an addition within the envelope in every slot of its schedule', () => {
    const j = judgeHosting(
      request({ additions: [{ type: 'ev', kw: 35, schedule: parseSchedule('18:00-23:00') }] }),
    );
    expect(j.verdict).toBe('approve');
    expect(j.curtailment).toEqual([]);
    expect(j.requestedKwh).toBeCloseTo(35 * 5, 9);
    const slot = j.slots[76]!; // 19:00
    expect(slot.additionKw).toBe(35);
    expect(slot.headroomAfter.importKw).toBe(5);
    expect(slot.bindingConstraint).toBe('hot_spot');
    expect(j.slots[0]!.additionKw).toBe(0);
  });

  it('caps an evening load where it exceeds the envelope and says which limit binds', () => {
    // 50 kW from 18:00 to 05:00 (11 h): 10 kW over in 4 h of hot-spot-limited evening = 40 of 550 kWh (7.3%).
    const j = judgeHosting(
      request({ additions: [{ type: 'ev', kw: 50, schedule: parseSchedule('18:00-05:00') }] }),
    );
    expect(j.verdict).toBe('approve-with-curtailment');
    expect(j.curtailedKwh).toBeCloseTo(40, 9);
    expect(j.requestedKwh).toBeCloseTo(550, 9);
    expect(j.bindingConstraint).toBe('hot_spot');
    expect(j.curtailment).toEqual([{ from: DAY + 72 * SLOT_MS, to: DAY + 88 * SLOT_MS, maxKw: 40 }]);
    for (const s of j.slots) expect(s.allowedKw).toBeLessThanOrEqual(s.headroomBefore.importKw);
  });

  it('defers to a DERMS or declines as the curtailed share grows, and defers every modelled-only DT', () => {
    const all = parseSchedule('00:00-24:00');
    expect(judgeHosting(request({ additions: [{ type: 'heat_pump', kw: 90, schedule: all }] })).verdict).toBe(
      'defer-to-DERMS',
    ); // 30 of 90 kW over most of the day: a third curtailed
    expect(judgeHosting(request({ additions: [{ type: 'ev', kw: 300, schedule: all }] })).verdict).toBe(
      'decline',
    );
    const small = judgeHosting(
      request({ additions: [{ type: 'ev', kw: 1, schedule: all }], modelledOnly: true }),
    );
    expect(small.verdict).toBe('defer-to-DERMS');
    expect(small.reason).toMatch(/modelled-only/);
  });

  it('reads schedules in the request time zone, wrapping midnight', () => {
    const ev = { type: 'ev' as const, kw: 10, schedule: parseSchedule('23:00-05:00') };
    const at = (h: number, m = 0) => Date.UTC(2026, 6, 1, h, m);
    expect(additionKw(ev, at(23), { timeZone: 'UTC', latitude: 0, longitude: 0 })).toBe(10);
    expect(additionKw(ev, at(17, 30), { timeZone: 'UTC', latitude: 0, longitude: 0 })).toBe(0);
    // 17:30 UTC is 23:00 in India.
    expect(additionKw(ev, at(17, 30), { timeZone: 'Asia/Kolkata', latitude: 0, longitude: 0 })).toBe(10);
  });

  it('follows the sun for PV: output near noon solar time, none at night, exported', () => {
    // Bangalore (77.59 E): solar noon about 06:50 UTC.
    expect(pvShare(Date.UTC(2026, 6, 1, 6, 50), 12.97, 77.59)).toBeGreaterThan(0.9);
    expect(pvShare(Date.UTC(2026, 6, 1, 18, 0), 12.97, 77.59)).toBe(0);
    const pv = { type: 'pv' as const, kw: 80 };
    const noon = additionKw(pv, Date.UTC(2026, 6, 1, 6, 45), {
      timeZone: 'UTC',
      latitude: 12.97,
      longitude: 77.59,
    });
    expect(noon).toBeLessThan(-70);
    // 80 kWp at noon against 50 kW of export headroom: curtailed around midday, voltage binding.
    const j = judgeHosting(request({ additions: [pv] }));
    expect(j.verdict).not.toBe('approve');
    expect(j.bindingConstraint).toBe('voltage');
    const midday = j.slots.find((s) => s.slotStart === DAY + 27 * SLOT_MS)!; // 06:45 UTC
    expect(midday.allowedKw).toBe(50);
    // 30 kW base (sd 12.2 kW) minus ~78 kW of PV: the flow reverses almost surely; at night it does not.
    expect(midday.reverseFlowProb).toBeGreaterThan(0.99);
    expect(j.slots[80]!.reverseFlowProb).toBeLessThan(0.01);
  });

  it('counts a battery as export when discharging and import when charging', () => {
    const req = { timeZone: 'UTC', latitude: 0, longitude: 0 };
    expect(additionKw({ type: 'bess', kw: 20 }, DAY, req)).toBe(-20);
    expect(additionKw({ type: 'bess', kw: 20, mode: 'charge' }, DAY, req)).toBe(20);
  });

  it('shifts a forecast thermal probability with the load, consistent with the stored one', () => {
    expect(shiftedThermalProb(0.05, 100, 10, 0)).toBe(0.05);
    // The |P| bound 1.645 sd above the mean; 10 kW more (one sd) leaves it 0.645 sd away: 26%.
    expect(shiftedThermalProb(0.05, 100, 10, 10)).toBeCloseTo(0.2595, 3);
    expect(shiftedThermalProb(0.05, 100, 10, -10)).toBeCloseTo(0.0041, 3);
    expect(shiftedThermalProb(0, 100, 10, 0)).toBe(0);
    expect(anyOf([0.1, 0.2])).toBeCloseTo(0.28, 12);
    expect(anyOf([])).toBe(0);
  });

  it('moves the voltage stress probability with the load: import lowers every customer voltage, export raises it', () => {
    // Lowest customer 216 V ± 2 against a 216.2 V floor, highest 240 V ± 2 against a 253 V ceiling, 0.1 V per kW.
    const tails = { minMean: 216, minSd: 2, maxMean: 240, maxSd: 2, vPerKw: 0.1 };
    const band = { vLow: 216.2, vHigh: 253 };
    expect(shiftedVoltageProb(0.3, tails, band, 0, false)).toBe(0.3);
    // 10 kW more import: the lowest voltage one sd lower, at 215 V; P(v < 216.2) = Φ(0.6).
    expect(shiftedVoltageProb(0.3, tails, band, 10, false)).toBeCloseTo(0.7257, 3);
    // 10 kW of export relieves the floor (Φ(−0.4)) and does not yet reach the ceiling.
    expect(shiftedVoltageProb(0.3, tails, band, -10, false)).toBeCloseTo(0.3446, 3);
    // 120 kW of export lifts the highest voltage to 252 V: P(v > 253) = 1 − Φ(0.5) = 0.3085, the floor safe.
    expect(shiftedVoltageProb(0.3, tails, band, -120, false)).toBeCloseTo(0.3085, 3);
    // Without voltages, or in an issue that did not record the tails, the stored figure stands.
    expect(shiftedVoltageProb(null, tails, band, 10, false)).toBeNull();
    expect(shiftedVoltageProb(0.3, null, band, 10, false)).toBe(0.3);
  });

  it('treats reverse flow as heating: generation past zero load meets the bound from the other side', () => {
    // An importing DT, 100 kW ± 10 with its bound at 116.45 kW (p0 = 5%): 100 kW of PV relieves it, 330 kW of
    // PV reverses the flow to −230 kW, far past −116.45 kW: overloaded in export.
    const p0 = 0.05;
    expect(shiftedThermalProb(p0, 100, 10, -100)).toBeLessThan(1e-9);
    expect(shiftedThermalProb(p0, 100, 10, -330)).toBeGreaterThan(0.999);
    // Symmetric: the same reverse flow as the same import overloads alike.
    expect(shiftedThermalProb(p0, 100, 10, -216.45)).toBeCloseTo(shiftedThermalProb(p0, 100, 10, 16.45), 3);
    // An exporting DT (−100 kW) leans the other way: more export is more stress, more import relieves.
    expect(shiftedThermalProb(p0, -100, 10, -10)).toBeCloseTo(0.2595, 3);
    expect(shiftedThermalProb(p0, -100, 10, 10)).toBeCloseTo(0.0041, 3);
    expect(anyOf([0.1, 0.2])).toBeCloseTo(0.28, 12);
    expect(anyOf([])).toBe(0);
  });
});

describe('an addition at a meter', () => {
  // Band 216.2–253 V. Two customers: the feeder end (1.2 V/kW of its own load, 0.2 of the DT's, at the DT's
  // lowest voltage) and one near the busbar (0.5 own, 0.1 DT's, 4 V above the lowest).
  const customers = [
    { meter_id: 'end', ownVPerKw: 1.2, dtVPerKw: 0.2, lowOffsetV: 0, highOffsetV: 0, pairs: 100 },
    { meter_id: 'near', ownVPerKw: 0.5, dtVPerKw: 0.1, lowOffsetV: 4, highOffsetV: 3, pairs: 100 },
  ];
  const band = { vLow: 216.2, vHigh: 253 };
  const slots = envelope().map((s) => ({ ...s, vMinLow: 222, vMaxHigh: 240 }));
  // The closed form of customer-voltage.ts: |V² − E²| / (2·s·V).
  const room = (v: number, edge: number, s: number) => Math.abs(v * v - edge * edge) / (2 * s * v);

  it("takes each slot's headroom down to the voltage of the customers it moves", () => {
    const atEnd = envelopeAtMeter(slots, customers, 'end', band);
    // At the end: its own 1.2 V/kW from 222 V binds (4.8 kW), before the near customer's 0.1 from 226 V.
    const own = room(222, 216.2, 1.2);
    expect(own).toBeCloseTo(4.77, 2);
    expect(atEnd[0]!.importKw).toBeCloseTo(own, 9);
    expect(atEnd[0]!.importSlotKw).toBeCloseTo(own, 9);
    expect(atEnd[0]!.importLimitedBy).toBe('voltage');
    expect(atEnd[0]!.exportKw).toBeCloseTo(room(240, 253, 1.2), 9);
    // Near the busbar: its own 0.5 V/kW from 226 V, or the end customer moved by 0.2 V/kW of it from 222 V.
    const atNear = envelopeAtMeter(slots, customers, 'near', band);
    expect(atNear[0]!.importKw).toBeCloseTo(Math.min(room(226, 216.2, 0.5), room(222, 216.2, 0.2)), 9);
    expect(atNear[0]!.importKw).toBeGreaterThan(atEnd[0]!.importKw);
    // The DT's own limits still cap it (60 kW, load factor), and an unknown meter is judged as at the DT.
    const loose = slots.map((s) => ({ ...s, vMinLow: 252, vMaxHigh: 217 }));
    expect(envelopeAtMeter(loose, customers, 'near', band)[0]!.exportKw).toBe(50);
    expect(envelopeAtMeter(slots, customers, 'elsewhere', band)).toEqual(slots);
  });

  it('defers an EV at the feeder end (a third curtailed by voltage) that the DT alone would approve', () => {
    const ev = [{ type: 'ev' as const, kw: 7.4 }];
    expect(judgeHosting(request({ slots, additions: ev })).verdict).toBe('approve');
    const j = judgeHosting(request({ slots: envelopeAtMeter(slots, customers, 'end', band), additions: ev }));
    expect(j.verdict).toBe('defer-to-DERMS');
    expect(j.curtailedKwh / j.requestedKwh).toBeCloseTo(1 - 4.77 / 7.4, 2);
    expect(j.bindingConstraint).toBe('voltage');
  });
});
