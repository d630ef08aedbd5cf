import { sqlQuery } from '../io/warehouse/sql-files.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import { tenantsOf } from '../io/warehouse/tenants.js';
import { ApiError } from './errors.js';

export { tenantsOf };

/**
 * Tenancy: every DT belongs to one tenant (topology_transformers.tenant, `default` when the topology names
 * none) and an API key sees only its own tenant's DTs, their meters and everything computed for them.
 * A DT of another tenant is a 403 (it exists, this key may not read it), an unknown one a 404.
 */

export function forbidden(tenant: string, what: string): ApiError {
  return new ApiError(
    403,
    'forbidden',
    `${what} belongs to another tenant; this X-API-Key (tenant ${JSON.stringify(tenant)}) cannot access it`,
  );
}

/**
 * Checks that `tenant` may read DT `dtId`: 404 when neither the topology nor the envelopes know it, 403 when
 * it belongs to another tenant. A DT known only from envelopes (its topology rows gone) belongs to `default`.
 */
export async function requireDt(warehouse: Warehouse, tenant: string, dtId: string): Promise<void> {
  const owner = (await tenantsOf(warehouse, [dtId])).get(dtId);
  if (owner === undefined) {
    const [known] = await warehouse.query<{ known: string }>(sqlQuery('dt_exists'), { dt_id: dtId });
    if (!known || Number(known.known) === 0)
      throw new ApiError(404, 'not_found', `no transformer ${JSON.stringify(dtId)}`);
  }
  if ((owner ?? 'default') !== tenant) throw forbidden(tenant, `transformer ${JSON.stringify(dtId)}`);
}

/**
 * Checks that `tenant` may see each of some dispatchable assets: an asset belongs to the tenant of the DT it
 * sits behind (topology_assets); an asset the topology does not place, or whose DT it does not know, belongs to
 * `default`. 403 naming the first asset of another tenant.
 */
export async function requireAssets(
  warehouse: Warehouse,
  tenant: string,
  assetIds: readonly string[],
): Promise<void> {
  if (assetIds.length === 0) return;
  const placed = await warehouse.query<{ asset_id: string; dt_id: string }>(sqlQuery('asset_dts'), {
    asset_ids: [...new Set(assetIds)],
  });
  const dtOf = new Map(placed.map((a) => [a.asset_id, a.dt_id]));
  const owners = await tenantsOf(warehouse, [...dtOf.values()]);
  for (const asset of assetIds) {
    const dt = dtOf.get(asset);
    const owner = (dt === undefined ? undefined : owners.get(dt)) ?? 'default';
    if (owner !== tenant) throw forbidden(tenant, `asset ${JSON.stringify(asset)}`);
  }
}

/** The tenant of the request (set by the X-API-Key hook in server.ts on every /v1 route). */
export function tenantOf(request: { tenant?: string }): string {
  if (request.tenant === undefined) throw new Error('no tenant on a /v1 request: the key hook did not run');
  return request.tenant;
}
