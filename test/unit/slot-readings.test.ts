import { describe, expect, it } from 'vitest';
import { SlotReadings } from '../../processors/slot-readings.js';

const leg = (v: number) => [{ leg: 1, v, i: 1 }];

describe('slot readings (columnar store)', () => {
  it('keeps rows sorted by meter and time whatever order they come in', () => {
    // Sized for two readings up front (a DT's previous slot held two): the third and on grow it.
    const rows = new SlotReadings(2);
    for (const [meter, offset] of [
      [2, 60_000],
      [0, 120_000],
      [2, 0],
      [1, 0],
      [0, 0],
    ] as const)
      rows.put(meter, offset, meter + offset / 60_000, null, leg(230));
    expect(Array.from({ length: rows.size }, (_, r) => [rows.meterOf(r), rows.offsetOf(r)])).toEqual([
      [0, 0],
      [0, 120_000],
      [1, 0],
      [2, 0],
      [2, 60_000],
    ]);
    expect(rows.meters).toBe(3);
  });

  it('tells an identical duplicate from a correction, and keeps one row for both', () => {
    const rows = new SlotReadings();
    expect(rows.put(4, 30_000, 1.5, 0.2, leg(231.4))).toBe('added');
    expect(rows.put(4, 30_000, 1.5, 0.2, leg(231.4))).toBe('unchanged');
    expect(rows.put(4, 30_000, 1.75, 0.2, leg(231.4))).toBe('replaced');
    expect(rows.size).toBe(1);
    expect(rows.meters).toBe(1);
    expect(rows.pOf(0)).toBe(1.75);
  });

  it('stores absent reactive power and legs as NaN, and p exactly', () => {
    const rows = new SlotReadings();
    rows.put(0, 0, 0.1 + 0.2, null, [{ leg: 2, v: 229.9, i: 3 }]);
    expect(rows.pOf(0)).toBe(0.1 + 0.2);
    expect(rows.qOf(0)).toBeNaN();
    expect(rows.vOf(0, 1)).toBeNaN();
    expect(rows.vOf(0, 2)).toBeCloseTo(229.9, 4);
    expect(rows.vOf(0, 3)).toBeNaN();
  });

  it('grows past its initial capacity and trims back without losing rows', () => {
    const rows = new SlotReadings();
    for (let m = 0; m < 300; m++) rows.put(m % 100, Math.floor(m / 100) * 60_000, m, null, leg(230));
    rows.trim();
    expect(rows.size).toBe(300);
    expect(rows.meters).toBe(100);
    expect(rows.pOf(299)).toBe(299);
  });
});
