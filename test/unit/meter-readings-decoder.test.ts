import { describe, expect, it } from 'vitest';
import { decode, schemaId } from '../../core/codec.js';
import { decodeMeterReadingsBody } from '../../core/meter-readings-decoder.js';
import { avroType } from '../../core/schemas.js';
import type { MeterReading } from '../../schemas/types.gen.js';

/** A deterministic pseudo-random sequence (mulberry32). */
function randoms(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const type = avroType('MeterReadings');
const body = (readings: MeterReading[]) => type.toBuffer({ readings });
const wire = (bytes: Buffer) => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(schemaId('MeterReadings'), 1);
  return Buffer.concat([header, bytes]);
};

/** An Avro long: a zig-zag varint. */
const zigzag = (n: number) => {
  const out: number[] = [];
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 0x80) {
    out.push((z & 0x7f) | 0x80);
    z = Math.floor(z / 128);
  }
  out.push(z);
  return Buffer.from(out);
};

const sample: MeterReading = {
  meter_id: 'm-1',
  dt_id: 'dt-1',
  ts: 1_796_547_600_000,
  p_kw: 1,
  q_kvar: 2,
  legs: [{ leg: 1, v: 230, i: 4 }],
  e_imp_kwh: null,
  e_exp_kwh: null,
  received_at: 1_796_547_601_000,
};

describe('decodeMeterReadingsBody (the readings hot path, decoded by hand)', () => {
  it('gives what avsc gives, on uploads of every shape', () => {
    const random = randoms(20);
    const ids = ['m-1', 'dt-0001-m042', '', 'zähler-ü', '电表-7', 'x'.repeat(200)];
    const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)]!;
    const number = () =>
      pick([
        0,
        -0,
        1,
        -1,
        0.1,
        1e-300,
        1e300,
        -123.456,
        Number.MAX_VALUE,
        Infinity,
        -Infinity,
        NaN,
        random(),
      ]);
    const long = () =>
      pick([
        0,
        1,
        -1,
        63,
        64,
        -64,
        -65,
        2 ** 28,
        2 ** 31,
        -(2 ** 31) - 1,
        1_796_547_600_000,
        -(2 ** 40),
        2 ** 53 - 2,
      ]);
    for (let run = 0; run < 500; run++) {
      const meter = pick(ids);
      const dt = pick(ids);
      const readings = Array.from({ length: Math.floor(random() * 20) }, (): MeterReading => {
        // Mostly one meter an upload, as the bridge writes them; now and then another.
        const other = random() < 0.2;
        return {
          meter_id: other ? pick(ids) : meter,
          dt_id: other ? pick(ids) : dt,
          ts: long(),
          p_kw: number(),
          q_kvar: random() < 0.3 ? null : number(),
          legs: Array.from({ length: Math.floor(random() * 4) }, (_, k) => ({
            leg: pick([k + 1, 0, -1, 2 ** 30, -(2 ** 31)]),
            v: number(),
            i: number(),
          })),
          e_imp_kwh: random() < 0.5 ? null : number(),
          e_exp_kwh: random() < 0.5 ? null : number(),
          received_at: long(),
        };
      });
      const bytes = wire(body(readings));
      const byHand = decodeMeterReadingsBody(bytes, 5);
      expect(byHand).toEqual(type.fromBuffer(bytes.subarray(5)));
      expect(byHand).toEqual({ readings });
    }
  });

  it('reads arrays written in blocks with sizes (negative counts), as avsc does', () => {
    const reading: MeterReading = { ...sample, legs: [], e_imp_kwh: 2 };
    const one = avroType('MeterReading').toBuffer(reading);
    // readings: a block of -1 item of one.length bytes, a block of -1 again, then the end (0).
    const bytes = Buffer.concat([
      zigzag(-1),
      zigzag(one.length),
      one,
      zigzag(-1),
      zigzag(one.length),
      one,
      zigzag(0),
    ]);
    const expected = type.fromBuffer(bytes);
    expect(expected).toEqual({ readings: [reading, reading] });
    expect(decodeMeterReadingsBody(wire(bytes), 5)).toEqual(expected);
  });

  it('leaves to avsc what it does not decode exactly: truncated, trailing, out of range', () => {
    const reading = sample;
    const bytes = wire(body([reading, reading]));
    for (let end = 5; end < bytes.length; end++)
      expect(decodeMeterReadingsBody(bytes.subarray(0, end), 5)).toBeUndefined();
    expect(decodeMeterReadingsBody(Buffer.concat([bytes, Buffer.from([0])]), 5)).toBeUndefined();
    // A bad union index (the q_kvar branch byte: 2 → index 1, made 4 → index 2).
    const badUnion = Buffer.from(bytes);
    const at = badUnion.indexOf(Buffer.from('dt-1')) + 4 + 6 + 8;
    expect(badUnion[at]).toBe(2);
    badUnion[at] = 4;
    expect(decodeMeterReadingsBody(badUnion, 5)).toBeUndefined();
    expect(() => decode('MeterReadings', badUnion)).toThrow(/union/);
    // A long beyond what avsc reads without precision loss.
    const near = body([{ ...reading, ts: 0 }]);
    const ts = near.indexOf(Buffer.from('dt-1')) + 4;
    const far = wire(Buffer.concat([near.subarray(0, ts), zigzag(2 ** 60), near.subarray(ts + 1)]));
    expect(decodeMeterReadingsBody(far, 5)).toBeUndefined();
    expect(() => decode('MeterReadings', far)).toThrow(/precision/);
  });

  it('is what decode() uses for a MeterReadings record from another process', () => {
    const decoded = decode('MeterReadings', wire(body([sample])));
    // Plain objects, not avsc's record class.
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(decoded).toEqual({ readings: [sample] });
  });
});
