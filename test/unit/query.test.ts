import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { sqlDir } from '../../core/paths.js';

import { decoderOf, type Query } from '../../io/warehouse/query.js';
import { queries } from '../../io/warehouse/queries.gen.js';
import { kindOf, placeholders } from '../../scripts/query-types.js';

const sample: Query<Record<string, never>, Record<string, unknown>> = {
  name: 'sample',
  columns: {
    id: 'string',
    kw: 'number',
    version: 'int64',
    slot: 'datetime?',
    final: 'bool',
    legs: 'int64[]',
    note: 'string?',
  },
};
const decode = decoderOf(sample);
const good = {
  id: 'dt-1',
  kw: 1.5,
  version: '1733000000000',
  slot: '2026-12-06 07:15:00.000',
  final: true,
  legs: ['1', '2'],
  note: null,
};

describe('typed query rows', () => {
  it('decodes JSONEachRow values: 64-bit integers to numbers, times to epoch ms, null kept where nullable', () => {
    expect(decode(good)).toEqual({
      id: 'dt-1',
      kw: 1.5,
      version: 1733000000000,
      slot: Date.UTC(2026, 11, 6, 7, 15),
      final: true,
      legs: [1, 2],
      note: null,
    });
  });

  it("reads an old server's forms the same: Bool as the Enum8 name, a time without milliseconds", () => {
    expect(decode({ ...good, final: 'false', slot: '2026-12-06 07:15:00' })).toMatchObject({
      final: false,
      slot: Date.UTC(2026, 11, 6, 7, 15),
    });
  });

  it('reads a float ClickHouse wrote as null (NaN, an infinity) as NaN', () => {
    expect(decode({ ...good, kw: null }).kw).toBeNaN();
  });

  it('keeps only the declared columns', () => {
    expect(Object.keys(decode({ ...good, extra: 1 }))).toEqual(Object.keys(sample.columns));
  });

  it.each([
    ['text in a number column', { ...good, kw: '1.5' }, /column kw: expected a number, got "1.5"/],
    [
      'a 64-bit integer beyond 2^53',
      { ...good, version: '18446744073709551615' },
      /column version: expected a safe integer/,
    ],
    [
      'null where the column is not nullable',
      { ...good, id: null },
      /column id: expected a string, got null/,
    ],
    [
      'a malformed time',
      { ...good, slot: '06/12/2026' },
      /column slot: expected a 'YYYY-MM-DD hh:mm:ss' time/,
    ],
    ['a scalar where an array belongs', { ...good, legs: '1' }, /column legs: expected an array/],
  ])('refuses %s, naming the column', (_what, row, message) => {
    expect(() => decode(row)).toThrow(message);
  });

  it('refuses a row without a declared column, naming the query and the column', () => {
    const { version: _, ...row } = good;
    expect(() => decode(row)).toThrow(/query sample: the row has no column version/);
  });

  it('maps ClickHouse types to decodings, and refuses a type it cannot decode', () => {
    expect(kindOf('LowCardinality(String)')).toBe('string');
    expect(kindOf("Enum8('a' = 1, 'b' = 2)")).toBe('string');
    expect(kindOf('Nullable(UInt64)')).toBe('int64?');
    expect(kindOf('Array(Nullable(Float64))')).toBe('number?[]');
    expect(kindOf("DateTime64(3, 'UTC')")).toBe('datetime');
    expect(kindOf('UInt32')).toBe('number');
    expect(kindOf('Bool')).toBe('bool');
    expect(() => kindOf('Map(String, UInt8)')).toThrow(/no decoding for the ClickHouse type Map/);
  });

  it('reads the parameters of a query from its placeholders, and refuses one name with two types', () => {
    expect(
      placeholders('WHERE a = {dt_id:String} AND b IN {ids:Array(String)} AND c = {dt_id:String}'),
    ).toEqual([
      ['dt_id', 'String'],
      ['ids', 'Array(String)'],
    ]);
    expect(() => placeholders('{x:String} {x:UInt8}')).toThrow(/placeholder x has two types/);
  });

  it('declares every query of sql/queries/, and nothing else (run `npm run gen:queries` after adding one)', () => {
    const files = readdirSync(join(sqlDir, 'queries'))
      .filter((file) => file.endsWith('.sql'))
      .map((file) => file.slice(0, -4));
    expect(Object.keys(queries).sort()).toEqual(files.sort());
    for (const [name, query] of Object.entries(queries)) expect(query.name).toBe(name);
  });
});
