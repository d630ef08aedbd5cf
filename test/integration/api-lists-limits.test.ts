import { request as httpRequest, type ClientRequest } from 'node:http';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { meter, transformer } from '../support/topology.js';
import {
  OTHER_TENANT_KEY,
  startTestGridstream,
  TEST_API_KEY,
  testMqttUrl,
} from '../support/test-gridstream.js';

/*
 * Lists, limits and dispatch history as a flexibility-event platform's and an asset/dispatch API's clients use
 * them: page/pageSize paging with a total on every list, 25 requests a second and 15 in flight per key, energy
 * units in dispatch commands, the delivery_day filter, and the 422 detail errors those clients read.
 */

type Running = Awaited<ReturnType<typeof startTestGridstream>>;
type Json = Record<string, unknown>;

const DTS = Array.from({ length: 12 }, (_, k) => `dt-${String(k + 1).padStart(2, '0')}`);
const DETAIL = 'application/json, application/vnd.gridstream.detail+json';
/** An EV site-screen request at the DTs' location (test/support/topology.ts). */
const SITE = { latitude: 12.97, longitude: 77.59, station_kw: 22, dwell: { schedule: '18:00-22:00' } };

/** Dispatch commands of bess-1, as the asset/dispatch interface's history lists them (its sample's fields). */
const COMMANDS = [
  ['2026-07-01T23:30:00Z', '2026-07-01T23:45:00Z', { amount: '0.375', unit: 'MWh' }],
  ['2026-07-01T23:45:00Z', '2026-07-02T00:00:00Z', { amount: '375.5', unit: 'kWh' }],
  ['2026-07-02T00:00:00Z', '2026-07-02T00:15:00Z', null],
].map(([dispatch_time, delivery_period_start, soc_imbalance], k) => ({
  source: 'string',
  event_id: `a7a26ff2-e851-45b6-9634-d595f45458b${k}`,
  published_at: '2026-07-01T23:00:00Z',
  asset_id: 'bess-1',
  dispatch_time,
  delivery_period_start,
  target_power: { amount: '-1.250', unit: 'MW' },
  nominal_power: { amount: '2', unit: 'MW' },
  power_imbalance: { amount: '0.1', unit: 'MW' },
  soc_imbalance,
}));

