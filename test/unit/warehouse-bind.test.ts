import { describe, expect, it } from 'vitest';

import { bindParams, quote } from '../../io/warehouse/bind.js';
import { LEGACY_BOOL_TYPE } from '../../io/warehouse/warehouse.js';

describe('client-side parameter binding (servers without query parameters)', () => {
  it('quotes strings with every quote, backslash and line break escaped', () => {
    expect(quote("it's")).toBe("'it\\'s'");
    expect(quote('a\\b')).toBe("'a\\\\b'");
    expect(quote("x' OR 1=1; DROP TABLE readings; --")).toBe("'x\\' OR 1=1; DROP TABLE readings; --'");
    expect(quote('line\nbreak\r\ttab\0nul')).toBe("'line\\nbreak\\r\\ttab\\0nul'");
    expect(quote("\\'")).toBe("'\\\\\\''");
    expect(quote('é ✓')).toBe("'é ✓'");
  });

  it('binds each type as a literal cast to the placeholder type', () => {
    expect(
      bindParams('SELECT {s:String}, {n:UInt32}, {i:Int64}, {f:Float64}', { s: 'a', n: 7, i: -5, f: 1.5 }),
    ).toBe("SELECT CAST('a' AS String), CAST(7 AS UInt32), CAST(-5 AS Int64), CAST(1.5 AS Float64)");
    expect(bindParams('SELECT {big:UInt64}', { big: '18446744073709551615' })).toBe(
      'SELECT CAST(18446744073709551615 AS UInt64)',
    );
    expect(
      bindParams('SELECT {ids:Array(String)}, {ns:Array(UInt32)}', { ids: ['a', "b'c"], ns: [1, 2] }),
    ).toBe("SELECT CAST(['a', 'b\\'c'] AS Array(String)), CAST([1, 2] AS Array(UInt32))");
    expect(bindParams('SELECT {e:Array(String)}', { e: [] })).toBe('SELECT CAST([] AS Array(String))');
    expect(
      bindParams("SELECT {t:DateTime}, {u:DateTime('UTC')}", { t: '2026-07-01 10:15:03', u: 1782900903 }),
    ).toBe("SELECT CAST('2026-07-01 10:15:03' AS DateTime), CAST(1782900903 AS DateTime('UTC'))");
    expect(bindParams('SELECT {d:Date}', { d: '2026-07-01' })).toBe("SELECT CAST('2026-07-01' AS Date)");
    expect(bindParams('SELECT {x:Nullable(String)}, {y:Nullable(UInt8)}', { x: null, y: 3 })).toBe(
      'SELECT CAST(NULL AS Nullable(String)), CAST(3 AS Nullable(UInt8))',
    );
    expect(bindParams('SELECT {lc:LowCardinality(String)}', { lc: 'x' })).toBe(
      "SELECT CAST('x' AS LowCardinality(String))",
    );
  });

  it('binds Bool as the Enum8 that stands in for it on such servers', () => {
    expect(bindParams('SELECT {b:Bool}, {c:Bool}', { b: true, c: false })).toBe(
      `SELECT CAST('true' AS ${LEGACY_BOOL_TYPE}), CAST('false' AS ${LEGACY_BOOL_TYPE})`,
    );
  });

  it('binds LIMIT and OFFSET as bare numbers, still checked against their type', () => {
    expect(bindParams('SELECT 1 LIMIT {l:UInt64} OFFSET {o:UInt32}', { l: 1000, o: '20' })).toBe(
      'SELECT 1 LIMIT 1000 OFFSET 20',
    );
    expect(() => bindParams('SELECT 1 LIMIT {l:UInt64}', { l: '1; DROP TABLE x' })).toThrow(/whole number/);
    expect(() => bindParams('SELECT 1 LIMIT {l:UInt64}', { l: -1 })).toThrow(/whole number from 0/);
  });

  it('makes the right-hand side of IN a tuple (an empty array matches nothing)', () => {
    expect(bindParams('WHERE dt_id IN {dts:Array(String)}', { dts: ['a', "b'"] })).toBe(
      "WHERE dt_id IN (CAST('a' AS String), CAST('b\\'' AS String))",
    );
    expect(bindParams('WHERE dt_id not in  {dts:Array(String)}', { dts: ['a'] })).toBe(
      "WHERE dt_id not in  (CAST('a' AS String))",
    );
    expect(bindParams('WHERE dt_id IN {dts:Array(String)}', { dts: [] })).toBe('WHERE dt_id IN (NULL)');
    // Not after IN: an array value.
    expect(bindParams('WHERE has({dts:Array(String)}, dt_id)', { dts: ['a'] })).toBe(
      "WHERE has(CAST(['a'] AS Array(String)), dt_id)",
    );
    expect(bindParams('SELECT x AS BIN {n:UInt8}', { n: 1 })).toBe('SELECT x AS BIN CAST(1 AS UInt8)');
  });

  it('leaves placeholders inside string literals, quoted names and comments alone', () => {
    const sql = [
      "SELECT '{x:String}' AS a, `{x:String}` AS b, \"{x:String}\" AS c, 'it''s {x:String}', 'q\\'{x:String}'",
      '-- {x:String} in a comment',
      '/* {x:String} */ {x:String} AS d',
    ].join('\n');
    expect(bindParams(sql, { x: 'v' })).toBe(
      [
        "SELECT '{x:String}' AS a, `{x:String}` AS b, \"{x:String}\" AS c, 'it''s {x:String}', 'q\\'{x:String}'",
        '-- {x:String} in a comment',
        "/* {x:String} */ CAST('v' AS String) AS d",
      ].join('\n'),
    );
  });

  it('keeps an injection-shaped value data: a quote cannot end the literal, a placeholder in it is not bound', () => {
    const evil = "x' OR 1=1; DROP TABLE readings; -- {y:String}";
    expect(bindParams('SELECT 1 WHERE a = {x:String} AND b = {y:String}', { x: evil, y: 'safe' })).toBe(
      "SELECT 1 WHERE a = CAST('x\\' OR 1=1; DROP TABLE readings; -- {y:String}' AS String) AND b = CAST('safe' AS String)",
    );
  });

  it('leaves SQL without placeholders (and braces that are not placeholders) unchanged', () => {
    expect(bindParams('SELECT {a}, map{1}, {x : UInt8}', { x: 1 })).toBe(
      'SELECT {a}, map{1}, CAST(1 AS UInt8)',
    );
    expect(bindParams('SELECT 1')).toBe('SELECT 1');
  });

  it('refuses values that are not of the type, naming the parameter', () => {
    expect(() => bindParams('SELECT {x:String}', {})).toThrow('query parameter x (String) is not set');
    expect(() => bindParams('SELECT {n:UInt32}', { n: '1; DROP TABLE t' })).toThrow(
      /query parameter n \(UInt32\): expected a whole number, got "1; DROP TABLE t"/,
    );
    expect(() => bindParams('SELECT {n:UInt8}', { n: 256 })).toThrow(/from 0 to 255/);
    expect(() => bindParams('SELECT {n:UInt32}', { n: -1 })).toThrow(/from 0 to 4294967295/);
    expect(() => bindParams('SELECT {n:Int64}', { n: 1.5 })).toThrow(/whole number/);
    expect(() => bindParams('SELECT {n:Int64}', { n: 2 ** 60 })).toThrow(/whole number/);
    expect(() => bindParams('SELECT {f:Float64}', { f: Number.NaN })).toThrow(/finite number/);
    expect(() => bindParams('SELECT {f:Float64}', { f: '1e5; --' })).toThrow(/finite number/);
    expect(() => bindParams('SELECT {s:String}', { s: null })).toThrow(/not Nullable/);
    expect(() => bindParams('SELECT {a:Array(String)}', { a: 'x' })).toThrow(/expected an array/);
    expect(() => bindParams('SELECT {s:String}', { s: ['x'] })).toThrow(/expected a single value/);
    expect(() => bindParams('SELECT {a:Array(UInt8)}', { a: [1, 'x'] })).toThrow(
      /query parameter a\[1\] \(UInt8\)/,
    );
    expect(() => bindParams("SELECT {t:DateTime('UTC')}", { t: "2026-07-01' OR 1" })).toThrow(/YYYY-MM-DD/);
    expect(() => bindParams('SELECT {t:DateTime64(3)}', { t: 1 })).toThrow(/DateTime64\(3\) cannot be bound/);
    expect(() => bindParams("SELECT 'open", {})).toThrow(/unterminated ' quote/);
  });
});
