import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlQuery } from '../../../io/warehouse/sql-files.js';
import { OTHER_TENANT_KEY, startTestGridstream, TEST_API_KEY } from '../../support/test-gridstream.js';
import { meter, transformer } from '../../support/topology.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;
interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: () => Record<string, unknown>;
}

/**
 * One HTTP(S) request with node's own client, so the test can choose the source address (127.0.0.2 is
 * loopback on Linux too) and the CA that signed the server's certificate.
 */
function call(
  url: string,
  options: {
    method?: string;
    key?: string | null;
    body?: unknown;
    localAddress?: string;
    ca?: Buffer;
  } = {},
): Promise<Answer> {
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string> = {};
  if (options.key !== null) headers['x-api-key'] = options.key ?? TEST_API_KEY;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: options.method ?? 'GET',
        headers,
        localAddress: options.localAddress,
        ca: options.ca,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            text,
            json: () => JSON.parse(text) as Record<string, unknown>,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** dt-a (with meter m-a1 and asset bess-a) is the default tenant's (TEST_API_KEY); dt-b is utility-b's. */
const topology = {
  transformers: [transformer('dt-a'), transformer('dt-b', { tenant: 'utility-b' })],
  meters: [meter('m-a1', 'dt-a'), meter('m-b1', 'dt-b')],
  assets: [{ asset_id: 'bess-a', dt_id: 'dt-a', meter_id: 'm-a1', asset_type: 'BESS', nominal_kw: 5 }],
};

describe('API security (embedded gridstream)', () => {
  let g: Running;
  const logLines: Array<Record<string, unknown>> = [];
  const logText: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        logText.push(line);
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });

  beforeAll(async () => {
    g = await startTestGridstream(
      { topologyMaxBytes: 1024 * 1024, exportTtlS: 1, exportMaxJobs: 2 },
      undefined,
      logStream,
    );
    await g.pipeline.loadTopology(topology, 'security test');
  });
  afterAll(() => g?.stop());

  it("refuses moving tenant A's meter onto tenant B's DT (meter hijack) with 403, and the meter stays on A's DT", async () => {
    const hijack = await call(`${g.url}/v1/topology`, {
      method: 'POST',
      key: OTHER_TENANT_KEY,
      body: { meters: [meter('m-a1', 'dt-b')] },
    });
    expect(hijack.status).toBe(403);
    expect(hijack.json()).toMatchObject({
      error: 'forbidden',
      message: expect.stringMatching(/^meter "m-a1" belongs to another tenant/),
    });
    const placed = await g.edges.warehouse.query<{ meter_id: string; dt_id: string }>(sqlQuery('meter_dts'), {
      meter_ids: ['m-a1'],
    });
    expect(placed).toEqual([{ meter_id: 'm-a1', dt_id: 'dt-a' }]);
    expect(g.pipeline.topology.index.meters.get('m-a1')?.dt_id).toBe('dt-a');
    // Tenant B may still load its own meters.
    const own = await call(`${g.url}/v1/topology`, {
      method: 'POST',
      key: OTHER_TENANT_KEY,
      body: { meters: [meter('m-b2', 'dt-b')] },
    });
    expect(own.status).toBe(201);
  });

  it("refuses moving tenant A's asset behind tenant B's DT (asset hijack) with 403", async () => {
    const hijack = await call(`${g.url}/v1/topology`, {
      method: 'POST',
      key: OTHER_TENANT_KEY,
      body: {
        transformers: [transformer('dt-b', { tenant: 'utility-b' })],
        assets: [{ asset_id: 'bess-a', dt_id: 'dt-b', asset_type: 'BESS' }],
      },
    });
    expect(hijack.status).toBe(403);
    expect(hijack.json().message).toMatch(/^asset "bess-a" belongs to another tenant/);
  });

  it("answers another tenant's DT on every DT route exactly as an unknown one (404), not revealing it exists", async () => {
    const routes: Array<[string, string, (dt: string) => unknown]> = [
      ['GET', '/v1/dt/{dt}/load-profile?days=1', () => undefined],
      ['GET', '/v1/dt/{dt}/stress?days=1', () => undefined],
      ['GET', '/v1/dt/{dt}/envelopes?days=1', () => undefined],
      ['POST', '/v1/dt/hosting-capacity', (dt) => ({ dt_id: dt, additions: [{ type: 'ev', kw: 7 }] })],
      ['POST', '/v1/rooftop/sanction-check', (dt) => ({ dt_id: dt, pv_kwp: 5 })],
    ];
    for (const [method, path, body] of routes) {
      const ask = (dt: string) =>
        call(`${g.url}${path.replace('{dt}', dt)}`, { method, key: OTHER_TENANT_KEY, body: body(dt) });
      const theirs = await ask('dt-a');
      const unknown = await ask('dt-nowhere');
      expect(theirs.status, path).toBe(404);
      expect(unknown.status, path).toBe(404);
      expect(theirs.json().error).toBe(unknown.json().error);
      expect(theirs.json().message).toBe(String(unknown.json().message).replace('dt-nowhere', 'dt-a'));
    }
    const listed = (await call(`${g.url}/v1/dt`, { key: OTHER_TENANT_KEY })).json() as {
      transformers: Array<{ dt_id: string }>;
    };
    expect(listed.transformers.map((t) => t.dt_id)).toEqual(['dt-b']);
  });

  it('throttles key guessing: 300 random keys from one address get 429 with Retry-After before the 300th; a valid key from another address still works', async () => {
    const started = Date.now();
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 300; i++) {
      const guess = await call(`${g.url}/v1/dt`, {
        key: randomBytes(32).toString('hex'),
        localAddress: '127.0.0.2',
      });
      statuses.push(guess.status);
      if (guess.status === 429) retryAfter ??= String(guess.headers['retry-after']);
    }
    const seconds = (Date.now() - started) / 1000;
    const first429 = statuses.indexOf(429);
    expect(first429).toBeGreaterThan(0);
    expect(first429).toBeLessThanOrEqual(20); // GRIDSTREAM_API_AUTH_FAILURE_BURST
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // At most the burst plus the sustained rate (1/s) of guesses were even looked at.
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(20 + Math.ceil(seconds) + 1);
    expect(new Set(statuses)).toEqual(new Set([401, 429]));
    expect((await call(`${g.url}/v1/dt`, { localAddress: '127.0.0.1' })).status).toBe(200);
    // The throttled address gets no key work at all, a valid key included, until its bucket refills.
    expect((await call(`${g.url}/v1/dt`, { localAddress: '127.0.0.2' })).status).toBe(429);
  });

  it('answers POST /v1/topology {} with 400 at once (it used to wait 30 s for a version nothing carried)', async () => {
    const started = Date.now();
    const empty = await call(`${g.url}/v1/topology`, { method: 'POST', body: {} });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(empty.status).toBe(400);
    expect(empty.json()).toMatchObject({
      error: 'invalid_topology',
      request_id: expect.any(String),
    });
    expect(empty.json().fields).toEqual([
      expect.objectContaining({ problem: expect.stringMatching(/holds no transformers, meters or assets/) }),
    ]);
  });

  it('refuses a topology body over GRIDSTREAM_TOPOLOGY_MAX_BYTES with 413', async () => {
    const meters = Array.from({ length: 8000 }, (_, i) => meter(`m-big-${i}`, 'dt-a'));
    const body = JSON.stringify({ meters });
    expect(body.length).toBeGreaterThan(1024 * 1024);
    const big = await call(`${g.url}/v1/topology`, { method: 'POST', body });
    expect(big.status).toBe(413);
    expect(big.json()).toMatchObject({ error: 'payload_too_large', request_id: expect.any(String) });
  });

  it('refuses offset 1,000,001 with 400 on every route that pages', async () => {
    const window = 'from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z';
    const answers = [
      await call(`${g.url}/v1/dispatches?asset_ids=bess-a&${window}&offset=1000001`),
      await call(`${g.url}/v1/webhooks/6f1c3a4e-0000-4000-8000-000000000000/deliveries?offset=1000001`),
      await call(`${g.url}/v1/impedance/on-demand`, {
        method: 'POST',
        body: { Meter: 'm-a1', offset: 1000001 },
      }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.json().fields).toEqual([
        expect.objectContaining({ field: 'offset', problem: expect.stringMatching(/1000000/) }),
      ]);
    }
    const deepest = await call(`${g.url}/v1/dispatches?asset_ids=bess-a&${window}&offset=1000000`);
    expect(deepest.status).toBe(200);
  });

  it("refuses a tenant's third concurrent export with 429 and Retry-After, and an export past its expiry is gone with its file", async () => {
    const submit = () => call(`${g.url}/v1/impedance/exports`, { method: 'POST', body: { filetype: 'csv' } });
    const answers = await Promise.all([submit(), submit(), submit()]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 429]);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.json()).toMatchObject({ error: 'export_limit' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another tenant is not held up by this one's exports.
    const theirs = await call(`${g.url}/v1/impedance/exports`, {
      method: 'POST',
      key: OTHER_TENANT_KEY,
      body: { filetype: 'csv' },
    });
    expect(theirs.status).toBe(202);

    const id = String(answers.find((a) => a.status === 202)!.json().export_id);
    let status = '';
    for (let i = 0; i < 100 && status !== 'done'; i++) {
      status = String((await call(`${g.url}/v1/impedance/exports/${id}`)).json().status);
      if (status !== 'done') await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe('done');
    const file = join(g.dataDir, 'exports', `${id}.csv`);
    expect(existsSync(file)).toBe(true);
    // GRIDSTREAM_EXPORT_TTL_S is 1 here.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await call(`${g.url}/v1/impedance/exports/${id}`)).status).toBe(404);
    expect((await call(`${g.url}/v1/impedance/exports/${id}/file`)).status).toBe(404);
    expect(existsSync(file)).toBe(false);
  });

  it('logs a 500 (a table lost under the API) with its stack and the request id the body carries, and never the key', async () => {
    await g.edges.warehouse.command('RENAME TABLE webhook_subscriptions TO webhook_subscriptions_lost');
    let failed: Answer;
    try {
      failed = await call(`${g.url}/v1/webhooks`);
    } finally {
      await g.edges.warehouse.command('RENAME TABLE webhook_subscriptions_lost TO webhook_subscriptions');
    }
    expect(failed.status).toBe(500);
    const body = failed.json();
    expect(body).toMatchObject({ error: 'internal', request_id: expect.any(String) });
    expect(failed.headers['x-request-id']).toBe(body.request_id);
    const lines = logLines.filter((l) => l.request_id === body.request_id);
    const logged = lines.find((l) => (l.err as { stack?: string } | undefined)?.stack);
    expect(logged).toBeDefined();
    expect(logged!.level).toBe(50);
    expect((logged!.err as { stack: string }).stack).toMatch(/webhook_subscriptions[\s\S]*\n\s+at /);
    expect(lines.some((l) => l.msg === 'request failed' && l.status === 500)).toBe(true);
    expect((await call(`${g.url}/v1/webhooks`)).status).toBe(200);
    expect(logText.join('\n')).not.toContain(TEST_API_KEY);
  });
});

