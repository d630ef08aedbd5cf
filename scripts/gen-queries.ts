/**
 * Writes io/warehouse/queries.gen.ts: DESCRIBEs every query of sql/queries/ on a fresh embedded warehouse
 * with gridstream's migrations. Run `npm run gen:queries` after changing a query or a table; an integration
 * test fails while the file is stale.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ChdbWarehouse } from '../io/warehouse/chdb-warehouse.js';
import { migrate } from '../io/warehouse/migrate.js';
import { describeQueries, QUERIES_GEN, renderQueries } from './query-types.js';

const dir = mkdtempSync(join(tmpdir(), 'gridstream-queries-'));
const warehouse = new ChdbWarehouse(join(dir, 'clickhouse'));
try {
  await migrate(warehouse);
  writeFileSync(QUERIES_GEN, await renderQueries(await describeQueries(warehouse)));
  console.log('wrote io/warehouse/queries.gen.ts');
} finally {
  await warehouse.close();
  rmSync(dir, { recursive: true, force: true });
}
