/**
 * The typed query layer over `sql/queries/`: each query's parameters and row shape are generated from the SQL
 * itself (queries.gen.ts, `npm run gen:queries`, from ClickHouse's own DESCRIBE of the query), and runQuery()
 * decodes every row to that shape. No caller maps raw JSONEachRow values: 64-bit integers arrive as numbers,
 * DateTime values as epoch milliseconds, Bool as a boolean whatever the server's dialect.
 */

import { sqlQuery } from './sql-files.js';
import { WarehouseError, type QueryParams, type Warehouse } from './warehouse.js';

/**
 * How one column is decoded. `number` is a JSON number (Float, Int up to 32 bits; ClickHouse writes NaN and
 * infinities as null); `int64` a 64-bit integer, which JSONEachRow quotes, read as a safe integer; `datetime` a
 * 'YYYY-MM-DD hh:mm:ss[.sss]' UTC text, read as epoch ms; `bool` true/false (or the 'true'/'false' names of
 * the Enum8 that stands in for Bool on old servers). A `?` suffix admits null, a `[]` suffix is an array.
 */
export type ColumnKind = `${'string' | 'number' | 'int64' | 'datetime' | 'bool'}${'' | '?'}${'' | '[]'}`;

/** One query of sql/queries/: its file name, and its columns in order with how each decodes. */
export interface Query<P extends QueryParams, R> {
  readonly name: string;
  readonly columns: Readonly<Record<string, ColumnKind>>;
  /** Only for the type checker: the parameters and the decoded row. */
  readonly __types?: { params: P; row: R };
}

export type ParamsOf<Q> = Q extends Query<infer P, unknown> ? P : never;
export type RowOf<Q> = Q extends Query<QueryParams, infer R> ? R : never;

/** Runs `query` with `params` and decodes its rows; a value of the wrong shape is a WarehouseError naming it. */
export async function runQuery<P extends QueryParams, R>(
  warehouse: Pick<Warehouse, 'query'>,
  query: Query<P, R>,
  params: P,
): Promise<R[]> {
  const sql = sqlOf(query);
  const rows = await warehouse.query<Record<string, unknown>>(sql, params);
  const decode = decoderOf(query) as (row: Record<string, unknown>) => R;
  try {
    return rows.map(decode);
  } catch (error) {
    throw new WarehouseError('query', sql, error);
  }
}

/** The page parameters that select every row of a paged query (`LIMIT {limit} OFFSET {offset}`). */
export const EVERY_ROW = { limit: Number.MAX_SAFE_INTEGER, offset: 0 } as const;

/**
 * Runs a paged query (its SQL ends in `LIMIT {limit:UInt64} OFFSET {offset:UInt64}`, then optionally one
 * `SETTINGS` line) for one page of rows and, alongside, for the number of rows of all its pages: the same SQL
 * with every row selected, counted (`SELECT count() FROM (...)`, which reads only the columns the filter and
 * the order need). One mechanism on every engine: window functions (`count() OVER ()`) are not on old servers,
 * and would give no total for a page past the end.
 */
export async function runPage<P extends QueryParams & { limit: number; offset: number }, R>(
  warehouse: Pick<Warehouse, 'query'>,
  query: Query<P, R>,
  params: P,
): Promise<{ rows: R[]; total: number }> {
  const [rows, counted] = await Promise.all([
    runQuery(warehouse, query, params),
    warehouse.query<{ total: number | string }>(countSql(query), { ...params, ...EVERY_ROW }),
  ]);
  const total = Number(counted[0]?.total ?? 0);
  if (!Number.isSafeInteger(total)) throw new WarehouseError('query', countSql(query), 'no count');
  return { rows, total };
}

const counts = new WeakMap<object, string>();

/** `SELECT count() AS total FROM (<the query>)`, the query's trailing SETTINGS line kept outermost. */
function countSql(query: Query<QueryParams, unknown>): string {
  let sql = counts.get(query);
  if (sql === undefined) {
    const text = sqlOf(query);
    if (!/\bLIMIT \{limit:UInt64\} OFFSET \{offset:UInt64\}\s*(\nSETTINGS [^\n]*)?$/.test(text))
      throw new Error(
        `query ${query.name} is not paged: it must end in LIMIT {limit:UInt64} OFFSET {offset:UInt64}`,
      );
    const settings = /\n(SETTINGS [^\n]*)$/.exec(text);
    const body = settings ? text.slice(0, settings.index) : text;
    sql = `SELECT count() AS total FROM (\n${body}\n)${settings ? `\n${settings[1]}` : ''}`;
    counts.set(query, sql);
  }
  return sql;
}

/** The SQL text of `query` (for an export, which streams the result to a file instead). */
export function sqlOf(query: Query<QueryParams, unknown>): string {
  return sqlQuery(query.name);
}

type Decoder = (value: unknown, column: string) => unknown;
const decoders = new WeakMap<object, (row: Record<string, unknown>) => never>();

/** The row decoder of `query`, built once: one value decoder a column. */
export function decoderOf<Q extends Query<QueryParams, unknown>>(
  query: Q,
): (row: Record<string, unknown>) => RowOf<Q> {
  let decode = decoders.get(query);
  if (decode === undefined) {
    const columns = Object.entries(query.columns).map(([name, kind]) => [name, valueDecoder(kind)] as const);
    decode = ((row: Record<string, unknown>) => {
      const out: Record<string, unknown> = {};
      for (const [name, decodeValue] of columns) {
        if (!(name in row)) throw new Error(`query ${query.name}: the row has no column ${name}`);
        out[name] = decodeValue(row[name], name);
      }
      return out;
    }) as (row: Record<string, unknown>) => never;
    decoders.set(query, decode);
  }
  return decode;
}

function valueDecoder(kind: ColumnKind): Decoder {
  if (kind.endsWith('[]')) {
    const element = valueDecoder(kind.slice(0, -2) as ColumnKind);
    return (value, column) => {
      if (!Array.isArray(value)) throw wrongValue(column, 'an array', value);
      return value.map((v) => element(v, column));
    };
  }
  if (kind.endsWith('?')) {
    const inner = valueDecoder(kind.slice(0, -1) as ColumnKind);
    return (value, column) => (value === null ? null : inner(value, column));
  }
  return SCALARS[kind as keyof typeof SCALARS];
}

const SCALARS = {
  string: (value, column) => {
    if (typeof value !== 'string') throw wrongValue(column, 'a string', value);
    return value;
  },
  number: (value, column) => {
    if (value === null) return NaN;
    if (typeof value !== 'number') throw wrongValue(column, 'a number', value);
    return value;
  },
  int64: (value, column) => {
    const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw wrongValue(column, 'a safe integer', value);
    return n;
  },
  datetime: (value, column) => {
    const ms =
      typeof value === 'string' && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(value)
        ? Date.parse(value.replace(' ', 'T') + 'Z')
        : NaN;
    if (Number.isNaN(ms)) throw wrongValue(column, "a 'YYYY-MM-DD hh:mm:ss' time", value);
    return ms;
  },
  bool: (value, column) => {
    if (value === true || value === 'true' || value === 1) return true;
    if (value === false || value === 'false' || value === 0) return false;
    throw wrongValue(column, 'a boolean', value);
  },
} satisfies Record<string, Decoder>;

function wrongValue(column: string, expected: string, value: unknown): Error {
  return new Error(`column ${column}: expected ${expected}, got ${JSON.stringify(value)?.slice(0, 80)}`);
}
