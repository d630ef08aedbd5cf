import { describe, expect, it } from 'vitest';
import { avroType } from '../../core/schemas.js';
import {
  binaryColumnsOf,
  RowBinaryBuffer,
  rowBinaryEncoder,
  type BinaryColumn,
} from '../../io/warehouse/row-binary.js';
import { READING_BINARY_COLUMNS, dateTime64, readingRowWriter } from '../../io/warehouse/rows.js';
import type { DtOperatingEnvelope, MeterReading } from '../../schemas/types.gen.js';
import { operatingEnvelope } from '../support/records.js';

const bytes = (write: (out: RowBinaryBuffer) => void) => {
  const out = new RowBinaryBuffer();
  write(out);
  return [...out.take()];
};
const le64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(n);
  return [...b];
};

/** The readings table's column types, with `time` for its times (DateTime64 or, on 18.16, String). */
const readingTypes = (time: string, extra: Array<[string, string]> = []) =>
  new Map([
    ['meter_id', 'String'],
    ['dt_id', 'LowCardinality(String)'],
    ['ts', time],
    ['p_kw', 'Float64'],
    ['q_kvar', 'Nullable(Float64)'],
    ['legs.leg', 'Array(UInt8)'],
    ['legs.v', 'Array(Float64)'],
    ['legs.i', 'Array(Float64)'],
    ['e_imp_kwh', 'Nullable(Float64)'],
    ['e_exp_kwh', 'Nullable(Float64)'],
    ['received_at', time],
    ...extra,
  ]);

