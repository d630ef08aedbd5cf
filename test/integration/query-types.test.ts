import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ChdbWarehouse } from '../../io/warehouse/chdb-warehouse.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { describeQueries, QUERIES_GEN, renderQueries } from '../../scripts/query-types.js';

const dir = mkdtempSync(join(tmpdir(), 'gridstream-query-types-'));
let warehouse: ChdbWarehouse;

beforeAll(async () => {
  warehouse = new ChdbWarehouse(join(dir, 'clickhouse'));
  await migrate(warehouse);
});

afterAll(async () => {
  await warehouse.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('generated query types', () => {
  it('io/warehouse/queries.gen.ts is what DESCRIBE of every sql/queries/ file gives today (run `npm run gen:queries`)', async () => {
    const described = await describeQueries(warehouse);
    expect(described.length).toBeGreaterThan(30);
    expect(readFileSync(QUERIES_GEN, 'utf8'), 'stale: run `npm run gen:queries`').toBe(
      await renderQueries(described),
    );
  });
});
