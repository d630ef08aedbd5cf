import { rowBinaryEncoder, type BinaryColumn, type RowBinaryWrite } from './row-binary.js';
import type { Warehouse } from './warehouse.js';
import { runQuery } from './query.js';
import { queries } from './queries.gen.js';

/**
 * A table's RowBinary writer for a warehouse that takes RowBinary, built from the table's column types;
 * null (JSONEachRow instead) for one that does not, or whose table has a column this writer cannot fill
 * (said once on stderr). While the types cannot be read (the warehouse is away), it answers null and the
 * next call asks again. `direct` may give a hand-written writer of the same bytes for the types (a hot
 * table's).
 */
export function rowBinaryWriterFor<R>(
  warehouse: Warehouse,
  table: string,
  columns: ReadonlyArray<BinaryColumn<R>>,
  direct?: (types: ReadonlyMap<string, string>) => RowBinaryWrite<R> | undefined,
): () => Promise<RowBinaryWrite<R> | null> {
  if (!warehouse.rowBinary) return () => Promise.resolve(null);
  let known: RowBinaryWrite<R> | null | undefined;
  return async () => {
    if (known !== undefined) return known;
    let types: Array<{ name: string; type: string }>;
    try {
      types = await runQuery(warehouse, queries.table_columns, { table });
    } catch {
      return null;
    }
    try {
      const byName = new Map(types.map((c) => [c.name, c.type]));
      known = direct?.(byName) ?? rowBinaryEncoder(columns, byName);
    } catch (error) {
      console.error(`${table}: inserted as JSONEachRow, not RowBinary: ${(error as Error).message}`);
      known = null;
    }
    return known;
  };
}
