import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLOT_MS } from '../../core/time.js';
import { OTHER_TENANT_KEY, TEST_API_KEY, startTestGridstream } from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

/**
 * POST /v1/energy-consumption against a running embedded gridstream: readings in bulk go through MQTT
 * ingest's validation, dead letters and log, are answered per record by index, and limited per key.
 * Each test uses its own key of the `default` tenant, so the 1 request/s limit of one does not touch another.
 */
const key = (name: string) => `${name}-key-0123456789abcdefghijklmnopqrstuvwxyz`;
const KEYS = {
  sample: key('sample'),
  bulk: key('bulk'),
  limit: key('limit'),
  bad: key('bad'),
  rate: key('rate'),
  concurrent: key('concurrent'),
};

const NOW = Date.now();
/** Ten hours back, on a slot boundary: well inside the revision horizon, so every reading counts. */
const START = NOW - (NOW % SLOT_MS) - 10 * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const minute = (m: number) => START + m * 60_000;

const BULK_METERS = 100;
const bulkMeter = (k: number) => `m-bulk-${String(k).padStart(3, '0')}`;

const topology = {
  transformers: [
    transformer('dt-a'),
    transformer('dt-bulk'),
    transformer('dt-other', { tenant: 'utility-b' }),
  ],
  meters: [
    meter('m-1', 'dt-a'),
    meter('m-2', 'dt-a'),
    meter('m-3', 'dt-a'),
    meter('m-9', 'dt-other'),
    ...Array.from({ length: BULK_METERS }, (_, k) => meter(bulkMeter(k), 'dt-bulk')),
  ],
};

interface Answer {
  accepted: number;
  rejected: number;
  results: Array<{ index: number; status: string; reason_code?: string; reason?: string }>;
}

