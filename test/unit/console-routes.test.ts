import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../api/server.js';
import { describingDependencies } from '../../scripts/console-types.js';

/** The console's routes on an API with a bundle of two files, and on one without a bundle. */
describe("the console's routes", () => {
  const dir = mkdtempSync(join(tmpdir(), 'gridstream-console-'));
  const bundle = join(dir, 'bundle');
  let app: FastifyInstance;
  let unbuilt: FastifyInstance;

  beforeAll(async () => {
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(bundle, 'app.js'), 'console.log(1);');
    app = await buildApi({ ...describingDependencies(join(dir, 'exports')), consoleDir: bundle });
    unbuilt = await buildApi({
      ...describingDependencies(join(dir, 'exports2')),
      consoleDir: join(dir, 'none'),
    });
  });
  afterAll(async () => {
    await app?.close();
    await unbuilt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page at / and its files under /console/ without a key, each with the security headers', async () => {
    for (const [url, type] of [
      ['/', /^text\/html/],
      ['/console/index.html', /^text\/html/],
      ['/console/app.js', /javascript/],
    ] as const) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type'], url).toMatch(type);
      expect(response.headers['content-security-policy'], url).toContain("script-src 'self'");
      expect(response.headers['content-security-policy'], url).toContain("frame-ancestors 'none'");
      expect(response.headers['x-content-type-options'], url).toBe('nosniff');
      expect(response.headers['cache-control'], url).toBe('no-cache');
    }
  });

  it('lets no data through without a key by way of a console path, the raw path as a client sends it', async () => {
    // Over a socket: inject would normalise `..` and `//` before the server saw them.
    const base = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
    const rawGet = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpRequest(
          { host: base.hostname, port: base.port, path, method: 'GET' },
          (response) => {
            let body = '';
            response.on('data', (chunk) => (body += chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
          },
        );
        request.on('error', reject);
        request.end();
      });
    for (const path of [
      '/v1/fleet',
      '/console/../v1/fleet',
      '/console/%2e%2e/v1/fleet',
      '/console/..%2fv1%2ffleet',
      '/console/%2e%2e%2fv1%2ffleet',
      '//v1/fleet',
      '/%2fv1/fleet',
      '/console//v1/fleet',
      '/console/missing.js',
    ]) {
      const { status, body } = await rawGet(path);
      expect([401, 404], `${path}: ${status} ${body}`).toContain(status);
      expect(body, path).not.toContain('transformers');
    }
    // And the bundle itself answers over the socket too.
    expect((await rawGet('/console/app.js')).status).toBe(200);
  });

  it('says how to build the console when it is not built', async () => {
    const response = await unbuilt.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: 'console_not_built' });
    expect(response.json().message).toContain('npm run build');
  });
});
