import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressPolicy } from '../../io/webhooks/egress.js';
import { sendWebhook } from '../../io/webhooks/send.js';
import { verifyWebhookSignature } from '../../io/webhooks/signature.js';
import { freePort } from '../support/ports.js';

/**
 * One HTTP attempt against a real server: what counts as delivered, what is worth retrying, timeouts,
 * redirects, and the egress policy holding the connection itself.
 */
describe('sendWebhook', () => {
  let server: Server;
  let url: string;
  let port: number;
  const seen: Array<{ path: string; signature: string | undefined; body: string }> = [];
  // The receiver is on loopback: only an allow-list opens it.
  const loopbackAllowed = new EgressPolicy('127.0.0.1');
  const secrets = { secret: 'whsec_x', previous_secret: '', previous_secret_expires_ms: 0 };

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        const path = request.url ?? '';
        seen.push({
          path,
          signature: request.headers['gridstream-signature'] as string | undefined,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        if (path === '/slow') return void setTimeout(() => response.writeHead(200).end(), 1500);
        if (path === '/redirect') return void response.writeHead(307, { location: '/elsewhere' }).end();
        const status = Number(path.slice(1)) || 200;
        response.writeHead(status, status === 429 ? { 'retry-after': '30' } : {}).end('secret internals');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const send = (path: string, timeoutMs?: number, egress = loopbackAllowed, base = url) =>
    sendWebhook({
      url: `${base}${path}`,
      secrets,
      body: '{"event_id":"e-1"}',
      subscriptionId: 'sub-1',
      eventId: 'e-1',
      attempt: 1,
      timeoutMs,
      egress,
    });

  it('counts any 2xx as delivered, and signs the body it sends with a fresh timestamp', async () => {
    expect(await send('/204')).toMatchObject({ delivered: true, httpStatus: 204, error: '' });
    const last = seen.at(-1)!;
    expect(last.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(Math.abs(Number(/t=(\d+)/.exec(last.signature!)![1]) - Date.now() / 1000)).toBeLessThan(5);
    expect(verifyWebhookSignature('whsec_x', last.body, last.signature)).toBe(true);
  });

  it("retries 5xx, 408 and 429 (with its Retry-After), not other 4xx; never passes on the receiver's body", async () => {
    expect(await send('/503')).toMatchObject({
      delivered: false,
      httpStatus: 503,
      retryable: true,
      error: 'HTTP 503',
    });
    expect(await send('/408')).toMatchObject({ retryable: true });
    expect(await send('/429')).toMatchObject({ retryable: true, retryAfterMs: 30_000 });
    expect(await send('/404')).toMatchObject({ delivered: false, httpStatus: 404, retryable: false });
  });

  it('does not follow a redirect', async () => {
    const before = seen.length;
    expect(await send('/redirect')).toMatchObject({ delivered: false, httpStatus: 307, retryable: false });
    expect(seen.slice(before).map((s) => s.path)).toEqual(['/redirect']);
  });

  it('gives up on a receiver that does not answer in time, and on one that refuses the connection', async () => {
    expect(await send('/slow', 300)).toMatchObject({
      delivered: false,
      httpStatus: 0,
      retryable: true,
      error: 'no response within 300 ms',
    });
    const free = await freePort();
    expect(await send('/hook', undefined, loopbackAllowed, `http://127.0.0.1:${free}`)).toMatchObject({
      delivered: false,
      httpStatus: 0,
      retryable: true,
      error: 'ECONNREFUSED',
    });
  });

  it('refuses a loopback receiver the policy does not allow, by address and by a name resolving to it, sending nothing', async () => {
    const before = seen.length;
    const publicOnly = new EgressPolicy();
    expect(await send('/204', undefined, publicOnly)).toMatchObject({
      delivered: false,
      httpStatus: 0,
      retryable: false,
      error: `refused by the egress policy: 127.0.0.1 is a loopback address`,
    });
    const byName = await send('/204', undefined, publicOnly, `http://localhost:${port}`);
    expect(byName).toMatchObject({ delivered: false, httpStatus: 0, retryable: false });
    expect(byName.error).toMatch(/^refused by the egress policy: localhost resolves to a loopback address$/);
    // Allowed by name, the same receiver is reached.
    expect(
      await send('/204', undefined, new EgressPolicy('localhost'), `http://localhost:${port}`),
    ).toMatchObject({
      delivered: true,
    });
    expect(seen.slice(before).map((s) => s.path)).toEqual(['/204']);
  });
});
