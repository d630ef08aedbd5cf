import { describe, expect, it } from 'vitest';
import { SlotReadings } from '../../processors/load-envelope/slot-readings.js';

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

describe('slot readings packed once closed', () => {
  /** Every column of every row, as bits (Object.is tells −0 and NaN apart as the columns hold them). */
  const dump = (rows: SlotReadings) =>
    Array.from({ length: rows.size }, (_, r) => [
      rows.meterOf(r),
      rows.offsetOf(r),
      rows.pOf(r),
      rows.qOf(r),
      rows.vOf(r, 1),
      rows.vOf(r, 2),
      rows.vOf(r, 3),
    ]);

  /** A deterministic fleet's slot: meter decimals mostly, with values no scale reproduces mixed in. */
  function fill(rows: SlotReadings, meters: number, seed = 1) {
    let x = seed;
    const random = () => ((x = (x * 48271) % 2147483647) - 1) / 2147483646;
    for (let m = 0; m < meters; m++)
      for (let minute = 0; minute < 15; minute++) {
        const odd = random() < 0.05;
        const p = odd ? (random() - 0.5) * 1e-7 + 0.1 + 0.2 : Math.round((random() - 0.3) * 9000) / 1000;
        const q = random() < 0.2 ? null : odd ? Math.PI : Math.round(random() * 3000) / 1000;
        const legs = [1, 2, 3]
          .filter((leg) => leg === 1 || m % 4 === 0)
          .map((leg) => ({ leg, v: odd ? 230 + random() : Math.round(2250 + random() * 150) / 10, i: 1 }));
        // Not every reading on the whole second: a meter's clock may carry milliseconds.
        rows.put(m, minute * 60_000 + (odd ? 137 : 0), p, q, legs);
      }
  }

  it('gives back every value bit for bit after packing, and takes under a third of the bytes', () => {
    const rows = new SlotReadings();
    fill(rows, 100);
    rows.put(100, 0, -0, -0, [{ leg: 1, v: -0, i: 0 }]);
    rows.put(101, 0, 1e300, 3e38, [{ leg: 2, v: 1e-30, i: 0 }]);
    const before = dump(rows);
    const bytes = rows.bytes;
    rows.freeze();
    expect(rows.frozen).toBe(true);
    expect(rows.bytes).toBeLessThan(bytes / 3);
    const after = dump(rows);
    expect(rows.frozen).toBe(false);
    expect(after.length).toBe(before.length);
    after.forEach((row, r) => row.forEach((value, c) => expect(Object.is(value, before[r]![c])).toBe(true)));
  });

  it('takes a late reading after packing: a duplicate changes nothing, a new one is added in order', () => {
    const rows = new SlotReadings();
    fill(rows, 10);
    const [meter, offset, p] = [rows.meterOf(7), rows.offsetOf(7), rows.pOf(7)];
    const legs = [1, 2, 3]
      .map((leg) => ({ leg, v: rows.vOf(7, leg), i: 1 }))
      .filter((leg) => !Number.isNaN(leg.v));
    const q = Number.isNaN(rows.qOf(7)) ? null : rows.qOf(7);
    rows.freeze();
    expect(rows.put(meter, offset, p, q, legs)).toBe('unchanged');
    rows.freeze();
    expect(rows.put(3, 30_500, 2.5, null, [{ leg: 1, v: 231, i: 1 }])).toBe('added');
    expect(rows.size).toBe(151);
    const keys = Array.from({ length: rows.size }, (_, r) => rows.meterOf(r) * 900_000 + rows.offsetOf(r));
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
    expect(rows.meters).toBe(10);
  });

  it('stays unpacked (trimmed) when a key is not a whole millisecond', () => {
    const rows = new SlotReadings(8);
    rows.put(0, 0.5, 1, null, leg(230));
    rows.freeze();
    expect(rows.frozen).toBe(false);
    expect(rows.offsetOf(0)).toBe(0.5);
    expect(rows.bytes).toBe(8 * 2 + 4 * 4);
  });
});
