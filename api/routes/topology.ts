import type { FastifyInstance } from 'fastify';
import { parseTopologyJson, TopologyError, type TopologyFile } from '../../core/topology.js';
import { ApiError } from '../errors.js';

/** POST /v1/topology: load a topology version (the JSON form of `gridstream topology load`). */
export function topologyRoutes(
  app: FastifyInstance,
  loadTopology: (file: TopologyFile, source: string) => Promise<number>,
) {
  app.post(
    '/v1/topology',
    {
      bodyLimit: 256 * 1024 * 1024,
      schema: {
        summary:
          'Load a topology version: {"transformers": [...], "meters": [...]} with the Avro schemas\' field names',
        body: {
          type: 'object',
          properties: {
            transformers: { type: 'array', items: { type: 'object' } },
            meters: { type: 'array', items: { type: 'object' } },
          },
        },
      },
    },
    async (request, reply) => {
      const problems: string[] = [];
      const file = parseTopologyJson(JSON.stringify(request.body), 'body', problems);
      if (problems.length) {
        throw new ApiError(
          400,
          'invalid_topology',
          `${problems.length} problem(s) in the topology`,
          problems.slice(0, 100).map((p) => ({ field: p.split(': ')[1] ?? 'body', problem: p })),
        );
      }
      try {
        const version = await loadTopology(file, `api:${request.tenant ?? 'unknown'}`);
        return reply
          .status(201)
          .send({ version, transformers: file.transformers.length, meters: file.meters.length });
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
