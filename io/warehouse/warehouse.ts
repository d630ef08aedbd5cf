/**
 * The warehouse contract: the one seam between gridstream and ClickHouse. Two implementations exist, the
 * embedded engine (chdb, in-process) and a ClickHouse server (HTTP); everything above this interface is the
 * same code in both runtime modes.
 */

export type QueryParams = Record<string, string | number | boolean | null | Array<string | number>>;

export interface Warehouse {
  readonly kind: 'embedded' | 'server';
  /** Runs a statement that returns no rows (DDL, ALTER, INSERT ... SELECT). {name:Type} placeholders bind params. */
  command(sql: string, params?: QueryParams): Promise<void>;
  /** Runs a SELECT and returns its rows as objects (JSONEachRow). {name:Type} placeholders bind params server-side. */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Inserts rows (objects keyed by column name) as JSONEachRow. `dedupToken`, when given, makes a retried insert of the same batch a no-op (insert_deduplication_token; enable non_replicated_deduplication_window on the MergeTree tables so it works on non-replicated tables). */
  insert(
    table: string,
    rows: ReadonlyArray<Record<string, unknown>>,
    options?: { dedupToken?: string },
  ): Promise<void>;
  close(): Promise<void>;
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

/** A failed warehouse call: names the statement (shortened) and carries ClickHouse's own message. */
export class WarehouseError extends Error {
  override readonly name = 'WarehouseError';
  constructor(
    readonly operation: 'command' | 'query' | 'insert',
    readonly statement: string,
    cause: unknown,
  ) {
    super(`ClickHouse ${operation} failed: ${messageOf(cause)}\n  statement: ${excerpt(statement)}`, {
      cause,
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message.trim() : String(error);
}

function excerpt(sql: string, max = 300): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > max ? flat.slice(0, max) + ' …' : flat;
}

/**
 * Serializes rows as one JSONEachRow payload (one Buffer, one line per row), and returns the column list
 * taken from the first row. Naming the columns matters: without a column list ClickHouse ignores EPHEMERAL
 * input columns (dead_letters.raw_base64), and with one every row must carry the same keys, which the row
 * mappers in rows.ts guarantee.
 */
export function encodeJsonEachRow(rows: ReadonlyArray<Record<string, unknown>>): {
  payload: Buffer;
  columns: string[];
} {
  const first = rows[0];
  if (first === undefined) return { payload: Buffer.alloc(0), columns: [] };
  let text = '';
  for (const row of rows) text += JSON.stringify(row) + '\n';
  return { payload: Buffer.from(text, 'utf8'), columns: Object.keys(first) };
}

/** Backquotes one identifier (a column name such as `legs.v` stays one identifier) for use in SQL text. */
export function quoteIdentifier(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
}

/** Backquotes a table name, optionally database-qualified ('db.table'). */
export function quoteTableName(name: string): string {
  return name.split('.').map(quoteIdentifier).join('.');
}

/** Parses a JSONEachRow result (one JSON object per line) with a single JSON.parse call. */
export function parseJsonEachRow<T>(text: string): T[] {
  const body = text.trimEnd();
  if (body === '') return [];
  // Line breaks inside JSON strings are escaped, so a raw newline always separates two rows.
  return JSON.parse('[' + body.replaceAll('\n', ',') + ']') as T[];
}
