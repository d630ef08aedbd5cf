import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { ClickHouseLogLevel, createClient, drainStream, type ClickHouseClient } from '@clickhouse/client';

import { bindParams } from './bind.js';
import { CsvNullRewriter } from './csv-nulls.js';
import {
  CURRENT,
  olderVersion,
  parseVersion,
  SqlAdapter,
  supports,
  type ClickHouseVersion,
} from './dialect.js';
import {
  canExport,
  encodeRows,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportOptions,
  jsonEachRowLine,
  type EncodedRows,
  parseJsonEachRow,
  parseJsonWithLegacyBools,
  quoteIdentifier,
  quoteTableName,
  sessionSettings,
  WarehouseError,
  type QueryParams,
  type Warehouse,
} from './warehouse.js';

export interface ServerWarehouseOptions {
  /** The server's version (default: current ClickHouse); decides which settings and features are used. */
  version?: ClickHouseVersion;
  /** The version the SQL is adapted to (default: `version`); see Warehouse.dialect. */
  dialect?: ClickHouseVersion;
}

/**
 * What SQL with parameters inlined may be on a server without query parameters: its bytes (default 256 KiB)
 * and syntax tree (default 50,000 elements, a few an array element).
 */
const INLINED_LIMITS = {
  max_query_size: String(64 * 1024 * 1024),
  max_ast_elements: String(10_000_000),
  max_expanded_ast_elements: String(10_000_000),
};
type InlinedLimits = Partial<typeof INLINED_LIMITS>;

/**
 * A warehouse on a ClickHouse server, over HTTP with @clickhouse/client. The SQL is written for current
 * ClickHouse and adapted to the server's version (dialect.ts), down to Debian's 18.16: there parameters are
 * bound client-side (bind.ts), Bool columns are Enum8('false' = 0, 'true' = 1) read back as booleans, and
 * settings the server lacks (insert_deduplication_token, session_timezone, ...) are not sent.
 */
export class ServerWarehouse implements Warehouse {
  readonly kind = 'server' as const;
  /** The server's version, as detected by connect(). */
  readonly version: ClickHouseVersion;
  readonly dialect: ClickHouseVersion;
  readonly dedupTokens: boolean;
  readonly rowBinary = true;
  private readonly settings: ReturnType<typeof sessionSettings> & InlinedLimits;
  private readonly sql: SqlAdapter;
  /** No Bool type in the tables' dialect: Bool columns are LEGACY_BOOL_TYPE, read and written by name. */
  private readonly legacyBools: boolean;

  /** `client` may be any @clickhouse/client instance. */
  constructor(
    private readonly client: ClickHouseClient,
    options: ServerWarehouseOptions = {},
  ) {
    this.version = options.version ?? CURRENT;
    this.dialect = options.dialect ?? this.version;
    this.dedupTokens = supports(this.version, 'insert_deduplication_token');
    // A server without query parameters gets them inlined into the SQL, which its default max_query_size and
    // max_ast_elements would refuse for a large array (a topology's meters).
    this.settings = {
      ...sessionSettings(this.version),
      ...(supports(this.version, 'query_params') ? {} : INLINED_LIMITS),
    };
    this.sql = new SqlAdapter(this.dialect);
    this.legacyBools = !supports(this.dialect, 'bool');
  }

