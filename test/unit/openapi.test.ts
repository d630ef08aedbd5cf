import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApi } from '../../api/server.js';
import { checkOpenapi } from '../support/openapi.js';
import { describingDependencies } from '../../scripts/console-types.js';

// Every route the app registers, in every plugin context, as an onRoute hook on each fastify instance sees it.
const { routes } = vi.hoisted(() => ({ routes: [] as RouteOptions[] }));
vi.mock('fastify', async (importOriginal) => {
  const fastify = await importOriginal<typeof import('fastify')>();
  const observed = ((options: object) =>
    fastify.default(options).addHook('onRoute', (route) => {
      routes.push(route);
    })) as typeof fastify.default;
  return { ...fastify, default: observed };
});

type Operation = { security?: unknown[]; responses: Record<string, { $ref?: string; content?: unknown }> };
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

/** The document as every route (exports and topology loads included) describes it; no request reaches a service. */
describe('OpenAPI document', () => {
  let app: FastifyInstance;
  let doc: Document;
  const exportDir = mkdtempSync(join(tmpdir(), 'gridstream-openapi-'));
  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({
        name: `${method.toUpperCase()} ${path}`,
        operation,
      })),
    );

  beforeAll(async () => {
    app = await buildApi(describingDependencies(exportDir));
    doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<Document>();
  });
  afterAll(async () => {
    await app?.close();
    rmSync(exportDir, { recursive: true, force: true });
  });

  it('is valid OpenAPI 3.1 for openapi-spec-validator, every schema valid JSON Schema 2020-12', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const checked = await checkOpenapi(doc);
    expect(checked.output).toMatch(/schemas checked, 0 problems/);
    expect(checked.code, checked.output).toBe(0);
  });

  it('finds the draft mix-ups the fuzzer refused (a boolean exclusiveMinimum, nullable, items as a list)', async () => {
    const broken = structuredClone(doc) as unknown as {
      paths: Record<string, { post: { requestBody: { content: Record<string, { schema: unknown }> } } }>;
    };
    broken.paths['/v1/feeder/stress']!.post.requestBody.content['application/json']!.schema = {
      type: 'object',
      properties: {
        kw: { type: 'number', minimum: 0, exclusiveMinimum: true },
        name: { type: 'string', nullable: true },
        pair: { type: 'array', items: [{ type: 'string' }] },
      },
    };
    const checked = await checkOpenapi(broken);
    expect(checked.code).toBe(1);
    expect(checked.output).toMatch(/exclusiveMinimum: True is not of type 'number'/);
    expect(checked.output).toMatch(/name: nullable is OpenAPI 3.0/);
    expect(checked.output).toMatch(/pair\/items: .* is not of type 'object', 'boolean'/);
  });

  it('declares on every operation the answers any route can give, by reference to one shared response', () => {
    for (const { name, operation } of operations()) {
      const keyed = operation.security === undefined || operation.security.length > 0;
      const shared = ['400', '404', '414', '431', '500', '503'];
      if (keyed) shared.push('401', '403', '429');
      if (!name.startsWith('GET ')) shared.push('413', '415');
      for (const status of shared)
        expect(operation.responses[status], `${name} ${status}`).toMatchObject(
          name === 'GET /healthz' && status === '503'
            ? { content: expect.anything() }
            : { $ref: expect.any(String) },
        );
    }
    expect(doc.paths['/healthz']!.get!.security).toEqual([]);
    expect(doc.paths['/metrics']!.get!.security).toEqual([]);
  });

  it('has every route, hidden or not, declare a response schema for a success status', () => {
    expect(routes.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining(['GET /healthz', 'GET /openapi.json', 'POST /v1/topology', 'GET /v1/dt']),
    );
    for (const route of routes) {
      const success = Object.entries(route.schema?.response ?? {}).filter(([status]) =>
        /^2(\d\d|xx)$/.test(status),
      );
      expect(success.length, `${route.method} ${route.url}`).toBeGreaterThan(0);
      for (const [status, schema] of success)
        expect(Object.keys(schema as object), `${route.method} ${route.url} ${status}`).toEqual(
          expect.arrayContaining([expect.stringMatching(/^(type|\$ref|content)$/)]),
        );
    }
  });

  it('describes the body of every success answer (except the empty 204 of a deletion)', () => {
    for (const { name, operation } of operations()) {
      const success = Object.entries(operation.responses).filter(([status]) => status.startsWith('2'));
      expect(success.length, name).toBeGreaterThan(0);
      for (const [status, response] of success)
        if (status !== '204') expect(response.content, `${name} ${status}`).toBeDefined();
    }
  });
});
