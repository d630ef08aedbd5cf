import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { sqlDir } from '../../core/paths.js';
import {
  adaptSql,
  compareVersions,
  CURRENT,
  FEATURES,
  olderVersion,
  parseVersion,
  supports,
  type Feature,
} from '../../io/warehouse/dialect.js';
import { loadMigrations, splitStatements } from '../../io/warehouse/migrate.js';
import {
  jsonEachRowLine,
  LEGACY_BOOL_TYPE,
  parseJsonWithLegacyBools,
  sessionSettings,
} from '../../io/warehouse/warehouse.js';

const DEBIAN = parseVersion('18.16.1');
const v = parseVersion;

describe('ClickHouse versions', () => {
  it('parse what version() returns and compare by major and minor', () => {
    expect(v('18.16.1')).toEqual({ major: 18, minor: 16, text: '18.16.1' });
    expect(v('24.8.4.13')).toMatchObject({ major: 24, minor: 8 });
    expect(v('25.8')).toMatchObject({ major: 25, minor: 8 });
    expect(() => v('current')).toThrow(/not a ClickHouse version/);
    expect(() => v('')).toThrow(/not a ClickHouse version/);
    expect(compareVersions(v('18.16.1'), v('20.3.1'))).toBe(-1);
    expect(compareVersions(v('20.10.1'), v('20.3.9'))).toBe(1);
    expect(compareVersions(v('22.3.1'), v('22.3.15'))).toBe(0);
    expect(compareVersions(CURRENT, v('99.12'))).toBe(1);
    expect(olderVersion(v('24.8.1'), DEBIAN)).toBe(DEBIAN);
    expect(olderVersion(CURRENT, DEBIAN)).toBe(DEBIAN);
  });

  it('give each feature from its version on: none on 18.16, all on current ClickHouse', () => {
    const features = Object.keys(FEATURES) as Feature[];
    expect(features.filter((f) => supports(DEBIAN, f))).toEqual([]);
    expect(features.filter((f) => supports(CURRENT, f))).toEqual(features);
    expect(supports(v('20.8.1'), 'datetime64')).toBe(true);
    expect(supports(v('20.7.1'), 'datetime64')).toBe(false);
    expect(supports(v('22.3.1'), 'bool')).toBe(true);
    expect(supports(v('21.12.1'), 'bool')).toBe(false);
  });
});