  /**
   * Connects to the server at `url` (http[s]://[user:password@]host:port[/database]); the database comes
   * from the URL path, else `default`. The database is created when missing, so a first run needs no manual
   * step. Detects the server's version, and the version the database's tables were made for.
   */
  static async connect(url: string): Promise<ServerWarehouse> {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, '')) || 'default';
    parsed.pathname = '/';
    const where = `ClickHouse server ${parsed.protocol}//${parsed.host}`; // no credentials in messages
    const open = async (config: { database?: string }) => {
      // Errors reach the caller as WarehouseErrors; the client's own error log would only repeat them.
      const client = createClient({
        url: parsed.toString(),
        log: { level: ClickHouseLogLevel.OFF },
        // Servers before 23.11 close an idle kept-alive connection after 3 s (infra/clickhouse/config.xml says
        // the same). A socket reused just as the server closes it fails with "socket hang up" (seen once in
        // npm run bench on 18.16, retried by the batch writer). Idle sockets are dropped well before that, and
        // checked for staleness when taken, since a busy event loop (a stress slot close) can delay the timer.
        keep_alive: { idle_socket_ttl: 1500, eagerly_destroy_stale_sockets: true },
        ...config,
      });
      const ping = await client.ping();
      if (!ping.success) {
        await client.close();
        throw new Error(`cannot reach ${where}: ${ping.error.message}`, { cause: ping.error });
      }
      return client;
    };

    const bootstrap = await open({});
    let version: ClickHouseVersion;
    try {
      const result = await bootstrap.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
      const [row] = await result.json<{ v: string }>();
      version = parseVersion(row?.v ?? '');
      if (database !== 'default') {
        // The client cannot use a database that does not exist yet, so create it from `default` first.
        await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}` });
      }
    } catch (error) {
      throw new Error(`cannot set up database ${database} on ${where}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      await bootstrap.close();
    }

    const client = await open({ database });
    const warehouse = new ServerWarehouse(client, { version });
    let recorded: ClickHouseVersion | undefined;
    try {
      recorded = await recordedDialect(warehouse);
    } catch (error) {
      await warehouse.close();
      throw error;
    }
    if (recorded === undefined || olderVersion(recorded, version) === version) return warehouse;
    return new ServerWarehouse(client, { version, dialect: recorded });
  }

  async command(sql: string, params?: QueryParams): Promise<void> {
    const query = this.sql.adapt(sql);
    try {
      await this.client.command({ ...this.bind(query, params), clickhouse_settings: this.settings });
    } catch (error) {
      throw new WarehouseError('command', query, error);
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]> {
    const query = this.sql.adapt(sql);
    // Without the Bool type, Bool columns are Enum8s: read the result with its column types to map them back.
    try {
      const result = await this.client.query({
        ...this.bind(query, params),
        format: this.legacyBools ? 'JSON' : 'JSONEachRow',
        clickhouse_settings: this.settings,
      });
      const text = await result.text();
      // Parsed the same way as the embedded result, so both modes return identical rows.
      return this.legacyBools ? parseJsonWithLegacyBools<T>(text) : parseJsonEachRow<T>(text);
    } catch (error) {
      throw new WarehouseError('query', query, error);
    }
  }

  /** The server's response body, in the format as the server renders it, is piped to the file as it arrives. */
  async exportToFile(
    sql: string,
    params: QueryParams | undefined,
    format: ExportFormat,
    path: string,
    options: ExportOptions = {},
  ): Promise<{ bytes: number }> {
    if (!Object.hasOwn(EXPORT_FORMATS, format)) throw new Error(`unknown export format ${format}`);
    if (!canExport(this.version, format))
      throw new Error(`ClickHouse ${this.version.text} cannot write the ${format} format`);
    const bound = this.bind(this.sql.adapt(sql), params);
    const query = `${bound.query}\nFORMAT ${format}`;
    const { csvNull } = options;
    // The server writes NULL as csvNull where it has the setting; on older ones the stream is rewritten.
    const nullSetting =
      csvNull !== undefined && supports(this.version, 'csv_null_representation')
        ? { format_csv_null_representation: csvNull }
        : {};
    const rewrite = csvNull !== undefined && !('format_csv_null_representation' in nullSetting);
    try {
      const result = await this.client.exec({
        query,
        ...(bound.query_params ? { query_params: bound.query_params } : {}),
        // Without it an error after the first rows ends the body with the error text under a 200, and the
        // file would look complete; with it the server buffers the result (spilling to its disk) and fails
        // the request instead. Checked on 18.16.
        clickhouse_settings: { ...this.settings, ...nullSetting, wait_end_of_query: 1 },
      });
      const file = createWriteStream(path, { flags: 'wx' });
      if (rewrite) await pipeline(result.stream, new CsvNullRewriter(csvNull), file);
      else await pipeline(result.stream, file);
      return { bytes: file.bytesWritten };
    } catch (error) {
      await rm(path, { force: true });
      throw new WarehouseError('export', query, error);
    }
  }

  encodeRow(row: Readonly<Record<string, unknown>>): string {
    return jsonEachRowLine(row, { booleansAsEnum: this.legacyBools });
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
    const statement =
      `INSERT INTO ${quoteTableName(table)} (${columns.map(quoteIdentifier).join(', ')}) ` +
      `FORMAT ${rows.format === 'RowBinary' ? 'RowBinary' : 'JSONEachRow'}`;
    const dedup =
      options.dedupToken !== undefined && this.dedupTokens
        ? { insert_deduplication_token: options.dedupToken }
        : {};
    try {
      // exec streams the pre-serialized chunks as the request body; client.insert would re-serialize rows.
      const result = await this.client.exec({
        query: statement,
        values: Readable.from(chunks, { objectMode: false }),
        clickhouse_settings: { ...this.settings, ...dedup },
      });
      await drainStream(result.stream);
    } catch (error) {
      throw new WarehouseError('insert', statement, error);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Server-side parameters where the server binds them, else the values bound into the text (bind.ts). */
  private bind(
    query: string,
    params: QueryParams | undefined,
  ): { query: string; query_params?: QueryParams } {
    if (params === undefined || Object.keys(params).length === 0) return { query };
    if (supports(this.version, 'query_params')) return { query, query_params: params };
    return { query: bindParams(query, params) };
  }
}

/**
 * The oldest server version recorded in gridstream_migrations.clickhouse_version (see sql/bootstrap.sql), or
 * undefined for a database without migrations or without the record.
 */
async function recordedDialect(warehouse: Warehouse): Promise<ClickHouseVersion | undefined> {
  const [column] = await warehouse.query<{ n: string }>(
    `SELECT count() AS n FROM system.columns
     WHERE database = currentDatabase() AND table = 'gridstream_migrations' AND name = 'clickhouse_version'`,
  );
  if (Number(column?.n ?? 0) === 0) return undefined;
  const rows = await warehouse.query<{ v: string }>(
    `SELECT DISTINCT clickhouse_version AS v FROM gridstream_migrations WHERE clickhouse_version != ''`,
  );
  let oldest: ClickHouseVersion | undefined;
  for (const { v } of rows) {
    const version = parseVersion(v);
    oldest = oldest === undefined ? version : olderVersion(oldest, version);
  }
  return oldest;
}
