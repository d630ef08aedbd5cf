import { join } from 'node:path';

import { ChdbWarehouse } from './chdb-warehouse.js';
import { ServerWarehouse } from './server-warehouse.js';
import type { Warehouse } from './warehouse.js';

export interface OpenWarehouseOptions {
  /** ClickHouse server URL (GRIDSTREAM_CLICKHOUSE_URL); unset = the embedded engine. */
  clickhouseUrl?: string;
  /** gridstream's data directory (GRIDSTREAM_DATA_DIR); the embedded engine keeps its data in `clickhouse/` below it. */
  dataDir: string;
}

/** Opens the warehouse for the runtime mode: a ClickHouse server when a URL is given, else embedded chdb. */
export async function openWarehouse(options: OpenWarehouseOptions): Promise<Warehouse> {
  if (options.clickhouseUrl !== undefined && options.clickhouseUrl !== '') {
    return ServerWarehouse.connect(options.clickhouseUrl);
  }
  return new ChdbWarehouse(join(options.dataDir, 'clickhouse'));
}
