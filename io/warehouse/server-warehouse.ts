import { Readable } from 'node:stream';

import { createClient, drainStream, type ClickHouseClient } from '@clickhouse/client';

import {
  encodeJsonEachRow,
  parseJsonEachRow,
  quoteIdentifier,
  quoteTableName,
  SESSION_SETTINGS,
  WarehouseError,
  type QueryParams,
  type Warehouse,
} from './warehouse.js';

/**
 * A warehouse on a ClickHouse server, over HTTP with @clickhouse/client. Written for current ClickHouse
 * (query parameters, DateTime64, TTL); the old Debian server is not a target.
 */
export class ServerWarehouse implements Warehouse {
  readonly kind = 'server' as const;

  /** `client` may be any @clickhouse/client instance; SESSION_SETTINGS are sent with every request. */
  constructor(private readonly client: ClickHouseClient) {}

  /**
   * Connects to the server at `url` (http[s]://[user:password@]host:port[/database]); the database comes
   * from the URL path, else `default`. The database is created when missing, so a first run needs no manual
   * step.
   */
  static async connect(url: string): Promise<ServerWarehouse> {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, '')) || 'default';
    parsed.pathname = '/';
    const where = `ClickHouse server ${parsed.protocol}//${parsed.host}`; // no credentials in messages
    const reachable = async (client: ClickHouseClient) => {
      const ping = await client.ping();
      if (!ping.success) {
        await client.close();
        throw new Error(`cannot reach ${where}: ${ping.error.message}`, { cause: ping.error });
      }
      return client;
    };
    if (database !== 'default') {
      // The client cannot use a database that does not exist yet, so create it from `default` first.
      const bootstrap = new ServerWarehouse(await reachable(createClient({ url: parsed.toString() })));
      try {
        await bootstrap.command(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}`);
      } catch (error) {
        throw new Error(`cannot create database ${database} on ${where}: ${(error as Error).message}`, {
          cause: error,
        });
      } finally {
        await bootstrap.close();
      }
    }
    return new ServerWarehouse(await reachable(createClient({ url: parsed.toString(), database })));
  }

  async command(sql: string, params?: QueryParams): Promise<void> {
    try {
      await this.client.command({ query: sql, query_params: params, clickhouse_settings: SESSION_SETTINGS });
    } catch (error) {
      throw new WarehouseError('command', sql, error);
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]> {
    try {
      const result = await this.client.query({
        query: sql,
        query_params: params,
        format: 'JSONEachRow',
        clickhouse_settings: SESSION_SETTINGS,
      });
      // Parsed the same way as the embedded result, so both modes return identical rows.
      return parseJsonEachRow<T>(await result.text());
    } catch (error) {
      throw new WarehouseError('query', sql, error);
    }
  }

  async insert(
    table: string,
    rows: ReadonlyArray<Record<string, unknown>>,
    options: { dedupToken?: string } = {},
  ): Promise<void> {
    if (rows.length === 0) return;
    const { payload, columns } = encodeJsonEachRow(rows);
    const statement =
      `INSERT INTO ${quoteTableName(table)} (${columns.map(quoteIdentifier).join(', ')}) ` +
      'FORMAT JSONEachRow';
    try {
      // exec sends the one pre-serialized Buffer as the request body; client.insert would re-serialize rows.
      const result = await this.client.exec({
        query: statement,
        values: Readable.from([payload], { objectMode: false }),
        clickhouse_settings:
          options.dedupToken === undefined
            ? SESSION_SETTINGS
            : { ...SESSION_SETTINGS, insert_deduplication_token: options.dedupToken },
      });
      await drainStream(result.stream);
    } catch (error) {
      throw new WarehouseError('insert', statement, error);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