describe('lists and dispatch as the flexibility-platform and asset/dispatch clients expect', () => {
  let g: Running;
  const subscriptionIds: string[] = [];
  const call = (
    method: string,
    path: string,
    options: { body?: unknown; headers?: Json; key?: string } = {},
  ) =>
    fetch(`${g.url}${path}`, {
      method,
      headers: {
        'x-api-key': options.key ?? TEST_API_KEY,
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.headers as Record<string, string>),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  const json = async (method: string, path: string, options: Parameters<typeof call>[2] = {}) => {
    const response = await call(method, path, options);
    expect(response.status, `${method} ${path}: ${await response.clone().text()}`).toBeLessThan(300);
    return (await response.json()) as Json;
  };

  beforeAll(async () => {
    g = await startTestGridstream({ webhookAllow: '127.0.0.1' });
    await g.pipeline.loadTopology(
      {
        transformers: DTS.map((id) => transformer(id)),
        meters: [meter('m-1', 'dt-01')],
        assets: [
          { asset_id: 'bess-1', dt_id: 'dt-01', meter_id: 'm-1', asset_type: 'BESS', nominal_kw: 2000 },
        ],
      },
      'lists test',
    );
    const client = await mqtt.connectAsync(testMqttUrl(g));
    for (const command of COMMANDS)
      await client.publishAsync('gridstream/v1/dispatch/bess-1', JSON.stringify(command), { qos: 1 });
    await client.endAsync();
    await g.pipeline.settle();
    // Three subscriptions; the first with three logged attempts (port 1 refuses: each a failed attempt).
    for (const n of [1, 2, 3]) {
      const created = await json('POST', '/v1/webhooks', {
        body: { url: `http://127.0.0.1:1/hook-${n}`, event_types: ['DISPATCH.REJECTED'] },
      });
      subscriptionIds.push(created.id as string);
    }
    for (let k = 0; k < 3; k++) await json('POST', `/v1/webhooks/${subscriptionIds[0]}/test`);
  });
  afterAll(() => g?.stop());

  it("pages GET /v1/dt with the flexibility platform's sample request (page=1&pageSize=100), with a total", async () => {
    const sample = await json('GET', '/v1/dt?page=1&pageSize=100');
    expect(sample).toMatchObject({ page: 1, pageSize: 100, limit: 100, offset: 0, total: 12 });
    expect((sample.transformers as Json[]).map((t) => t.dt_id)).toEqual(DTS);
    const second = await json('GET', '/v1/dt?page=2&pageSize=5');
    expect((second.transformers as Json[]).map((t) => t.dt_id)).toEqual(DTS.slice(5, 10));
    expect(second).toMatchObject({ page: 2, pageSize: 5, offset: 5, total: 12 });
    // page alone: 10 a page; neither pair: every DT (up to 1,000), as before paging.
    expect(((await json('GET', '/v1/dt?page=2')).transformers as Json[]).length).toBe(2);
    const whole = await json('GET', '/v1/dt');
    expect(whole).toMatchObject({ limit: 1000, offset: 0, total: 12 });
    expect(whole).not.toHaveProperty('page');
    const tail = await json('GET', '/v1/dt?limit=3&offset=10');
    expect(tail).toMatchObject({ limit: 3, offset: 10, total: 12 });
    expect((tail.transformers as Json[]).map((t) => t.dt_id)).toEqual(['dt-11', 'dt-12']);
    // Past the end: no rows, the total still.
    expect(await json('GET', '/v1/dt?page=9&pageSize=10')).toMatchObject({ transformers: [], total: 12 });
    // Another tenant's key sees none of them.
    expect(await json('GET', '/v1/dt?page=1', { key: OTHER_TENANT_KEY })).toMatchObject({ total: 0 });
  });

  it('pages the webhook subscriptions and their delivery log with totals', async () => {
    const subscriptions = await json('GET', '/v1/webhooks?page=2&pageSize=2');
    expect(subscriptions).toMatchObject({ page: 2, pageSize: 2, total: 3 });
    expect((subscriptions.webhooks as Json[]).map((s) => s.id)).toEqual([subscriptionIds[2]]);
    expect(await json('GET', '/v1/webhooks')).toMatchObject({ limit: 100, offset: 0, total: 3 });
    const deliveries = await json('GET', `/v1/webhooks/${subscriptionIds[0]}/deliveries?page=1&pageSize=2`);
    expect(deliveries).toMatchObject({ page: 1, pageSize: 2, total: 3 });
    expect(deliveries.deliveries as Json[]).toHaveLength(2);
    expect(await json('GET', `/v1/webhooks/${subscriptionIds[0]}/deliveries?limit=2&offset=2`)).toMatchObject(
      { limit: 2, offset: 2, total: 3, deliveries: [expect.objectContaining({ attempt: 1 })] },
    );
  });

  it('refuses a pageSize over 1000, and both pairs at once, on every list route with a 400 naming the field', async () => {
    const window = 'asset_ids=bess-1&from=2026-07-01T00:00:00Z&to=2026-07-03T00:00:00Z';
    const lists: Array<[string, string, (paging: Json) => Parameters<typeof call>[2]]> = [
      ['GET', '/v1/dt', () => ({})],
      ['GET', '/v1/webhooks', () => ({})],
      ['GET', `/v1/webhooks/${subscriptionIds[0]}/deliveries`, () => ({})],
      ['GET', `/v1/dispatches?${window}`, () => ({})],
      ['POST', '/v1/impedance/on-demand', (paging) => ({ body: { Meter: 'm-1', ...paging } })],
      ['POST', '/v1/ev/site-screen', (paging) => ({ body: { ...SITE, ...paging } })],
    ];
    for (const [method, path, options] of lists) {
      for (const [paging, field] of [
        [{ page: 1, pageSize: 1001 }, 'pageSize'],
        [{ page: 1, limit: 10 }, 'page'],
        [{ pageSize: 10, offset: 0 }, 'pageSize'],
      ] as const) {
        const query = new URLSearchParams(
          Object.entries(paging).map(([k, v]): [string, string] => [k, String(v)]),
        );
        const url = method === 'GET' ? `${path}${path.includes('?') ? '&' : '?'}${query}` : path;
        const response = await call(method, url, options(paging));
        expect(response.status, `${method} ${url} ${JSON.stringify(paging)}`).toBe(400);
        const body = (await response.json()) as { error: string; fields: Json[] };
        expect(body.error).toBe('bad_request');
        expect(body.fields).toEqual([expect.objectContaining({ field })]);
      }
      // And pages by page and pageSize, with a total.
      const paged = method === 'GET' ? `${path}${path.includes('?') ? '&' : '?'}page=1&pageSize=1` : path;
      expect(await json(method, paged, options({ page: 1, pageSize: 1 }))).toMatchObject({
        page: 1,
        pageSize: 1,
        total: expect.any(Number),
      });
    }
  });

  it('pages the EV site screen: its ranked candidates, with a total', async () => {
    const second = await json('POST', '/v1/ev/site-screen', { body: { ...SITE, page: 2, pageSize: 5 } });
    expect(second).toMatchObject({ page: 2, pageSize: 5, total: 12 });
    // Every DT is at the site and has no envelope yet: ranked by dt_id.
    expect((second.candidates as Json[]).map((c) => c.dt_id)).toEqual(DTS.slice(5, 10));
    expect(await json('POST', '/v1/ev/site-screen', { body: SITE })).toMatchObject({
      limit: 10,
      offset: 0,
      total: 12,
    });
  });

  it('keeps a state-of-charge imbalance in MWh or kWh as sent, and filters the history by delivery_day', async () => {
    // The asset/dispatch interface's history request: asset_ids, from, to, delivery_day, limit, offset.
    const answer = await json(
      'GET',
      '/v1/dispatches?asset_ids=bess-1&from=2026-07-01T00:00:00Z&to=2026-07-03T00:00:00Z&delivery_day=2026-07-02&limit=50&offset=0',
    );
    expect(Object.keys(answer)).toEqual(['dispatches', 'limit', 'offset', 'total']);
    expect(answer).toMatchObject({ limit: 50, offset: 0, total: 2 });
    const dispatches = answer.dispatches as Json[];
    expect(dispatches.map((d) => d.delivery_period_start)).toEqual([
      '2026-07-02T00:00:00.000Z',
      '2026-07-02T00:15:00.000Z',
    ]);
    // The sample's fields in its order, then the action and the envelope check.
    expect(Object.keys(dispatches[0]!)).toEqual([
      'source',
      'event_id',
      'published_at',
      'asset_id',
      'dispatch_time',
      'delivery_period_start',
      'target_power',
      'nominal_power',
      'power_imbalance',
      'soc_imbalance',
      'action',
      'check',
    ]);
    expect(dispatches[0]).toMatchObject({
      event_id: COMMANDS[1]!.event_id,
      target_power: { amount: '-1.250', unit: 'MW' },
      soc_imbalance: { amount: '375.5', unit: 'kWh' },
    });
    // delivery_day alone (no from/to): the day before holds the MWh command, kept exactly.
    const dayBefore = await json('GET', '/v1/dispatches?asset_ids=bess-1&delivery_day=2026-07-01');
    expect(dayBefore).toMatchObject({ total: 1 });
    expect((dayBefore.dispatches as Json[])[0]).toMatchObject({
      event_id: COMMANDS[0]!.event_id,
      soc_imbalance: { amount: '0.375', unit: 'MWh' },
    });
    // Neither a window nor a day: a 400 naming from.
    const unbounded = await call('GET', '/v1/dispatches?asset_ids=bess-1');
    expect(unbounded.status).toBe(400);
    expect(await unbounded.json()).toMatchObject({ fields: [{ field: 'from' }] });
  });

  it('answers request errors as 422 {detail: [{loc, msg, type}]} to a client whose Accept asks for it, as the 400 ApiError to others', async () => {
    const cases: Array<[string, string, unknown, Json[]]> = [
      [
        'GET',
        '/v1/dispatches?asset_ids=bess-1&delivery_day=2026-07-02&limit=0',
        undefined,
        [{ loc: ['query', 'limit'], msg: 'must be >= 1', type: 'greater_than_equal' }],
      ],
      [
        'GET',
        '/v1/dispatches?delivery_day=2026-07-02&colour=red',
        undefined,
        [
          { loc: ['query', 'asset_ids'], msg: 'is required', type: 'missing' },
          { loc: ['query', 'colour'], msg: 'is not a known parameter', type: 'extra_forbidden' },
        ],
      ],
      [
        'GET',
        '/v1/dt?page=1&pageSize=2000',
        undefined,
        [{ loc: ['query', 'pageSize'], msg: 'must be <= 1000', type: 'less_than_equal' }],
      ],
      [
        // A rule across fields, checked by the route rather than the schema.
        'GET',
        '/v1/dispatches?asset_ids=bess-1&from=2026-07-02T00:00:00Z&to=2026-07-01T00:00:00Z',
        undefined,
        [{ loc: ['query', 'from'], msg: 'must be before to', type: 'value_error' }],
      ],
      [
        'POST',
        '/v1/webhooks',
        { url: 'http://127.0.0.1:1/x', event_types: ['NO.SUCH'] },
        [{ loc: ['body', 'event_types', '0'], msg: expect.stringMatching(/allowed values/), type: 'enum' }],
      ],
    ];
    for (const [method, path, body, detail] of cases) {
      const opted = await call(method, path, { body, headers: { accept: DETAIL } });
      expect(opted.status, `${method} ${path}`).toBe(422);
      expect(await opted.json()).toEqual({ detail });
      const plain = await call(method, path, { body });
      expect(plain.status).toBe(400);
      expect(await plain.json()).toMatchObject({
        error: 'bad_request',
        message: expect.any(String),
        request_id: plain.headers.get('x-request-id'),
        fields: expect.any(Array),
      });
    }
    // Other refusals keep their status and body for every client.
    const unknown = await call('GET', '/v1/webhooks/no-such-id', { headers: { accept: DETAIL } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'not_found' });
  });
});

describe('per-key limits: requests per second and requests in flight', () => {
  let g: Running;
  const defaults = loadConfig({});

  beforeAll(async () => {
    // The defaults, which the other tests raise.
    g = await startTestGridstream({
      apiRateLimit: defaults.apiRateLimit,
      apiRateBurst: defaults.apiRateBurst,
      apiMaxConcurrent: defaults.apiMaxConcurrent,
    });
  });
  afterAll(() => g?.stop());

  const get = (path: string, key = TEST_API_KEY) =>
    fetch(`${g.url}${path}`, { headers: { 'x-api-key': key } });
  /** A request whose body never finishes: it holds its slot until the client gives up. */
  const held = () =>
    new Promise<ClientRequest>((resolve, reject) => {
      const url = new URL(`${g.url}/v1/impedance/on-demand`);
      const request = httpRequest({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent: false,
        headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json', 'content-length': 1000 },
      });
      request.on('error', () => undefined); // destroyed below
      request.on('response', () => reject(new Error('a held request was answered')));
      request.write('{"Meter": "m-1", ', () => resolve(request));
    });
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('has the defaults of the flexibility platform: 25 requests a second and 15 in flight', () => {
    expect([defaults.apiRateLimit, defaults.apiRateBurst, defaults.apiMaxConcurrent]).toEqual([25, 25, 15]);
  });

  it('refuses a 16th request in flight with 429 and Retry-After, and frees the slots of aborted and failed requests', async () => {
    const holders = await Promise.all(Array.from({ length: 15 }, held));
    await pause(200); // the server has taken every slot
    const refused = await get('/v1/dt');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({
      error: 'concurrency_limited',
      message: expect.stringMatching(/15 requests in flight/),
    });
    // Per key: another key is not held up.
    expect((await get('/v1/dt', OTHER_TENANT_KEY)).status).toBe(200);
    // The clients give up: their slots come back.
    for (const request of holders) request.destroy();
    await pause(300);
    expect((await get('/v1/dt')).status).toBe(200);
    await pause(1100); // a full bucket again
    // Sixteen refused requests one after another: each frees its slot, so none meets the limit.
    for (let k = 0; k < 16; k++) {
      const response = await get(`/v1/dt?pageSize=${5000 + k}`);
      expect(response.status).toBe(400);
    }
    expect((await get('/v1/dt')).status).toBe(200);
  });

  it('refuses requests past 25 a second with 429 rate_limited and Retry-After, other keys unaffected', async () => {
    await pause(1100);
    const started = Date.now();
    const statuses: number[] = [];
    let limited: Response | undefined;
    // Ten at a time (within the 15 in flight), 50 in all, as fast as they go.
    for (let batch = 0; batch < 5; batch++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => get('/v1/webhooks')));
      for (const answer of answers) {
        statuses.push(answer.status);
        if (answer.status === 429) limited ??= answer;
        else await answer.arrayBuffer();
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const ok = statuses.filter((s) => s === 200).length;
    expect(new Set(statuses)).toEqual(new Set([200, 429]));
    expect(ok).toBeGreaterThanOrEqual(25);
    expect(ok).toBeLessThanOrEqual(25 + Math.ceil(seconds * 25));
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited!.json()).toMatchObject({ error: 'rate_limited' });
    expect((await get('/v1/webhooks', OTHER_TENANT_KEY)).status).toBe(200);
  });
});
