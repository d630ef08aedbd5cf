/**
 * The warehouse contract: the one seam between gridstream and ClickHouse. Two implementations exist, the
 * embedded engine (chdb, in-process) and a ClickHouse server (HTTP); everything above this interface is the
 * same code in both runtime modes.
 */

import { supports, type ClickHouseVersion, type Feature } from './dialect.js';
import { messageOf } from '../../core/errors.js';

export type QueryParams = Record<string, string | number | boolean | null | Array<string | number>>;

export interface Warehouse {
  readonly kind: 'embedded' | 'server';
  /**
   * The ClickHouse version gridstream's SQL is adapted to (the `-- @if feature` gates, see dialect.ts):
   * current ClickHouse for the embedded engine; for a server, its version, or the oldest version that applied
   * a migration to the database when that is older (a database created on Debian's 18.16 keeps the 18.16
   * table layout after a server upgrade). command() and query() adapt the SQL they are given to it.
   */
  readonly dialect: ClickHouseVersion;
  /**
   * Whether insertEncoded() uses a `dedupToken` (insert_deduplication_token): writers compute one only then
   * (hashing every batch costs a busy writer real CPU, for nothing on a server that cannot use it).
   */
  readonly dedupTokens: boolean;
  /**
   * Whether insertEncoded() takes RowBinary (io/warehouse/row-binary.ts) besides JSONEachRow: a server does;
   * the embedded engine's raw inserts take text formats only.
   */
  readonly rowBinary: boolean;
  /** Runs a statement that returns no rows (DDL, ALTER, INSERT ... SELECT). {name:Type} placeholders bind params. */
  command(sql: string, params?: QueryParams): Promise<void>;
  /**
   * Runs a SELECT and returns its rows as objects, as JSONEachRow gives them (64-bit integers as strings,
   * DateTime values as 'YYYY-MM-DD hh:mm:ss[.sss]' UTC). {name:Type} placeholders bind params: server-side
   * where the server can, else client-side with escaping (bind.ts). The same query gives the same rows, in
   * the same JSON, on the embedded engine and on any server, old ones included.
   */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]>;
  /**
   * Runs a SELECT and writes its whole result, in ClickHouse's own output format `format` (EXPORT_FORMATS),
   * to the new file `path`, without holding the result in this process's memory: the embedded engine writes
   * the file itself (INTO OUTFILE), a server's response is streamed to it. The file must not exist; on failure
   * no file is left. Resolves with the bytes written. Placeholders bind params as in query().
   */
  exportToFile(
    sql: string,
    params: QueryParams | undefined,
    format: ExportFormat,
    path: string,
    options?: ExportOptions,
  ): Promise<{ bytes: number }>;
  /**
   * One row (an object keyed by column name) as a JSONEachRow line, newline included, in the input this
   * warehouse takes (a server without the Bool type wants Bool columns as Enum names). The batch writer
   * serializes each row once with it and hashes and inserts those same bytes.
   */
  encodeRow(row: Readonly<Record<string, unknown>>): string;
  /** Inserts rows as JSONEachRow: encodeRow() for each, then insertEncoded(). */
  insert(
    table: string,
    rows: ReadonlyArray<Record<string, unknown>>,
    options?: { dedupToken?: string },
  ): Promise<void>;
  /**
   * Inserts rows already serialized, by encodeRow() (JSONEachRow) or in RowBinary. `dedupToken`, when given, makes a retried insert of the
   * same batch a no-op (insert_deduplication_token; enable non_replicated_deduplication_window on the
   * MergeTree tables so it works on non-replicated tables). Servers without insert_deduplication_token
   * (before 22.3) ignore it: there a retried batch relies on ReplacingMergeTree, see io/warehouse/README.md.
   */
  insertEncoded(table: string, rows: EncodedRows, options?: { dedupToken?: string }): Promise<void>;
  close(): Promise<void>;
}