describe('adaptSql', () => {
  const gated = [
    'CREATE TABLE t',
    '(',
    '-- @if datetime64',
    "    ts DateTime64(3, 'UTC') COMMENT 'time'",
    '-- @else',
    "--  ts String COMMENT 'time as text',",
    "--  ts_ms UInt64 MATERIALIZED 0 COMMENT 'ms'",
    '-- @end',
    ')',
    'ENGINE = MergeTree ORDER BY tuple()',
    '-- @note not SQL: a note for the reader',
    '-- @if ttl',
    'TTL toDateTime(ts) + INTERVAL 1 DAY',
    '-- @end',
    '-- an ordinary comment; it stays',
    ';',
  ].join('\n');

  it('keeps the @if lines on a server with the feature, and drops the @else lines and the markers', () => {
    expect(adaptSql(gated, CURRENT)).toBe(
      [
        'CREATE TABLE t',
        '(',
        "    ts DateTime64(3, 'UTC') COMMENT 'time'",
        ')',
        'ENGINE = MergeTree ORDER BY tuple()',
        'TTL toDateTime(ts) + INTERVAL 1 DAY',
        '-- an ordinary comment; it stays',
        ';',
      ].join('\n'),
    );
  });

  it('uncomments the @else lines on a server without the feature, and leaves out a gate without @else', () => {
    expect(adaptSql(gated, DEBIAN)).toBe(
      [
        'CREATE TABLE t',
        '(',
        " ts String COMMENT 'time as text',",
        " ts_ms UInt64 MATERIALIZED 0 COMMENT 'ms'",
        ')',
        'ENGINE = MergeTree ORDER BY tuple()',
        '-- an ordinary comment; it stays',
        ';',
      ].join('\n'),
    );
  });

  it('decides each gate on its own feature', () => {
    // 20.8 has DateTime64 and TTL; 20.3 has neither.
    expect(adaptSql(gated, v('20.8.3'))).toContain('DateTime64');
    expect(adaptSql(gated, v('20.8.3'))).toContain('TTL');
    expect(adaptSql(gated, v('20.3.3'))).not.toContain('DateTime64');
    expect(adaptSql(gated, v('20.3.3'))).not.toContain('TTL');
  });

  it('returns text without gates unchanged', () => {
    const text = "SELECT 'a@b' AS x -- mail@example.org\nFROM t";
    expect(adaptSql(text, DEBIAN)).toBe(text);
    expect(adaptSql(text, CURRENT)).toBe(text);
  });

  it('refuses malformed gates, naming the line', () => {
    expect(() => adaptSql('-- @if nope\nSELECT 1\n-- @end', CURRENT)).toThrow(
      /line 1: unknown feature "nope" after @if \(known: query_params, /,
    );
    expect(() => adaptSql('-- @if bool\n-- @if ttl\n-- @end\n-- @end', CURRENT)).toThrow(
      /line 2: @if inside the @if of line 1/,
    );
    expect(() => adaptSql('SELECT 1\n-- @if bool\nSELECT 2', CURRENT)).toThrow(
      /line 2: @if bool has no @end/,
    );
    expect(() => adaptSql('-- @else\n-- @end', CURRENT)).toThrow(/line 1: @else without @if/);
    expect(() => adaptSql('-- @end', CURRENT)).toThrow(/line 1: @end without @if/);
    expect(() => adaptSql('-- @if bool\n-- @else\nSELECT 2\n-- @end', CURRENT)).toThrow(
      /line 3: the alternative after @else .* must be commented out/,
    );
  });
});

describe("gridstream's SQL files", () => {
  const files = [
    ...readdirSync(sqlDir)
      .filter((name) => name.endsWith('.sql'))
      .map((name) => join(sqlDir, name)),
    ...readdirSync(join(sqlDir, 'queries')).map((name) => join(sqlDir, 'queries', name)),
  ];
  const versions = ['18.16.1', '20.3.1', '20.8.1', '21.3.1', '21.8.1', '22.3.1', '23.3.1', '23.8.1'].map(v);

  it.each(files.map((path) => [path.slice(sqlDir.length + 1), path]))(
    '%s adapts cleanly to every version (no gate left behind, statements intact)',
    (_name, path) => {
      const text = readFileSync(path, 'utf8');
      for (const version of [...versions, CURRENT]) {
        const adapted = adaptSql(text, version);
        expect(adapted, version.text).not.toMatch(/^\s*--\s*@/m);
        for (const statement of splitStatements(adapted)) {
          expect(statement.trim(), version.text).not.toBe('');
          expect(statement, version.text).not.toMatch(/^\s*;/);
        }
      }
    },
  );

  it('give current ClickHouse the migrations it was given before the gates existed (same checksums)', () => {
    // SHA-256 of sql/001..006 as they were before the gates, recorded in gridstream_migrations of every
    // database made since: a database that already has them applied must still migrate.
    const before: Record<string, string> = {
      '001_readings.sql': '3aea6581858146cf230d43aa7827f3c8b0f3c63c5b5f04a637fdfaa007b808a4',
      '002_envelopes.sql': '9dc6f8e22dec1ce009a6597ead56a1c1d0b9f65a098314851bd08fc8fb960385',
      '003_dead_letters.sql': 'dc8616b5163b49e1fef9be9f82379eb7c191f04fb41b3861bdaa1d3f3cf57e46',
      '004_topology.sql': '003f83edd779296e6d5f3421ce3b29fe19edc78d3d2f665793f31b9fc43cc07b',
      '005_weather.sql': '10f5e1d64dbb30c53eae46d78b36578e5b458f123b93602bdb80e4298580347b',
      '006_dispatches.sql': '5b088f33b1a60eb9b69a3c780d7bb3f68440bdac702d3df685dae01b88eeda5b',
    };
    for (const migration of loadMigrations(sqlDir, CURRENT).filter((m) => m.name in before)) {
      expect(migration.checksum, migration.name).toBe(before[migration.name]);
      expect(createHash('sha256').update(migration.text).digest('hex')).toBe(migration.checksum);
    }
    // On 18.16 the same files make other SQL, so another checksum.
    const debian = loadMigrations(sqlDir, DEBIAN);
    expect(debian.map((m) => m.checksum)).not.toContain(before['001_readings.sql']);
  });

  it('give 18.16 time columns as text with epoch milliseconds beside them, and none of what it lacks', () => {
    const readings = loadMigrations(sqlDir, DEBIAN).find((m) => m.name === '001_readings.sql')!.text;
    expect(readings).toMatch(/^ ts String COMMENT/m);
    expect(readings).toMatch(
      /^ ts_ms UInt64 MATERIALIZED toUInt64\(toDateTime\(substring\(ts, 1, 19\), 'UTC'\)\)/m,
    );
    expect(readings).toMatch(/ENGINE = ReplacingMergeTree\(received_at_ms\)/);
    expect(readings).toMatch(/ORDER BY \(dt_id, meter_id, ts_ms\)/);
    for (const lacking of ['DateTime64(', '\nTTL ', 'non_replicated_deduplication_window', 'Nested(']) {
      expect(readings).not.toContain(lacking);
    }
    expect(readings.trimEnd().endsWith(';')).toBe(true);
    const query = adaptSql(readFileSync(join(sqlDir, 'queries', 'envelopes_for_dt.sql'), 'utf8'), DEBIAN);
    expect(query).toContain('AND slot_start_ms >= {from_ms:Int64}');
    expect(query).not.toContain('Unix');
    expect(
      adaptSql(readFileSync(join(sqlDir, 'queries', 'envelopes_for_dt.sql'), 'utf8'), CURRENT),
    ).toContain("AND slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')");
    const envelopes = loadMigrations(sqlDir, DEBIAN).find((m) => m.name === '002_envelopes.sql')!.text;
    expect(envelopes).toContain(`is_final ${LEGACY_BOOL_TYPE}`);
  });
});

describe('session settings', () => {
  it('leave out the settings a server does not know', () => {
    expect(sessionSettings(DEBIAN)).toEqual({ output_format_json_quote_64bit_integers: 1 });
    expect(sessionSettings(v('22.3.1'))).toEqual({
      output_format_json_quote_64bit_integers: 1,
      date_time_output_format: 'simple',
    });
    expect(sessionSettings(CURRENT)).toEqual({
      output_format_json_quote_64bit_integers: 1,
      date_time_output_format: 'simple',
      session_timezone: 'UTC',
    });
  });
});

describe('Bool on a server without it', () => {
  it('is written as the names of Enum8 false/true', () => {
    const row = { a: true, b: [false], c: 'true', d: 1 };
    expect(jsonEachRowLine(row, { booleansAsEnum: true })).toBe(
      '{"a":"true","b":["false"],"c":"true","d":1}\n',
    );
    expect(jsonEachRowLine(row)).toBe('{"a":true,"b":[false],"c":"true","d":1}\n');
  });

  it('is read back as JSON booleans by the column type of the result, Nullable and Array included', () => {
    const result = {
      meta: [
        { name: 'flag', type: LEGACY_BOOL_TYPE },
        { name: 'maybe', type: `Nullable(${LEGACY_BOOL_TYPE})` },
        { name: 'flags', type: `Array(${LEGACY_BOOL_TYPE})` },
        { name: 'label', type: 'String' },
        { name: 'tier', type: "Enum8('true' = 1, 'other' = 2)" },
      ],
      data: [
        { flag: 'true', maybe: null, flags: ['false', 'true'], label: 'true', tier: 'true' },
        { flag: 'false', maybe: 'true', flags: [], label: 'false', tier: 'other' },
      ],
      rows: 2,
    };
    expect(parseJsonWithLegacyBools(JSON.stringify(result))).toEqual([
      { flag: true, maybe: null, flags: [false, true], label: 'true', tier: 'true' },
      { flag: false, maybe: true, flags: [], label: 'false', tier: 'other' },
    ]);
  });
});
