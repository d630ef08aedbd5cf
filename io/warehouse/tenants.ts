import type { Warehouse } from './warehouse.js';
import { runQuery } from './query.js';
import { queries } from './queries.gen.js';

/**
 * The tenant of each DT of `dtIds` that the topology knows (topology_transformers.tenant, `default` when the
 * topology names none). The API confines keys to their tenant's DTs with it (api/tenancy.ts), the webhook
 * sender sends a DT's events to its tenant's subscriptions.
 */
export async function tenantsOf(
  warehouse: Warehouse,
  dtIds: readonly string[],
): Promise<Map<string, string>> {
  if (dtIds.length === 0) return new Map();
  const rows = await runQuery(warehouse, queries.dt_tenants, {
    dt_ids: [...new Set(dtIds)],
  });
  return new Map(rows.map((r) => [r.dt_id, r.tenant]));
}