/**
 * ClickHouse output formats a result can be exported in, and the feature (dialect.ts) each needs beyond an
 * 18.16 server, if any. JSONEachRow (one object a line) rather than JSON: it streams without a closing summary.
 */
export const EXPORT_FORMATS = {
  CSVWithNames: undefined,
  JSONEachRow: undefined,
  Parquet: 'parquet',
  ORC: 'orc',
} as const satisfies Record<string, Feature | undefined>;
export type ExportFormat = keyof typeof EXPORT_FORMATS;

/** How an export writes what the format leaves open. */
export interface ExportOptions {
  /**
   * CSV: the text of a NULL (ClickHouse writes \N): the format_csv_null_representation setting where the
   * engine has it, the same bytes rewritten as they stream on older servers (csv-nulls.ts).
   */
  csvNull?: string;
}

/** Whether a warehouse of `version` can write `format`. */
export function canExport(version: ClickHouseVersion, format: ExportFormat): boolean {
  const feature = EXPORT_FORMATS[format];
  return feature === undefined || supports(version, feature);
}

/**
 * Session settings both implementations apply, so that a query returns the same JSON in both modes whatever
 * the server's profile says: 64-bit integers as strings (a JS number cannot hold every UInt64), DateTime
 * values as 'YYYY-MM-DD hh:mm:ss[.sss]', and UTC for any expression without an explicit time zone.
 */
export const SESSION_SETTINGS = {
  output_format_json_quote_64bit_integers: 1,
  date_time_output_format: 'simple',
  session_timezone: 'UTC',
} as const;

/**
 * SESSION_SETTINGS less those a server of `version` does not know (it would refuse the request). Without
 * them: before date_time_output_format, DateTime always printed as 'YYYY-MM-DD hh:mm:ss'; before
 * session_timezone, gridstream's SQL names 'UTC' wherever it converts a time (ad-hoc SQL gets the server's
 * time zone: infra/clickhouse/config.xml sets UTC).
 */
export function sessionSettings(version: ClickHouseVersion): Partial<typeof SESSION_SETTINGS> {
  const { date_time_output_format, session_timezone, ...always } = SESSION_SETTINGS;
  return {
    ...always,
    ...(supports(version, 'date_time_output_format') ? { date_time_output_format } : {}),
    ...(supports(version, 'session_timezone') ? { session_timezone } : {}),
  };
}

/** A failed warehouse call: names the statement (shortened) and carries ClickHouse's own message. */
export class WarehouseError extends Error {
  override readonly name = 'WarehouseError';
  constructor(
    readonly operation: 'command' | 'query' | 'insert' | 'export',
    readonly statement: string,
    cause: unknown,
  ) {
    super(`ClickHouse ${operation} failed: ${messageOf(cause)}\n  statement: ${excerpt(statement)}`, {
      cause,
    });
  }
}

function excerpt(sql: string, max = 300): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > max ? flat.slice(0, max) + ' …' : flat;
}

/**
 * Rows serialized for one insert: JSONEachRow lines and the column list taken from the first row. Naming the
 * columns matters: without a column list ClickHouse ignores EPHEMERAL input columns (dead_letters.raw_base64),
 * and with one every row must carry the same keys, which the row mappers in rows.ts guarantee.
 */
/** How inserted rows are serialized: JSONEachRow (encodeRow) everywhere, RowBinary where `rowBinary`. */
export type InsertFormat = 'JSONEachRow' | 'RowBinary';

export interface EncodedRows {
  readonly columns: readonly string[];
  readonly format: InsertFormat;
  /** The rows' bytes, in order: a batch's chunks as they were written (the server streams them; no copy). */
  readonly chunks: readonly Buffer[];
  readonly rows: number;
}

/** Without the Bool type a Bool column is Enum8('false' = 0, 'true' = 1), whose JSON input is the name. */
const booleanAsEnumName = (_key: string, value: unknown) =>
  typeof value === 'boolean' ? String(value) : value;

