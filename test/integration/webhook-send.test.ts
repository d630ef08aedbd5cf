import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../core/webhook-signature.js';
import { sendWebhook } from '../../io/webhooks/send.js';

/** One HTTP attempt against a real server: what counts as delivered, what is worth retrying, and timeouts. */
describe('sendWebhook', () => {
  let server: Server;
  let url: string;
  const seen: Array<{ path: string; signature: string | undefined; body: string }> = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        const path = request.url ?? '';
        seen.push({
          path,
          signature: request.headers['gridstream-webhook-signature'] as string | undefined,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        if (path === '/slow') return void setTimeout(() => response.writeHead(200).end(), 1500);
        const status = Number(path.slice(1)) || 200;
        response.writeHead(status, status === 429 ? { 'retry-after': '30' } : {}).end('nope');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const send = (path: string, timeoutMs?: number) =>
    sendWebhook({
      url: `${url}${path}`,
      secret: 'whsec_x',
      body: '{"event_id":"e-1"}',
      subscriptionId: 'sub-1',
      eventId: 'e-1',
      attempt: 1,
      timeoutMs,
    });

  it('counts any 2xx as delivered, and signs the body it sends', async () => {
    expect(await send('/204')).toMatchObject({ delivered: true, httpStatus: 204, error: '' });
    const last = seen.at(-1)!;
    expect(verifyWebhookSignature('whsec_x', last.body, last.signature)).toBe(true);
  });

  it('retries 5xx, 408 and 429 (with its Retry-After), not other 4xx or a redirect', async () => {
    expect(await send('/503')).toMatchObject({
      delivered: false,
      httpStatus: 503,
      retryable: true,
      error: 'HTTP 503: nope',
    });
    expect(await send('/408')).toMatchObject({ retryable: true });
    expect(await send('/429')).toMatchObject({ retryable: true, retryAfterMs: 30_000 });
    expect(await send('/404')).toMatchObject({ delivered: false, httpStatus: 404, retryable: false });
    expect(await send('/301')).toMatchObject({ delivered: false, httpStatus: 301, retryable: false });
  });

  it('gives up on a receiver that does not answer in time, and on one that refuses the connection', async () => {
    expect(await send('/slow', 300)).toMatchObject({
      delivered: false,
      httpStatus: 0,
      retryable: true,
      error: 'no response within 300 ms',
    });
    // A port nothing listens on (a free one, closed again).
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await sendWebhook({
      url: `http://127.0.0.1:${port}/hook`,
      secret: 's',
      body: '{}',
      subscriptionId: 'sub-1',
      eventId: 'e-1',
      attempt: 1,
    });
    expect(refused).toMatchObject({
      delivered: false,
      httpStatus: 0,
      retryable: true,
      error: 'ECONNREFUSED',
    });
  });
});