describe('POST /v1/energy-consumption', () => {
  let g: Awaited<ReturnType<typeof startTestGridstream>>;
  const post = (body: unknown, apiKey: string) =>
    fetch(`${g.url}/v1/energy-consumption`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const count = async (sql: string) => Number((await g.edges.warehouse.query<{ n: string }>(sql))[0]!.n);

  beforeAll(async () => {
    g = await startTestGridstream({
      apiKeys: [TEST_API_KEY, `${OTHER_TENANT_KEY}:utility-b`, ...Object.values(KEYS)].join(','),
    });
    await g.pipeline.loadTopology(topology, 'energy-consumption test');
  }, 60_000);
  afterAll(async () => {
    await g?.stop();
  });

  it('takes the documented sample request (202, each record accepted) and its readings reach the warehouse and the load profile', async () => {
    // The example of docs/api.md, its times moved to a recent quarter hour.
    const sample = {
      records: [
        {
          meter_id: 'm-1',
          ts: iso(minute(0)),
          p_kw: 1.42,
          q_kvar: 0.31,
          legs: [{ leg: 1, v: 231.4, i: 6.2 }],
          e_imp_kwh: 5120.4,
          e_exp_kwh: 88.1,
        },
        { meter_id: 'm-1', ts: iso(minute(1)), p_kw: 1.38, legs: [{ leg: 1, v: 231.1, i: 6.0 }] },
        { meter_id: 'm-2', ts: minute(0), p_kw: -0.8, legs: [{ leg: 1, v: 232.0, i: 3.5 }] },
      ],
    };
    const response = await post(sample, KEYS.sample);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({
      accepted: 3,
      rejected: 0,
      results: [
        { index: 0, status: 'accepted' },
        { index: 1, status: 'accepted' },
        { index: 2, status: 'accepted' },
      ],
    });
    await g.pipeline.settle();
    expect(
      await count(
        `SELECT count() AS n FROM readings FINAL WHERE meter_id IN ('m-1', 'm-2') AND toUnixTimestamp64Milli(ts) < ${minute(15)}`,
      ),
    ).toBe(3);
    const profile = await fetch(
      `${g.url}/v1/dt/dt-a/load-profile?from=${iso(minute(0))}&to=${iso(minute(15))}`,
      { headers: { 'x-api-key': KEYS.sample } },
    );
    expect(profile.status).toBe(200);
    const { slots } = (await profile.json()) as { slots: Array<{ readings: number }> };
    expect(slots.reduce((n, s) => n + s.readings, 0)).toBe(3);
  }, 60_000);

  it('accepts 50,000 records in one request, all of them in the warehouse', async () => {
    const records = [];
    for (let m = 0; m < 50_000 / BULK_METERS; m++)
      for (let k = 0; k < BULK_METERS; k++)
        records.push({
          meter_id: bulkMeter(k),
          ts: minute(m),
          p_kw: 1 + (k % 7) / 10,
          legs: [{ leg: 1, v: 230, i: 4.5 }],
        });
    expect(records).toHaveLength(50_000);
    const response = await post({ records }, KEYS.bulk);
    expect(response.status).toBe(202);
    const answer = (await response.json()) as Answer;
    expect(answer.accepted).toBe(50_000);
    expect(answer.rejected).toBe(0);
    expect(answer.results).toHaveLength(50_000);
    expect(answer.results[49_999]).toEqual({ index: 49_999, status: 'accepted' });
    await g.pipeline.settle(120_000);
    expect(await count("SELECT count() AS n FROM readings FINAL WHERE dt_id = 'dt-bulk'")).toBe(50_000);
  }, 180_000);

  it('refuses 50,001 records with a 400 naming records and the limit, before importing any', async () => {
    const record = { meter_id: 'm-3', ts: minute(300), p_kw: 1, legs: [] };
    const response = await post({ records: Array.from({ length: 50_001 }, () => record) }, KEYS.limit);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; message: string; fields: unknown[] };
    expect(body.error).toBe('bad_request');
    expect(body.message).toBe('records: must NOT have more than 50000 items');
    expect(body.fields).toEqual([{ field: 'records', problem: 'must NOT have more than 50000 items' }]);
    await g.pipeline.settle();
    expect(await count("SELECT count() AS n FROM readings FINAL WHERE meter_id = 'm-3'")).toBe(0);
  }, 60_000);

  it('rejects a bad record by its index, dead-lettered as MQTT would, and accepts the others', async () => {
    const records = [
      { meter_id: 'm-3', ts: minute(20), p_kw: 2, legs: [{ leg: 1, v: 230, i: 8 }] },
      { meter_id: 'm-3', ts: minute(21), p_kw: 'lots', legs: [] },
      { meter_id: 'm-3', ts: minute(22), p_kw: 2, legs: [{ leg: 7, v: 230, i: 8 }] },
      { meter_id: 'm-3', ts: minute(23), p_kw: 2.5, legs: [{ leg: 1, v: 230, i: 9 }] },
      { ts: minute(24), p_kw: 2, legs: [] },
      'not a record',
    ];
    const response = await post({ records }, KEYS.bad);
    expect(response.status).toBe(202);
    const answer = (await response.json()) as Answer;
    expect(answer.accepted).toBe(2);
    expect(answer.rejected).toBe(4);
    expect(answer.results.map((r) => [r.index, r.status, r.reason_code])).toEqual([
      [0, 'accepted', undefined],
      [1, 'rejected', 'schema'],
      [2, 'rejected', 'invalid_value'],
      [3, 'accepted', undefined],
      [4, 'rejected', 'schema'],
      [5, 'rejected', 'schema'],
    ]);
    expect(answer.results[1]!.reason).toMatch(/^p_kw: /);
    expect(answer.results[2]!.reason).toBe('legs[0].leg: 7 is not a leg number 0 to 6');
    expect(answer.results[4]!.reason).toBe('meter_id: expected a string');
    await g.pipeline.settle();
    expect(await count("SELECT count() AS n FROM readings FINAL WHERE meter_id = 'm-3'")).toBe(2);
    // The two invalid readings of m-3 are dead letters of its telemetry topic, as MQTT's would be.
    const dead = await g.edges.warehouse.query<{ reason_code: string; source_topic: string; raw: string }>(
      "SELECT reason_code, source_topic, raw FROM dead_letters FINAL WHERE key = 'm-3' ORDER BY reason_code",
    );
    expect(dead.map((d) => [d.reason_code, d.source_topic])).toEqual([
      ['invalid_value', 'gridstream/v1/meters/m-3/telemetry'],
      ['schema', 'gridstream/v1/meters/m-3/telemetry'],
    ]);
    expect(JSON.parse(dead[1]!.raw)).toEqual({ ts: minute(21), p_kw: 'lots', legs: [] });
  }, 60_000);

  it("rejects another tenant's meter and an unknown one alike, and accepts the key's own", async () => {
    const records = [
      { meter_id: 'm-1', ts: minute(40), p_kw: 9, legs: [] },
      { meter_id: 'm-9', ts: minute(40), p_kw: 3, legs: [] },
      { meter_id: 'm-nowhere', ts: minute(40), p_kw: 3, legs: [] },
    ];
    const response = await post({ records }, OTHER_TENANT_KEY);
    expect(response.status).toBe(202);
    const answer = (await response.json()) as Answer;
    expect(answer.results).toEqual([
      {
        index: 0,
        status: 'rejected',
        reason_code: 'not_found',
        reason: 'meter "m-1" is not on a transformer of tenant "utility-b"',
      },
      { index: 1, status: 'accepted' },
      {
        index: 2,
        status: 'rejected',
        reason_code: 'not_found',
        reason: 'meter "m-nowhere" is not on a transformer of tenant "utility-b"',
      },
    ]);
    await g.pipeline.settle();
    expect(
      await count(
        `SELECT count() AS n FROM readings FINAL WHERE toUnixTimestamp64Milli(ts) = ${minute(40)} AND meter_id IN ('m-1', 'm-9', 'm-nowhere')`,
      ),
    ).toBe(1);
    // Refused for tenancy, not dead-lettered: nothing is parked for a later topology to release.
    expect(await count("SELECT count() AS n FROM dead_letters FINAL WHERE key IN ('m-1', 'm-nowhere')")).toBe(
      0,
    );
  }, 60_000);

  it('allows one request per second per key: the next at once is a 429 with Retry-After', async () => {
    const body = { records: [{ meter_id: 'm-2', ts: minute(50), p_kw: 1, legs: [] }] };
    expect((await post(body, KEYS.rate)).status).toBe(202);
    const refused = await post(body, KEYS.rate);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: string }).error).toBe('rate_limited');
    // Another key is not held back by it.
    expect((await post(body, KEYS.sample)).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await post(body, KEYS.rate)).status).toBe(202);
  }, 30_000);

  it('allows one request in progress per key: another while its body is still arriving is a 429', async () => {
    const body = JSON.stringify({ records: [{ meter_id: 'm-2', ts: minute(51), p_kw: 1, legs: [] }] });
    // The first request's headers and half its body: it holds the key's one slot while the rest is awaited.
    const first = httpRequest(`${g.url}/v1/energy-consumption`, {
      method: 'POST',
      headers: {
        'x-api-key': KEYS.concurrent,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
    });
    const answered = new Promise<number>((resolve, reject) => {
      first.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      first.on('error', reject);
    });
    first.write(body.slice(0, 10));
    // Past the one request a second, so the refusal is the concurrency limit's.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const refused = await post(body, KEYS.concurrent);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: string }).error).toBe('concurrency_limited');
    first.end(body.slice(10));
    expect(await answered).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await post(body, KEYS.concurrent)).status).toBe(202);
  }, 30_000);
});