describe('API keys at start', () => {
  it('refuses to start with a key shorter than 32 characters, saying so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridstream-short-key-'));
    try {
      const run = promisify(execFile);
      const outcome = await run(process.execPath, ['--import', 'tsx', 'bin/gridstream.ts', 'run'], {
        env: {
          ...process.env,
          GRIDSTREAM_DATA_DIR: dir,
          GRIDSTREAM_HTTP_PORT: '0',
          GRIDSTREAM_MQTT_PORT: '0',
          GRIDSTREAM_API_KEYS: `${'k'.repeat(40)},short-key-0123:utility-b`,
        },
        timeout: 60_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(outcome.code).toBe(1);
      expect(outcome.stderr.trim()).toBe(
        'gridstream: GRIDSTREAM_API_KEYS: every key must have at least 32 characters; key 2 of the list has 14 (make one with: openssl rand -hex 32)',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('API over TLS', () => {
  let g: Running;
  let dir: string;
  let cert: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gridstream-tls-'));
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    cert = readFileSync(join(dir, 'cert.pem'));
    g = await startTestGridstream({
      httpTlsCert: join(dir, 'cert.pem'),
      httpTlsKey: join(dir, 'key.pem'),
    });
  });
  afterAll(async () => {
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API over HTTPS with the configured certificate, and not over plain HTTP', async () => {
    expect(g.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const listed = await call(`${g.url}/v1/dt`, { ca: cert });
    expect(listed.status).toBe(200);
    expect(listed.json()).toEqual({ transformers: [], limit: 1000, offset: 0, total: 0 });
    // A client that does not trust the certificate is refused by TLS itself.
    await expect(call(`${g.url}/v1/dt`)).rejects.toThrow(/self[- ]signed/i);
    // Plain HTTP to the same port gets no API answer.
    await expect(call(g.url.replace('https:', 'http:') + '/v1/dt')).rejects.toThrow();
  });
});