describe('RowBinary', () => {
  it('writes lengths as LEB128, strings as UTF-8 bytes, integers and doubles little-endian', () => {
    expect(bytes((o) => o.varUInt(0))).toEqual([0]);
    expect(bytes((o) => o.varUInt(127))).toEqual([0x7f]);
    expect(bytes((o) => o.varUInt(300))).toEqual([0xac, 0x02]);
    expect(bytes((o) => o.string('Mé'))).toEqual([3, 0x4d, 0xc3, 0xa9]);
    // ASCII up to the first wider character, then UTF-8 (a surrogate pair stays one 4-byte character).
    expect(bytes((o) => o.string('DT-7 🔌 ß'))).toEqual([12, ...Buffer.from('DT-7 🔌 ß')]);
    // Either side of the one-pass limit (42 units, at most 126 bytes), with three-byte characters.
    expect(bytes((o) => o.string('€'.repeat(42)))).toEqual([126, ...Buffer.from('€'.repeat(42))]);
    expect(bytes((o) => o.string('€'.repeat(43)))).toEqual([0x81, 0x01, ...Buffer.from('€'.repeat(43))]);
    expect(bytes((o) => o.string(''))).toEqual([0]);
    expect(bytes((o) => o.integer(2 ** 40 + 5, 8, true))).toEqual([5, 0, 0, 0, 0, 1, 0, 0]);
    expect(bytes((o) => o.integer(-2, 8, true))).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(bytes((o) => o.integer(258, 2, false))).toEqual([2, 1]);
    expect(bytes((o) => o.float64(-1.42))).toEqual(le64(-1.42));
    expect(() => bytes((o) => o.integer(1.5, 4, true))).toThrow(/not an integer/);
    // Growth past the first 64 KiB keeps what was written.
    const long = 'x'.repeat(200_000);
    const out = new RowBinaryBuffer();
    out.string('a');
    out.string(long);
    const written = out.take();
    expect(written.length).toBe(2 + 3 + 200_000);
    expect(written.subarray(5).toString()).toBe(long);
    expect(out.length).toBe(0);
  });

  it('hands over what it took: later writes never change a taken batch, small or past the retained size', () => {
    const out = new RowBinaryBuffer();
    for (const size of [1_000, 6_000_000, 10]) {
      const fill = String.fromCharCode(97 + (size % 26));
      out.string(fill.repeat(size));
      const taken = out.take();
      const copy = Buffer.from(taken);
      out.string('z'.repeat(size + 100));
      out.string('z'.repeat(size));
      expect(taken.equals(copy)).toBe(true);
      expect(taken.subarray(taken.length - size).toString()).toBe(fill.repeat(size));
      out.take();
    }
  });

  it('writes a time as the same text dateTime64() renders, digit by digit', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const times = [
      0,
      -1,
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(2000, 2, 1),
      Date.UTC(1900, 1, 28, 12),
      Date.UTC(1850, 6, 1, 3, 4, 5, 6),
      new Date('0000-01-01T00:00:00.000Z').getTime(),
      new Date('9999-12-31T23:59:59.999Z').getTime(),
      new Date('+010000-01-01T00:00:00.000Z').getTime(), // five-digit year: the string path
      new Date('-000001-12-31T00:00:00.000Z').getTime(), // before year 0: the string path
      ...Array.from({ length: 3000 }, () => Math.floor((next() - 0.3) * 8e12)),
    ];
    for (const ms of times)
      expect(
        bytes((o) => o.dateTimeText(ms)),
        String(ms),
      ).toEqual(bytes((o) => o.string(dateTime64(ms))));
  });

  it('lays a reading out as the readings table types say, on a server with and without DateTime64', () => {
    const reading: MeterReading = {
      meter_id: 'm-1',
      dt_id: 'dt',
      ts: Date.UTC(2026, 6, 1, 10, 15, 3, 7),
      p_kw: 1.5,
      q_kvar: null,
      legs: [
        { leg: 1, v: 230.5, i: 6.25 },
        { leg: 3, v: 229, i: 0 },
      ],
      e_imp_kwh: 12,
      e_exp_kwh: null,
      received_at: Date.UTC(2026, 6, 1, 10, 16),
    };
    // ts_ms is materialized on 18.16: not written.
    const types = (time: string) => readingTypes(time, [['ts_ms', 'UInt64']]);
    const tail = [
      ...le64(1.5),
      1, // q_kvar NULL
      2,
      1,
      3,
      2,
      ...le64(230.5),
      ...le64(229),
      2,
      ...le64(6.25),
      ...le64(0),
      0,
      ...le64(12),
      1, // e_exp_kwh NULL
    ];
    const head = [3, ...Buffer.from('m-1'), 2, ...Buffer.from('dt')];
    const int64 = (n: number) => bytes((o) => o.integer(n, 8, true));

    const current = rowBinaryEncoder(READING_BINARY_COLUMNS, types("DateTime64(3, 'UTC')"));
    expect(bytes((o) => current(o, reading))).toEqual([
      ...head,
      ...int64(reading.ts),
      ...tail,
      ...int64(reading.received_at),
    ]);
    const old = rowBinaryEncoder(READING_BINARY_COLUMNS, types('String'));
    const text = (s: string) => [s.length, ...Buffer.from(s)];
    expect(bytes((o) => old(o, reading))).toEqual([
      ...head,
      ...text('2026-07-01 10:15:03.007'),
      ...tail,
      ...text('2026-07-01 10:16:00.000'),
    ]);
  });

  it("writes a reading directly as the generic encoder's bytes, for the table's types or not at all", () => {
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const maybe = (x: number) => (next() < 0.3 ? null : x);
    const readings: MeterReading[] = Array.from({ length: 500 }, (_, n) => ({
      meter_id: next() < 0.1 ? `mé-${n}` : `m-${n}`,
      dt_id: `dt-${n % 7}`,
      ts: Math.floor((next() - 0.3) * 4e12),
      p_kw: (next() - 0.5) * 20,
      q_kvar: maybe(next() * 3),
      legs: Array.from({ length: Math.floor(next() * 4) }, () => ({
        leg: Math.floor(next() * 4),
        v: 200 + next() * 50,
        i: next() * 40,
      })),
      e_imp_kwh: maybe(next() * 1e5),
      e_exp_kwh: maybe(next() * 1e4),
      received_at: Math.floor(next() * 2e12),
    }));
    for (const time of ["DateTime64(3, 'UTC')", 'DateTime64(3)', 'String']) {
      const types = readingTypes(time, [['ts_ms', 'UInt64']]);
      const direct = readingRowWriter(types)!;
      const generic = rowBinaryEncoder(READING_BINARY_COLUMNS, types);
      for (const r of readings) expect(bytes((o) => direct(o, r))).toEqual(bytes((o) => generic(o, r)));
      // A leg number a UInt8 cannot hold is refused by both.
      const wide = { ...readings[0]!, legs: [{ leg: 300, v: 1, i: 1 }] };
      expect(() => bytes((o) => direct(o, wide))).toThrow(RangeError);
      expect(() => bytes((o) => generic(o, wide))).toThrow(RangeError);
    }
    // Other types are left to the generic encoder.
    expect(readingRowWriter(readingTypes("DateTime64(6, 'UTC')"))).toBeUndefined();
    expect(readingRowWriter(new Map([...readingTypes('String'), ['p_kw', 'Float32']]))).toBeUndefined();
    expect(
      readingRowWriter(new Map([...readingTypes('String'), ['received_at', 'DateTime64(3)']])),
    ).toBeUndefined();
  });

  it('refuses a column missing from the table or of a type it cannot write, naming it', () => {
    const columns: Array<BinaryColumn<{ q: string }>> = [{ name: 'quality', value: (r) => r.q }];
    expect(() => rowBinaryEncoder(columns, new Map())).toThrow(/column quality: not in the table/);
    expect(() => rowBinaryEncoder(columns, new Map([['quality', 'UUID']]))).toThrow(
      /column quality: no RowBinary writer for UUID/,
    );
    const time: Array<BinaryColumn<{ t: number }>> = [{ name: 't', value: (r) => r.t, time: true }];
    expect(() => rowBinaryEncoder(time, new Map([['t', 'Float64']]))).toThrow(
      /column t: no RowBinary writer for Float64 holding a time/,
    );
  });

  it('writes an enum label as its declared code, an 18.16 Bool as its Enum8, and refuses a label not declared', () => {
    const write = rowBinaryEncoder<{ v: unknown }>(
      [{ name: 'v', value: (r) => r.v }],
      // system.columns writes a quote in a label backslash-escaped.
      new Map([['v', "Enum8('ami-direct' = 1, 'it\\'s' = -3)"]]),
    );
    const row = (v: unknown) => bytes((o) => write(o, { v }));
    expect(row('ami-direct')).toEqual([1]);
    expect(row("it's")).toEqual([0xfd]);
    expect(() => row('modelled')).toThrow(/column v: modelled is not a label of Enum8/);
    const wide = rowBinaryEncoder<{ v: unknown }>(
      [{ name: 'v', value: (r) => r.v }],
      new Map([['v', "Nullable(Enum16('false' = 0, 'true' = 300))"]]),
    );
    expect(bytes((o) => wide(o, { v: true }))).toEqual([0, 0x2c, 0x01]);
    expect(bytes((o) => wide(o, { v: null }))).toEqual([1]);
  });

  it('drops a half-written row on truncate, keeping the rows before it', () => {
    const out = new RowBinaryBuffer();
    out.string('kept');
    const before = out.length;
    out.float64(1.5);
    out.truncate(before);
    expect([...out.take()]).toEqual([4, ...Buffer.from('kept')]);
    expect(() => out.truncate(1)).toThrow(/cannot truncate 0 bytes to 1/);
  });

  it("takes a record's columns from its Avro schema, in the schema's order, with times and mapped values", () => {
    const columns = binaryColumnsOf<DtOperatingEnvelope>('DtOperatingEnvelope', {
      slot_start: { time: true },
      data_quality: { value: (e) => e.data_quality.toUpperCase() },
    });
    const fields = (avroType('DtOperatingEnvelope') as unknown as { fields: Array<{ name: string }> }).fields;
    expect(columns.map((c) => c.name)).toEqual(fields.map((f) => f.name));
    const envelope = operatingEnvelope('dt-1', 900_000, 0);
    const byName = new Map(columns.map((c) => [c.name, c]));
    expect(byName.get('slot_start')!.time).toBe(true);
    expect(byName.get('issued_at')!.time).toBeUndefined();
    expect(byName.get('data_quality')!.value(envelope)).toBe('AMI_IMPUTED');
    expect(byName.get('base_kw')!.value(envelope)).toBe(envelope.base_kw);
  });
});
