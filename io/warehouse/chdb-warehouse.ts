import { rm, stat } from 'node:fs/promises';

import { drainPending, Session } from 'chdb';

import { quote } from './bind.js';

import { CURRENT, SqlAdapter } from './dialect.js';
import {
  encodeRows,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportOptions,
  jsonEachRowLine,
  type EncodedRows,
  parseJsonEachRow,
  SESSION_SETTINGS,
  WarehouseError,
  type QueryParams,
  type Warehouse,
} from './warehouse.js';

/**
 * Bounds of the engine's own caches, which live in gridstream's process. ClickHouse sizes them for a server of
 * its own (5 GiB each of marks and primary indexes): left so, they grow with the data read until the API
 * process holds the fleet's marks (docs/limits.md, the embedded engine's memory).
 */
const EMBEDDED_CACHES = {
  mark_cache_size: 64 << 20,
  primary_index_cache_size: 64 << 20,
  index_mark_cache_size: 16 << 20,
  uncompressed_cache_size: 0,
} as const;

/**
 * The embedded warehouse: a persistent chdb Session (current ClickHouse, in-process). Only the async calls
 * are used, so queries and inserts run on libuv's pool and never block the event loop.
 *
 * chdb allows one engine per data directory per process: open one ChdbWarehouse per directory and share it.
 */
export class ChdbWarehouse implements Warehouse {
  readonly kind = 'embedded' as const;
  /** The embedded engine is current ClickHouse: the SQL runs as written (gates keep their @if lines). */
  readonly dialect = CURRENT;
  readonly dedupTokens = true;
  /** chdb's raw inserts take text formats only. */
  readonly rowBinary = false;
  private readonly session: Session;
  private readonly sql = new SqlAdapter(CURRENT);

  constructor(readonly dataDir: string) {
    // Settings that change how results look must be given when the engine starts (SESSION_SETTINGS).
    const connectionArgs = Object.entries({ ...SESSION_SETTINGS, ...EMBEDDED_CACHES }).map(
      ([name, value]) => `--${name}=${value}`,
    );
    try {
      this.session = new Session(dataDir, { connectionArgs });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot open the embedded ClickHouse engine at ${dataDir}: ${reason}`, {
        cause: error,
      });
    }
  }

  async command(text: string, params?: QueryParams): Promise<void> {
    const sql = this.sql.adapt(text);
    try {
      await this.run(sql, params, 'TabSeparated');
    } catch (error) {
      throw new WarehouseError('command', sql, error);
    }
  }

  async query<T = Record<string, unknown>>(text: string, params?: QueryParams): Promise<T[]> {
    const sql = this.sql.adapt(text);
    let result: string;
    try {
      result = (await this.run(sql, params, 'JSONEachRow')).text();
    } catch (error) {
      throw new WarehouseError('query', sql, error);
    }
    return parseJsonEachRow<T>(result);
  }

  /**
   * The engine writes the file itself (SELECT ... INTO OUTFILE), so no byte of the result crosses into
   * JavaScript. (chdb's queryStream is no alternative: a session has one stream at a time, which any other
   * query on the session ends, and its Parquet chunks do not concatenate into a valid file; both checked.)
   */
  async exportToFile(
    text: string,
    params: QueryParams | undefined,
    format: ExportFormat,
    path: string,
    options: ExportOptions = {},
  ): Promise<{ bytes: number }> {
    if (!Object.hasOwn(EXPORT_FORMATS, format)) throw new Error(`unknown export format ${format}`);
    const settings =
      options.csvNull === undefined
        ? ''
        : `\nSETTINGS format_csv_null_representation = ${quote(options.csvNull)}`;
    const sql = `${this.sql.adapt(text)}\nINTO OUTFILE ${quote(path)} FORMAT ${format}${settings}`;
    try {
      await this.run(sql, params, 'TabSeparated');
      return { bytes: (await stat(path)).size };
    } catch (error) {
      await rm(path, { force: true });
      throw new WarehouseError('export', sql, error);
    }
  }

  encodeRow(row: Readonly<Record<string, unknown>>): string {
    return jsonEachRowLine(row);
  }

  insert(
    table: string,
    rows: ReadonlyArray<Record<string, unknown>>,
    options: { dedupToken?: string } = {},
  ): Promise<void> {
    return this.insertEncoded(table, encodeRows(this, rows), options);
  }

  async insertEncoded(
    table: string,
    rows: EncodedRows,
    options: { dedupToken?: string } = {},
  ): Promise<void> {
    if (rows.rows === 0) return;
    const { chunks, columns } = rows;
    if (rows.format !== 'JSONEachRow')
      throw new Error(`the embedded engine takes JSONEachRow inserts, not ${rows.format} (into ${table})`);
    const settings =
      options.dedupToken === undefined ? undefined : { insert_deduplication_token: options.dedupToken };
    try {
      // Raw passthrough: the Buffer goes to the engine's parser zero-copy; no per-row work on the JS side.
      await this.session.insert({
        table,
        values: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
        format: 'JSONEachRow',
        columns: [...columns],
        settings,
      });
    } catch (error) {
      throw new WarehouseError(
        'insert',
        `INSERT INTO ${table} (${columns.join(', ')}) FORMAT JSONEachRow`,
        error,
      );
    }
  }

  async close(): Promise<void> {
    this.session.close();
    // close() defers the native teardown while a call is still running; wait for it, so that the same data
    // directory can be opened again in this process as soon as this promise resolves.
    await drainPending();
  }

  private run(sql: string, params: QueryParams | undefined, format: string) {
    return params === undefined || Object.keys(params).length === 0
      ? this.session.queryAsync(sql, { format })
      : this.session.queryBindAsync(sql, params, { format });
  }
}
