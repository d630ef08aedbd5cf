import { join } from 'node:path';

import { ServerWarehouse } from './server-warehouse.js';
import type { Warehouse } from './warehouse.js';

export interface OpenWarehouseOptions {
  /** ClickHouse server URL (GRIDSTREAM_CLICKHOUSE_URL); unset = the embedded engine. */
  clickhouseUrl?: string;
  /** gridstream's data directory (GRIDSTREAM_DATA_DIR); the embedded engine keeps its data in `clickhouse/` below it. */
  dataDir: string;
}

/**
 * Opens the warehouse for the runtime mode: a ClickHouse server when a URL is given, else embedded chdb.
 * chdb is imported only when chosen: loading it maps libchdb.so (~137 MB resident), which a process that
 * writes to a server has no use for.
 */
export async function openWarehouse(options: OpenWarehouseOptions): Promise<Warehouse> {
  if (options.clickhouseUrl !== undefined && options.clickhouseUrl !== '') {
    return ServerWarehouse.connect(options.clickhouseUrl);
  }
  const { ChdbWarehouse } = await import('./chdb-warehouse.js');
  return new ChdbWarehouse(join(options.dataDir, 'clickhouse'));
}
