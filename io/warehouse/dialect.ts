/**
 * SQL for current ClickHouse, adapted to older servers (Debian's clickhouse-server is 18.16, from 2018).
 *
 * gridstream's SQL (sql/NNN_*.sql, sql/bootstrap.sql, sql/retention.sql, sql/queries/*.sql) is written for
 * current ClickHouse and runs as written on the embedded engine. A clause that an older server lacks is
 * wrapped in a gate naming the feature it needs, with the replacement for older servers commented out below
 * `-- @else`, so the file stays plain current-ClickHouse SQL that analysts can read and run:
 *
 *     -- @if datetime64
 *         ts DateTime64(3, 'UTC') COMMENT 'Event time ...',
 *     -- @else
 *     --  ts String COMMENT 'Event time ... as text',
 *     --  ts_ms UInt64 MATERIALIZED ... COMMENT '...',
 *     -- @end
 *
 * adaptSql(text, version) keeps the `@if` lines on a server that has the feature (the `@else` lines are
 * comments and are dropped) and, on one that lacks it, drops them and uncomments the `@else` lines (their
 * first `-- `). `@else` is optional: without it the clause is left out on an older server. Gates do not nest,
 * and a statement's closing `;` stays outside gates (migrations are split into statements after adapting).
 * See io/warehouse/README.md.
 */

/** A ClickHouse server version, compared by major and minor number. */
export interface ClickHouseVersion {
  readonly major: number;
  readonly minor: number;
  /** As the server reported it, e.g. '18.16.1' (or 'current' for the embedded engine). */
  readonly text: string;
}

/**
 * What gridstream's SQL needs beyond an 18.16 server, and the first release it relies on for each. These are
 * the first long-term-support releases known to have the feature as gridstream uses it (deliberately not the
 * release that introduced it: a server in between gets the older variant, which also works there). Verified
 * here at both ends: Debian's 18.16.1 lacks every one, the embedded engine (current ClickHouse) has every one.
 */
export const FEATURES = {
  query_params: { since: '20.3', what: '{name:Type} query parameters bound by the server' },
  low_cardinality: { since: '20.3', what: 'LowCardinality(T) columns without an experimental setting' },
  add_column_if_not_exists: { since: '20.3', what: 'ALTER TABLE ... ADD COLUMN IF NOT EXISTS' },
  multiple_joins: { since: '20.3', what: 'more than one JOIN in a SELECT, with JOIN ... ON table.column' },
  datetime64: {
    since: '20.8',
    what: 'DateTime64 columns and toUnixTimestamp64Milli / fromUnixTimestamp64Milli',
  },
  parquet: { since: '20.3', what: 'the Parquet input and output format' },
  orc: { since: '22.3', what: 'the ORC output format, LowCardinality columns included' },
  csv_null_representation: { since: '22.3', what: 'the format_csv_null_representation setting' },
  ttl: { since: '20.8', what: 'TTL (and MODIFY TTL) on MergeTree tables, here on DateTime64 columns' },
  date_time_output_format: { since: '21.3', what: 'the date_time_output_format setting' },
  non_replicated_dedup: {
    since: '21.8',
    what: 'the non_replicated_deduplication_window MergeTree setting',
  },
  nested_comments: {
    since: '22.3',
    what: 'a COMMENT on a Nested column reaching its subcolumns (else each Array subcolumn is declared)',
  },
  table_comment: { since: '22.3', what: "CREATE TABLE ... COMMENT 'text' (table comments)" },
  bool: { since: '22.3', what: 'the Bool type (true / false in JSON)' },
  insert_deduplication_token: { since: '22.3', what: 'the insert_deduplication_token setting' },
  ephemeral: { since: '23.3', what: 'EPHEMERAL columns (insert-only input columns)' },
  session_timezone: { since: '23.8', what: 'the session_timezone setting' },
} as const satisfies Record<string, { since: string; what: string }>;

export type Feature = keyof typeof FEATURES;

/** The embedded engine: current ClickHouse, every feature. */
export const CURRENT: ClickHouseVersion = Object.freeze({
  major: Number.POSITIVE_INFINITY,
  minor: Number.POSITIVE_INFINITY,
  text: 'current',
});