/** One row as a JSONEachRow line (newline included); see Warehouse.encodeRow. */
export function jsonEachRowLine(
  row: Readonly<Record<string, unknown>>,
  options: { booleansAsEnum?: boolean } = {},
): string {
  // A replacer function takes JSON.stringify off its fast path (about twice the cost of a reading row), so
  // it is used only for the rows that may have a Bool (is_final and the like, not a reading).
  return (
    (options.booleansAsEnum && hasBoolean(row)
      ? JSON.stringify(row, booleanAsEnumName)
      : JSON.stringify(row)) + '\n'
  );
}

function hasBoolean(row: Readonly<Record<string, unknown>>): boolean {
  for (const key in row) {
    const value = row[key];
    if (typeof value === 'boolean') return true;
    // An array holds one type; any other object (none in today's rows) is left to the replacer to walk.
    if (Array.isArray(value) ? typeof value[0] === 'boolean' : typeof value === 'object' && value !== null)
      return true;
  }
  return false;
}

/** Encodes rows for insertEncoded() with the warehouse's own encodeRow(). */
export function encodeRows(
  warehouse: Pick<Warehouse, 'encodeRow'>,
  rows: ReadonlyArray<Record<string, unknown>>,
): EncodedRows {
  let text = '';
  for (const row of rows) text += warehouse.encodeRow(row);
  return {
    columns: rows[0] === undefined ? [] : Object.keys(rows[0]),
    format: 'JSONEachRow',
    chunks: [Buffer.from(text)],
    rows: rows.length,
  };
}

/** Backquotes one identifier (a column name such as `legs.v` stays one identifier) for use in SQL text. */
export function quoteIdentifier(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
}

/** Backquotes a table name, optionally database-qualified ('db.table'). */
export function quoteTableName(name: string): string {
  return name.split('.').map(quoteIdentifier).join('.');
}

/** How a server without the Bool type stores a Bool column (see sql/002_envelopes.sql). */
export const LEGACY_BOOL_TYPE = "Enum8('false' = 0, 'true' = 1)";

/**
 * Rows of a result in ClickHouse's JSON format ({"meta": [{name, type}], "data": [rows]}), with the values of
 * every column of type LEGACY_BOOL_TYPE (also inside Nullable or Array) turned back into JSON booleans, as
 * a Bool column would give them.
 */
export function parseJsonWithLegacyBools<T>(text: string): T[] {
  const result = JSON.parse(text) as { meta: Array<{ name: string; type: string }>; data: T[] };
  const decoders: Array<[string, (value: unknown) => unknown]> = [];
  for (const { name, type } of result.meta) {
    const decode = legacyBoolDecoder(type);
    if (decode !== undefined) decoders.push([name, decode]);
  }
  if (decoders.length > 0) {
    for (const row of result.data as Array<Record<string, unknown>>) {
      for (const [name, decode] of decoders) row[name] = decode(row[name]);
    }
  }
  return result.data;
}

function legacyBoolDecoder(type: string): ((value: unknown) => unknown) | undefined {
  if (type === LEGACY_BOOL_TYPE) return (value) => value === 'true';
  const inner = /^(Nullable|Array)\((.*)\)$/.exec(type);
  if (inner === null) return undefined;
  const decode = legacyBoolDecoder(inner[2]!);
  if (decode === undefined) return undefined;
  return inner[1] === 'Nullable'
    ? (value) => (value === null ? null : decode(value))
    : (value) => (value as unknown[]).map(decode);
}

/** Parses a JSONEachRow result (one JSON object per line) with a single JSON.parse call. */
export function parseJsonEachRow<T>(text: string): T[] {
  const body = text.trimEnd();
  if (body === '') return [];
  // Line breaks inside JSON strings are escaped, so a raw newline always separates two rows.
  return JSON.parse('[' + body.replaceAll('\n', ',') + ']') as T[];
}
