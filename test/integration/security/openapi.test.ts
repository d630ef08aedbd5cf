import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PARAM_LENGTH } from '../../../api/server.js';
import { SLOT_MS } from '../../../core/time.js';
import { dtOperatingEnvelopeRow } from '../../../io/warehouse/rows.js';
import { startTestGridstream, TEST_API_KEY, testMqttUrl } from '../../support/test-gridstream.js';
import { checkAnswer, checkOpenapi, run } from '../../support/openapi.js';
import { operatingEnvelope } from '../../support/records.js';
import { meter, transformer } from '../../support/topology.js';

const CONFIG = fileURLToPath(new URL('./schemathesis.toml', import.meta.url));
/** Generated requests per operation: enough to reach past validation, small enough for ~2 minutes on 2 busy cores. */
const MAX_EXAMPLES = 25;

/**
 * The API as a property-based fuzzer (Schemathesis) sees it through its OpenAPI document: a real embedded
 * gridstream whose topology and operating envelope let generated requests reach the judges, not only 404s.
 */
describe('OpenAPI conformance under a property-based attack', () => {
  let g: Awaited<ReturnType<typeof startTestGridstream>>;
  const send = (path: string, init: RequestInit = {}) =>
    fetch(`${g.url}${path}`, {
      ...init,
      headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json', ...init.headers },
    });

  beforeAll(async () => {
    // The fuzzer sends requests without a valid key on purpose, far more than the failed-authentication
    // throttle lets one address make (security/api.test.ts tests the throttle): it is set out of the way.
    g = await startTestGridstream({
      allowedLatenessS: 3600,
      apiAuthFailureRate: 10_000,
      apiAuthFailureBurst: 1_000_000,
    });
    await g.pipeline.loadTopology(
      {
        transformers: [
          transformer('dt-a'),
          transformer('dt-b'),
          transformer('dt-other', { tenant: 'utility-b' }),
        ],
        meters: [meter('m-1', 'dt-a'), meter('m-2', 'dt-a'), meter('m-3', 'dt-b')],
      },
      'openapi test',
    );
    const client = await mqtt.connectAsync(testMqttUrl(g));
    const start = Math.floor(Date.now() / SLOT_MS) * SLOT_MS - 2 * SLOT_MS;
    for (let m = 0; m < 30; m++)
      await client.publishAsync(
        'gridstream/v1/meters/m-1/telemetry',
        JSON.stringify({
          ts: new Date(start + m * 60_000).toISOString(),
          p_kw: 2,
          legs: [{ leg: 1, v: 230, i: 8.7 }],
        }),
        { qos: 1 },
      );
    await client.endAsync();
    // dt-a's operating envelope for the next 24 h, as the stress stage would store it: the judges answer for it.
    const issued = Math.floor(Date.now() / SLOT_MS) * SLOT_MS;
    await g.edges.warehouse.insert(
      'dt_operating_envelopes',
      Array.from({ length: 96 }, (_, k) =>
        dtOperatingEnvelopeRow(operatingEnvelope('dt-a', issued + (k + 1) * SLOT_MS, issued)),
      ),
    );
    await g.pipeline.settle();
  });
  afterAll(() => g?.stop());

  it('serves a document that standard validators accept as OpenAPI 3.1 (the fuzzer refused four request schemas)', async () => {
    const doc = await (await fetch(`${g.url}/openapi.json`)).json();
    const checked = await checkOpenapi(doc);
    expect(checked.code, checked.output).toBe(0);
  });

  it('answers generated valid and malformed requests to every operation with no 5xx, within 2 s, a declared status and a body matching its schema', async () => {
    const fuzz = await run(
      'python3',
      [
        ...['-m', 'schemathesis.cli', '--config-file', CONFIG, 'run', `${g.url}/openapi.json`],
        ...['--header', `X-API-Key: ${TEST_API_KEY}`, '--checks', 'all'],
        // JSON bodies are validated with type coercion (null is taken as "", 0 or false), which this check
        // reports as accepted invalid data: known, and not what this test is about.
        ...['--exclude-checks', 'negative_data_rejection'],
        ...['--max-response-time', '2', '--max-examples', String(MAX_EXAMPLES), '--workers', '1'],
        ...['--request-timeout', '10', '--generation-database', 'none', '--no-color'],
      ],
      // Its crash cache goes to a directory of its own, not the work tree.
      { timeoutMs: 280_000, cwd: g.dataDir },
    );
    // Schemathesis exits 1 on any failed check; its summary names each, with a curl command to replay it.
    expect(fuzz.code, fuzz.output.slice(-12_000)).toBe(0);
    expect(fuzz.output).toMatch(/Tested: +36\b/); // every operation but the two webhook ones left out
    const generated = Number(/(\d+) generated/.exec(fuzz.output)?.[1] ?? 0);
    expect(generated, fuzz.output.slice(-3000)).toBeGreaterThan(20 * MAX_EXAMPLES);
  }, 300_000);

  it('answers real data (the judges for a DT with an envelope, its series, in memory or not) with bodies matching their schemas', async () => {
    const doc = await (await fetch(`${g.url}/openapi.json`)).json();
    const asked: Array<[string, string, string, unknown?]> = [
      ['GET', '/v1/dt', '/v1/dt'],
      ['GET', '/v1/dt/{id}/load-profile', '/v1/dt/dt-a/load-profile?days=2'],
      ['GET', '/v1/dt/{id}/load-profile', '/v1/dt/dt-b/load-profile?days=2'],
      ['GET', '/v1/dt/{id}/stress', '/v1/dt/dt-a/stress'],
      ['GET', '/v1/dt/{id}/envelopes', '/v1/dt/dt-a/envelopes'],
      ['GET', '/v1/dt/{id}/envelopes', '/v1/dt/dt-a/envelopes?min_data_quality=ami-direct'],
      ['GET', '/v1/dt/{id}/stress', '/v1/dt/dt-other/stress'],
      [
        'POST',
        '/v1/dt/hosting-capacity',
        '/v1/dt/hosting-capacity',
        {
          dt_id: 'dt-a',
          additions: [
            { type: 'ev', kw: 7.4, schedule: '23:00-05:00' },
            { type: 'pv', kw: 60 },
          ],
        },
      ],
      [
        'POST',
        '/v1/dt/hosting-capacity',
        '/v1/dt/hosting-capacity',
        { dt_id: 'dt-b', additions: [{ type: 'ev', kw: 1 }] },
      ],
      [
        'POST',
        '/v1/rooftop/sanction-check',
        '/v1/rooftop/sanction-check',
        { dt_id: 'dt-a', pv_kwp: 80, export_limit_kw: 30 },
      ],
      [
        'POST',
        '/v1/ev/site-screen',
        '/v1/ev/site-screen',
        {
          latitude: 12.97,
          longitude: 77.59,
          station_kw: 22,
          dwell: { schedule: '18:00-22:00' },
        },
      ],
      [
        'POST',
        '/v1/feeder/stress',
        '/v1/feeder/stress',
        {
          feeder_id: 'f1',
          scenario: { load_growth_pct: 20, additions: [{ dt_id: 'dt-a', type: 'heat_pump', kw: 5 }] },
        },
      ],
      ['POST', '/v1/impedance/on-demand', '/v1/impedance/on-demand', { Transformer: 'dt-a' }],
    ];
    const statuses = [];
    for (const [method, template, url, body] of asked) {
      const response = await send(url, { method, ...(body ? { body: JSON.stringify(body) } : {}) });
      statuses.push(response.status);
      const checked = await checkAnswer(doc, {
        path: template,
        method,
        status: response.status,
        body: await response.json(),
      });
      expect(checked.code, `${method} ${url}: ${checked.output}`).toBe(0);
    }
    // The judges answered for dt-a; dt-b has no envelope (a modelled answer from its nameplate, 200), dt-other is
    // another tenant's (404, as if unknown), dt-a is below ami-direct (422).
    expect(statuses).toEqual([200, 200, 200, 200, 200, 422, 404, 200, 200, 200, 200, 200, 200]);
  });

  it('refuses an empty topology load at once with 400 and loads assets alone at once, where it hung for a version that never came', async () => {
    const started = Date.now();
    const response = await send('/v1/topology', { method: 'POST', body: '{}' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_topology' });
    expect(Date.now() - started).toBeLessThan(2000);
    // Assets alone (placed behind a loaded DT) load at once as well: no transformer or meter carries the version.
    const assets = await send('/v1/topology', {
      method: 'POST',
      body: JSON.stringify({ assets: [{ asset_id: 'bess-9', dt_id: 'dt-a', asset_type: 'BESS' }] }),
    });
    expect(assets.status).toBe(201);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('refuses a paging offset past 2^53 with 400 naming it, not a 500 from the warehouse', async () => {
    const response = await send('/v1/webhooks/some-id/deliveries?offset=32589158477190044729');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ fields: [{ field: 'offset' }] });
  });

  it('answers a method a known path does not serve with 405 and Allow, not 404', async () => {
    for (const method of ['PUT', 'PATCH', 'OPTIONS']) {
      const response = await send('/v1/dt/dt-a/stress', { method });
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
      expect(await response.json()).toMatchObject({ error: 'method_not_allowed' });
    }
    const unknown = await fetch(`${g.url}/v1/no-such-route`, {
      method: 'PUT',
      headers: { 'x-api-key': TEST_API_KEY },
    });
    expect(unknown.status).toBe(404);
  });

  it('takes a 128-character DT id as the schema allows (a 404 for an unknown DT), and refuses a longer one with the error body', async () => {
    const id = '\u{1F50C}'.repeat(128); // 4 UTF-8 bytes each: 12 characters percent-encoded
    const valid = await send(`/v1/dt/${encodeURIComponent(id)}/stress`);
    expect(valid.status).toBe(404);
    const tooLong = await send(`/v1/dt/${encodeURIComponent(id + 'x')}/stress`);
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({ error: 'bad_request', fields: [{ field: 'id' }] });
    const overRouter = await send(`/v1/dt/${'x'.repeat(MAX_PARAM_LENGTH + 1)}/stress`);
    expect(overRouter.status).toBe(414);
    expect(await overRouter.json()).toEqual({
      error: expect.any(String),
      message: expect.any(String),
      request_id: expect.any(String),
    });
  });
});
