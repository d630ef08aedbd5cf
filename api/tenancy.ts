import type { TopologyFile } from '../core/topology.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import { tenantsOf } from '../io/warehouse/tenants.js';
import { ApiError } from './errors.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';

export { tenantsOf };

/**
 * Tenancy: every DT belongs to one tenant (topology_transformers.tenant, `default` when the topology names
 * none) and an API key sees only its own tenant's DTs, their meters and everything computed for them.
 * Another tenant's DT is answered exactly as an unknown one, 404, so a key cannot learn which DT ids exist
 * elsewhere. Writes are different: a topology load that would change another tenant's DT, meter or asset is
 * a 403 naming it (the load cannot go through either way, and the loader needs to know which row to drop).
 */

export function forbidden(tenant: string, what: string): ApiError {
  return new ApiError(
    403,
    'forbidden',
    `${what} belongs to another tenant; this X-API-Key (tenant ${JSON.stringify(tenant)}) cannot change it`,
  );
}

/** The 404 of a DT that is unknown or another tenant's: the same words either way. */
export function notFound(dtId: string): ApiError {
  return new ApiError(404, 'not_found', `no transformer ${JSON.stringify(dtId)}`);
}

/**
 * Checks that `tenant` may read DT `dtId`: 404 when neither the topology nor the envelopes know it, or when it
 * belongs to another tenant. A DT known only from envelopes (its topology rows gone) is `default`'s.
 */
export async function requireDt(warehouse: Warehouse, tenant: string, dtId: string): Promise<void> {
  const owner = (await tenantsOf(warehouse, [dtId])).get(dtId);
  if (owner === undefined) {
    const [known] = await runQuery(warehouse, queries.dt_exists, { dt_id: dtId });
    if (!known?.known) throw notFound(dtId);
  }
  if ((owner ?? 'default') !== tenant) throw notFound(dtId);
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
  const dtOf = await placement(warehouse, 'asset', assetIds);
  const owners = await tenantsOf(warehouse, [...dtOf.values()]);
  for (const asset of assetIds) {
    const dt = dtOf.get(asset);
    const owner = (dt === undefined ? undefined : owners.get(dt)) ?? 'default';
    if (owner !== tenant) throw forbidden(tenant, `asset ${JSON.stringify(asset)}`);
  }
}

/** Where the topology places some meters or assets now: id → DT (absent when not placed). */
async function placement(
  warehouse: Warehouse,
  kind: 'asset' | 'meter',
  ids: readonly string[],
): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const unique = [...new Set(ids)];
  return kind === 'asset'
    ? new Map(
        (await runQuery(warehouse, queries.asset_dts, { asset_ids: unique })).map((r) => [
          r.asset_id,
          r.dt_id,
        ]),
      )
    : new Map(
        (await runQuery(warehouse, queries.meter_dts, { meter_ids: unique })).map((r) => [
          r.meter_id,
          r.dt_id,
        ]),
      );
}

/** What the topology holds now for the rows of a load: owners of DTs, and the DTs of meters and assets. */
export interface CurrentTopology {
  /** DT → its tenant, for DTs the topology knows. */
  dtOwners: ReadonlyMap<string, string>;
  /** Meter → the DT it is connected to now. */
  meterDts: ReadonlyMap<string, string>;
  /** Asset → the DT it sits behind now. */
  assetDts: ReadonlyMap<string, string>;
}

/**
 * The first row of a load `tenant` may not make, described for a 403, or null when it may make them all. A
 * load may create or change only DTs, meters and assets that no tenant owns or that are its own: a DT is
 * owned by its tenant, a meter or asset by the tenant of the DT it is on now. Moving a meter or asset onto
 * another tenant's DT is refused too, and so is a transformer naming another tenant.
 */
export function trespass(file: TopologyFile, tenant: string, now: CurrentTopology): string | null {
  const foreign = (dt: string | undefined) => {
    const owner = dt === undefined ? undefined : now.dtOwners.get(dt);
    return owner !== undefined && owner !== tenant;
  };
  for (const t of file.transformers) {
    if (t.tenant !== tenant)
      return `transformer ${JSON.stringify(t.dt_id)} (tenant ${JSON.stringify(t.tenant)})`;
    if (foreign(t.dt_id)) return `transformer ${JSON.stringify(t.dt_id)}`;
  }
  for (const m of file.meters) {
    if (foreign(now.meterDts.get(m.meter_id))) return `meter ${JSON.stringify(m.meter_id)}`;
    if (foreign(m.dt_id))
      return `transformer ${JSON.stringify(m.dt_id)} (of meter ${JSON.stringify(m.meter_id)})`;
  }
  for (const a of file.assets ?? []) {
    if (foreign(now.assetDts.get(a.asset_id))) return `asset ${JSON.stringify(a.asset_id)}`;
    if (foreign(a.dt_id))
      return `transformer ${JSON.stringify(a.dt_id)} (of asset ${JSON.stringify(a.asset_id)})`;
  }
  return null;
}

/** What `trespass` needs to know about the rows of `file`, read from the warehouse. */
export async function currentTopology(warehouse: Warehouse, file: TopologyFile): Promise<CurrentTopology> {
  const [meterDts, assetDts] = await Promise.all([
    placement(
      warehouse,
      'meter',
      file.meters.map((m) => m.meter_id),
    ),
    placement(
      warehouse,
      'asset',
      (file.assets ?? []).map((a) => a.asset_id),
    ),
  ]);
  const dtOwners = await tenantsOf(warehouse, [
    ...file.transformers.map((t) => t.dt_id),
    ...file.meters.map((m) => m.dt_id),
    ...(file.assets ?? []).map((a) => a.dt_id),
    ...meterDts.values(),
    ...assetDts.values(),
  ]);
  return { dtOwners, meterDts, assetDts };
}

/** The tenant of the request (set by the X-API-Key hook in server.ts on every /v1 route). */
export function tenantOf(request: { tenant?: string }): string {
  if (request.tenant === undefined) throw new Error('no tenant on a /v1 request: the key hook did not run');
  return request.tenant;
}
