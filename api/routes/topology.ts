import type { FastifyInstance } from 'fastify';
import { parseTopologyJson, TopologyError, type TopologyFile } from '../../core/topology.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { ApiError } from '../errors.js';
import { forbidden, requireAssets, tenantOf, tenantsOf } from '../tenancy.js';

/**
 * POST /v1/topology: load a topology version (the JSON form of `gridstream topology load`). A key loads only
 * its own tenant's DTs: transformers that name no tenant get the key's, and a load that names another tenant,
 * or touches a DT (or hangs meters on one) that another tenant owns, is refused with 403.
 */
export function topologyRoutes(
  app: FastifyInstance,
  warehouse: Warehouse,
  loadTopology: (file: TopologyFile, source: string) => Promise<number>,
) {
  app.post(
    '/v1/topology',
    {
      bodyLimit: 256 * 1024 * 1024,
      schema: {
        summary:
          'Load a topology version: {"transformers": [...], "meters": [...], "assets": [...]} with the Avro schemas\' field names',
        body: {
          type: 'object',
          properties: {
            transformers: { type: 'array', items: { type: 'object' } },
            meters: { type: 'array', items: { type: 'object' } },
            assets: { type: 'array', items: { type: 'object' } },
          },
        },
        response: {
          201: {
            description: 'Loaded: the new topology version and what it holds',
            type: 'object',
            required: ['version', 'transformers', 'meters', 'assets'],
            properties: {
              version: { type: 'integer' },
              transformers: { type: 'integer' },
              meters: { type: 'integer' },
              assets: { type: 'integer' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const body = request.body as { transformers?: Array<Record<string, unknown>> };
      for (const t of body.transformers ?? []) t.tenant ??= tenant;
      const problems: string[] = [];
      const file = parseTopologyJson(JSON.stringify(body), 'body', problems);
      if (problems.length) {
        throw new ApiError(
          400,
          'invalid_topology',
          `${problems.length} problem(s) in the topology`,
          problems.slice(0, 100).map((p) => ({ field: p.split(': ')[1] ?? 'body', problem: p })),
        );
      }
      // Loading nothing is a mistake of the caller's, not a new topology version.
      if (file.transformers.length === 0 && file.meters.length === 0 && !file.assets?.length)
        throw new ApiError(400, 'invalid_topology', 'the topology holds no transformers, meters or assets', [
          { field: 'body', problem: 'holds no transformers, meters or assets' },
        ]);
      const named = file.transformers.find((t) => t.tenant !== tenant);
      if (named)
        throw forbidden(
          tenant,
          `transformer ${JSON.stringify(named.dt_id)} (tenant ${JSON.stringify(named.tenant)})`,
        );
      const owners = await tenantsOf(warehouse, [
        ...file.transformers.map((t) => t.dt_id),
        ...file.meters.map((m) => m.dt_id),
        ...(file.assets ?? []).map((a) => a.dt_id),
      ]);
      const taken = [...owners].find(([, owner]) => owner !== tenant);
      if (taken) throw forbidden(tenant, `transformer ${JSON.stringify(taken[0])}`);
      // An asset already placed behind another tenant's DT stays theirs.
      await requireAssets(
        warehouse,
        tenant,
        (file.assets ?? []).map((a) => a.asset_id),
      );
      try {
        const version = await loadTopology(file, `api:${tenant}`);
        return reply.status(201).send({
          version,
          transformers: file.transformers.length,
          meters: file.meters.length,
          assets: file.assets?.length ?? 0,
        });
      } catch (error) {
        if (error instanceof TopologyError)
          throw new ApiError(
            400,
            'invalid_topology',
            error.message,
            error.problems.map((p) => ({ field: 'meters', problem: p })),
          );
        throw error;
      }
    },
  );
}
