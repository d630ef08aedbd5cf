import { describe, expect, it } from 'vitest';

import { fillTemplate, splitStatements } from '../../io/warehouse/migrate.js';
import {
  dataQualityLabel,
  dateTime64,
  parseDateTime64,
  READING_COLUMNS,
  readingLine,
  readingRow,
} from '../../io/warehouse/rows.js';
import { sqlQuery } from '../../io/warehouse/sql-files.js';
import {
  encodeRows,
  jsonEachRowLine,
  parseJsonEachRow,
  quoteIdentifier,
  quoteTableName,
} from '../../io/warehouse/warehouse.js';

describe('warehouse timestamps', () => {
  it('writes epoch milliseconds as DateTime64(3) UTC text and reads them back', () => {
    const ms = Date.UTC(2026, 6, 1, 10, 15, 3, 7);
    expect(dateTime64(ms)).toBe('2026-07-01 10:15:03.007');
    expect(parseDateTime64('2026-07-01 10:15:03.007')).toBe(ms);
    expect(parseDateTime64('2026-07-01 10:15:03')).toBe(ms - 7);
    expect(dateTime64(0)).toBe('1970-01-01 00:00:00.000');
  });

  it('refuses what is not an instant', () => {
    expect(() => dateTime64(Number.NaN)).toThrow(RangeError);
    expect(() => parseDateTime64('yesterday')).toThrow(RangeError);
  });
});

describe('readingLine', () => {
  it('renders a reading exactly as jsonEachRowLine(readingRow()) does, with its columns in order', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const odd = [0, -0, 1e21, 1e-7, -1.5e-300, 123456789.125, 0.1 + 0.2, Number.MAX_VALUE];
    for (let n = 0; n < 2000; n++) {
      const legs = Array.from({ length: n % 4 }, (_, k) => ({
        leg: k + 1,
        v: n % 50 === 0 ? odd[k % odd.length]! : 230 + random() * 20,
        i: Math.abs(random() * 40),
      }));
      const reading = {
        meter_id: n % 3 === 0 ? `M-${n} "é\\\n\u2028"` : `M-${n}`,
        dt_id: `DT-${n % 17}`,
        ts: Date.UTC(2026, 6, 1) + Math.floor(Math.abs(random()) * 86_400_000),
        p_kw: n % 40 === 0 ? odd[n % odd.length]! : random() * 10,
        q_kvar: n % 5 === 0 ? null : random(),
        legs,
        e_imp_kwh: n % 7 === 0 ? null : Math.abs(random()) * 1e4,
        e_exp_kwh: n % 11 === 0 ? null : Math.abs(random()) * 1e3,
        received_at: Date.UTC(2026, 6, 1) + n * 997,
      };
      expect(readingLine(reading)).toBe(jsonEachRowLine(readingRow(reading)));
      expect(Object.keys(readingRow(reading))).toEqual(READING_COLUMNS);
    }
  });
});

describe('dataQualityLabel', () => {
  it('spells the Avro symbols as the seeds do', () => {
    expect(dataQualityLabel('ami_direct')).toBe('ami-direct');
    expect(dataQualityLabel('ami_imputed')).toBe('ami-imputed');
    expect(dataQualityLabel('modelled_only')).toBe('modelled-only');
  });
});

describe('JSONEachRow', () => {
  it('encodes rows as one buffer with the first row naming the columns', () => {
    const encoder = { encodeRow: (row: Record<string, unknown>) => jsonEachRowLine(row) };
    const { chunks, columns, rows, format } = encodeRows(encoder, [
      { a: 1, 'legs.v': [1.5], s: 'line\nbreak' },
      { a: 2, 'legs.v': [], s: 'é' },
    ]);
    expect(rows).toBe(2);
    expect(format).toBe('JSONEachRow');
    expect(columns).toEqual(['a', 'legs.v', 's']);
    expect(chunks).toHaveLength(1);
    const payload = chunks[0]!;
    expect(payload.toString('utf8')).toBe(
      '{"a":1,"legs.v":[1.5],"s":"line\\nbreak"}\n{"a":2,"legs.v":[],"s":"é"}\n',
    );
    expect(parseJsonEachRow(payload.toString('utf8'))).toEqual([
      { a: 1, 'legs.v': [1.5], s: 'line\nbreak' },
      { a: 2, 'legs.v': [], s: 'é' },
    ]);
    expect(encodeRows(encoder, [])).toEqual({
      columns: [],
      format: 'JSONEachRow',
      chunks: [Buffer.alloc(0)],
      rows: 0,
    });
    expect(parseJsonEachRow('')).toEqual([]);
  });

  it('quotes identifiers', () => {
    expect(quoteIdentifier('legs.v')).toBe('`legs.v`');
    expect(quoteIdentifier('a`b\\')).toBe('`a\\`b\\\\`');
    expect(quoteTableName('gridstream.readings')).toBe('`gridstream`.`readings`');
  });
});

describe('migration text', () => {
  it('splits statements at a semicolon that ends a line, dropping comment-only pieces', () => {
    const text = [
      '-- header comment',
      "CREATE TABLE a (x UInt8 COMMENT 'one; two') ENGINE = Memory;",
      '',
      '-- between',
      'ALTER TABLE a',
      '    ADD COLUMN y UInt8;  ',
      '-- trailing comment only',
      '',
    ].join('\n');
    expect(splitStatements(text)).toEqual([
      "-- header comment\nCREATE TABLE a (x UInt8 COMMENT 'one; two') ENGINE = Memory",
      '-- between\nALTER TABLE a\n    ADD COLUMN y UInt8',
    ]);
    expect(splitStatements('SELECT 1')).toEqual(['SELECT 1']);
  });

  it('fills in the retention and refuses unknown markers', () => {
    expect(fillTemplate('TTL ts + INTERVAL {{retention_days}} DAY', 30, 'f.sql')).toBe(
      'TTL ts + INTERVAL 30 DAY',
    );
    expect(() => fillTemplate('{{nope}}', 30, 'f.sql')).toThrow(
      /f\.sql: unknown template marker \{\{nope\}\}/,
    );
  });
});

describe('sqlQuery', () => {
  it('loads sql/queries/<name>.sql without the trailing semicolon', () => {
    const text = sqlQuery('envelopes_for_dt');
    expect(text).toMatch(/FROM envelopes\nWHERE dt_id = \{dt_id:String\}/);
    expect(text.endsWith(';')).toBe(false);
    expect(sqlQuery('envelopes_for_dt')).toBe(text);
  });

  it('refuses names that could leave sql/queries, and names a missing file', () => {
    expect(() => sqlQuery('../001_readings')).toThrow(/invalid query name/);
    expect(() => sqlQuery('no_such_query')).toThrow(/cannot read query no_such_query/);
  });
});