/** Parses what `SELECT version()` returns ('18.16.1', '24.8.4.13', ...). */
export function parseVersion(text: string): ClickHouseVersion {
  const match = /^\s*(\d+)\.(\d+)(?:\.[\w.-]*)?\s*$/.exec(text);
  if (match === null) throw new Error(`not a ClickHouse version: ${JSON.stringify(text)}`);
  return { major: Number(match[1]), minor: Number(match[2]), text: text.trim() };
}

export function compareVersions(a: ClickHouseVersion, b: ClickHouseVersion): number {
  return a.major !== b.major ? Math.sign(a.major - b.major) : Math.sign(a.minor - b.minor);
}

export function olderVersion(a: ClickHouseVersion, b: ClickHouseVersion): ClickHouseVersion {
  return compareVersions(a, b) <= 0 ? a : b;
}

/** Whether a server of `version` has `feature`. */
export function supports(version: ClickHouseVersion, feature: Feature): boolean {
  return compareVersions(version, parseVersion(FEATURES[feature].since)) >= 0;
}

function isFeature(name: string): name is Feature {
  return Object.hasOwn(FEATURES, name);
}

const MARKER = /^\s*--\s*@(if|else|end|note)\b\s*(.*)$/;
const COMMENTED = /^(\s*)--(?: |$)?/;

/**
 * The SQL for a server of `version`: resolves every `-- @if feature` / `-- @else` / `-- @end` gate (see the
 * top of this file). Text without gates comes back unchanged. A malformed gate is an error naming the line.
 */
export function adaptSql(text: string, version: ClickHouseVersion): string {
  if (!text.includes('@')) return text;
  const out: string[] = [];
  let gate: { feature: Feature; line: number; branch: 'if' | 'else'; keep: boolean } | undefined;
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    const where = `line ${index + 1}`;
    const marker = MARKER.exec(line);
    if (marker !== null) {
      const [, kind, rest = ''] = marker;
      if (kind === 'note') continue;
      if (kind === 'if') {
        if (gate !== undefined)
          throw new Error(`${where}: @if inside the @if of line ${gate.line} (gates do not nest)`);
        const name = /^[a-z0-9_]+/.exec(rest)?.[0] ?? '';
        if (!isFeature(name))
          throw new Error(
            `${where}: unknown feature ${JSON.stringify(name)} after @if (known: ${Object.keys(FEATURES).join(', ')})`,
          );
        gate = { feature: name, line: index + 1, branch: 'if', keep: supports(version, name) };
      } else if (kind === 'else') {
        if (gate === undefined || gate.branch !== 'if') throw new Error(`${where}: @else without @if`);
        gate.branch = 'else';
      } else {
        if (gate === undefined) throw new Error(`${where}: @end without @if`);
        gate = undefined;
      }
      continue;
    }
    if (gate === undefined) {
      out.push(line);
    } else if (gate.branch === 'if') {
      if (gate.keep) out.push(line);
    } else {
      const commented = COMMENTED.exec(line);
      if (commented === null && line.trim() !== '')
        throw new Error(
          `${where}: the alternative after @else (line ${gate.line}'s gate) must be commented out with --, ` +
            'so that the file stays current ClickHouse SQL',
        );
      if (!gate.keep && commented !== null) out.push(commented[1] + line.slice(commented[0].length));
    }
  }
  if (gate !== undefined) throw new Error(`line ${gate.line}: @if ${gate.feature} has no @end`);
  return out.join('\n');
}

/** adaptSql for one version, remembering the result per text (the same few query texts run again and again). */
export class SqlAdapter {
  private readonly cache = new Map<string, string>();

  constructor(readonly version: ClickHouseVersion) {}

  adapt(sql: string): string {
    if (!sql.includes('@')) return sql;
    let adapted = this.cache.get(sql);
    if (adapted === undefined) {
      adapted = adaptSql(sql, this.version);
      if (this.cache.size >= 256) this.cache.clear();
      this.cache.set(sql, adapted);
    }
    return adapted;
  }
}
