import type { FastifyInstance } from 'fastify';
import { parseTopologyDocument, TopologyError, type TopologyFile } from '../../core/topology.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { ApiError } from '../errors.js';
import { object } from '../openapi.js';
import { currentTopology, forbidden, tenantOf, trespass } from '../tenancy.js';

export interface TopologyRoutesOptions {
  warehouse: Warehouse;
  /** Loads a topology version through the pipeline; resolves to its version number. */
  loadTopology: (file: TopologyFile, source: string) => Promise<number>;
  /** Largest body accepted, bytes. */
  maxBytes: number;
}

/**
 * POST /v1/topology: load a topology version (the JSON form of `gridstream topology load`). A key loads only
 * its own tenant's rows: transformers that name no tenant get the key's, and a load that names another
 * tenant, or creates or changes a DT, meter or asset that another tenant owns (api/tenancy.ts trespass), is
 * refused with 403 naming the first such row.
 */
export async function topologyRoutes(
  app: FastifyInstance,
  { warehouse, loadTopology, maxBytes }: TopologyRoutesOptions,
) {
  app.post(
    '/v1/topology',
    {
      bodyLimit: maxBytes,
      schema: {
        summary:
          'Load a topology version: {"transformers": [...], "meters": [...], "assets": [...]} with the Avro schemas\' field names',
        body: object(
          {
            transformers: { type: 'array', items: { type: 'object' } },
            meters: { type: 'array', items: { type: 'object' } },
            assets: { type: 'array', items: { type: 'object' } },
          },
          { optional: true },
        ),
        response: {
          201: {
            description: 'Loaded: the new topology version and what it holds',
            ...object({
              version: { type: 'integer' },
              transformers: { type: 'integer' },
              meters: { type: 'integer' },
              assets: { type: 'integer' },
            }),
          },
        },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const body = request.body as { transformers?: Array<Record<string, unknown>> };
      for (const t of body.transformers ?? []) t.tenant ??= tenant;
      const problems: string[] = [];
      const file = parseTopologyDocument(body, 'body', problems);
      if (problems.length) {
        throw new ApiError(
          400,
          'invalid_topology',
          `${problems.length} problem(s) in the topology`,
          problems.slice(0, 100).map((p) => ({ field: p.split(': ')[1] ?? 'body', problem: p })),
        );
      }
      const refused = trespass(file, tenant, await currentTopology(warehouse, file));
      if (refused) throw forbidden(tenant, refused);
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
