import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../core/codec.js';
import { dtOperatingEnvelopeRow } from '../../io/warehouse/rows.js';
import { verifyWebhookSignature } from '../../io/webhooks/signature.js';
import { TOPICS } from '../../pipelines/log-topics.js';
import {
  apiCall,
  OTHER_TENANT_KEY,
  startTestGridstream,
  TEST_API_KEY,
  testMqttUrl,
  webhookDeliveries,
} from '../support/test-gridstream.js';
import { startReceiver, type Receiver, type ReceivedRequest } from '../support/http-receiver.js';
import { lifecycleStep } from '../support/lifecycle.js';
import { operatingEnvelope, stressRow } from '../support/records.js';
import { meter, transformer } from '../support/topology.js';

/**
 * Webhooks end to end on the embedded gridstream: subscriptions through the API, events from the pipeline (a
 * dispatch command over MQTT checked against its DT's envelope; stress rows on the stress topic as the stress
 * stage writes them), delivered to a real HTTP receiver here that verifies each signature as a subscriber does,
 * with retries and the delivery log.
 */
const START = Date.UTC(2026, 6, 1, 10);
const SLOT = 15 * 60_000;

/** The webhook body of a request the receiver had. */
interface WebhookBody {
  webhook_id: string;
  event_id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}
const bodyOf = (r: ReceivedRequest) => JSON.parse(r.raw) as WebhookBody;

/** What a subscriber does: checks the signature header over the raw body with its secret, and its age. */
function signatureValid(secret: string, r: ReceivedRequest): boolean {
  return verifyWebhookSignature(secret, r.raw, r.headers['gridstream-signature'] as string | undefined);
}

/** The receivers here are on loopback, which only the operator's allow-list opens to webhooks. */
const LOOPBACK_ALLOWED = { webhookAllow: '127.0.0.1' };

describe('webhooks', () => {
  let g: Awaited<ReturnType<typeof startTestGridstream>>;
  let receiver: Receiver;
  const call = (method: string, path: string, body?: unknown, key?: string | null) =>
    apiCall(g.url, method, path, body, key);
  const subscribe = async (path: string, event_types: string[], key = TEST_API_KEY) => {
    const response = await call('POST', '/v1/webhooks', { url: `${receiver.url}${path}`, event_types }, key);
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; secret: string; url: string; event_types: string[] };
  };
  const produceStress = (rows: Parameters<typeof stressRow>[]) =>
    g.edges.log.producer().send(
      TOPICS.stress.name,
      rows.map((args) => ({ key: args[0], value: encode('DtStress', stressRow(...args)) })),
    );

  beforeAll(async () => {
    // /a fails its first request with a 503 (then the retry gets through); /dead always answers 500;
    // /ordered answers its first request after 1.5 s.
    receiver = await startReceiver({
      status: (path, n) => (path === '/dead' ? 500 : path === '/a' && n === 1 ? 503 : 200),
      delayMs: (path, n) => (path === '/ordered' && n === 1 ? 1500 : 0),
    });
    g = await startTestGridstream({ ...LOOPBACK_ALLOWED, webhookMaxAttempts: 3, webhookBackoffMs: 200 });
    await g.pipeline.loadTopology(
      {
        transformers: [transformer('dt-a'), transformer('dt-o', { tenant: 'utility-b' })],
        meters: [meter('m-1', 'dt-a'), meter('m-o', 'dt-o')],
        assets: [
          { asset_id: 'bess-1', dt_id: 'dt-a', meter_id: 'm-1', asset_type: 'BESS', nominal_kw: 2000 },
        ],
      },
      'webhook test',
    );
  }, 120_000);
  afterAll(async () => {
    await g?.stop();
    await receiver?.close();
  });

  it('refuses bad subscriptions with a 400 naming the field, and requires a key', async () => {
    const cases: Array<[unknown, string]> = [
      [{ url: 'ftp://example.com/hook', event_types: ['STRESS.ALERT'] }, 'url'],
      [{ url: 'not a url', event_types: ['STRESS.ALERT'] }, 'url'],
      [{ url: 'https://example.com/hook', event_types: ['STRESS.PANIC'] }, 'event_types.0'],
      [{ url: 'https://example.com/hook', event_types: [] }, 'event_types'],
      [{ event_types: ['STRESS.ALERT'] }, 'url'],
      [{ url: 'https://example.com/hook', event_types: ['STRESS.ALERT'], colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const response = await call('POST', '/v1/webhooks', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const error = (await response.json()) as { fields: Array<{ field: string }> };
      expect(error.fields.map((f) => f.field)).toContain(field);
    }
    expect((await call('POST', '/v1/webhooks', cases[0]![0], null)).status).toBe(401);
  });

  it('sends a signed test event on request and logs it', async () => {
    const sub = await subscribe('/test', ['STRESS.ALERT']);
    expect(sub.secret).toMatch(/^whsec_/);
    const response = await call('POST', `/v1/webhooks/${sub.id}/test`);
    expect(response.status).toBe(200);
    const result = (await response.json()) as { event_id: string; delivered: boolean; http_status: number };
    expect(result).toMatchObject({ delivered: true, http_status: 200 });
    const got = receiver.received.find((r) => bodyOf(r).event_id === result.event_id)!;
    expect(bodyOf(got)).toMatchObject({ webhook_id: sub.id, type: 'WEBHOOK.TEST' });
    expect(got.headers['content-type']).toBe('application/json');
    expect(signatureValid(sub.secret, got)).toBe(true);
    expect(signatureValid('whsec_wrong', got)).toBe(false);
    expect(await webhookDeliveries(g.url, sub.id)).toEqual([
      expect.objectContaining({
        event_id: result.event_id,
        attempt: 1,
        outcome: 'delivered',
        http_status: 200,
      }),
    ]);
  });

  it("delivers each tenant's events only to its own subscriptions, signed, retrying a 503", async () => {
    const a = await subscribe('/a', ['STRESS.ALERT', 'ENVELOPE.VIOLATION', 'DISPATCH.REJECTED']);
    const b = await subscribe('/b', ['STRESS.ALERT', 'DISPATCH.REJECTED'], OTHER_TENANT_KEY);
    // dt-a: thermal stress forecast at 0.8 in its second slot, a voltage limit broken in its third.
    // dt-o (utility-b): thermal stress at 0.9 in its first slot.
    const calm = {
      thermal_stress_prob: 0.01,
      voltage_stress_prob: 0.01,
      thermal_exceeded: false,
      voltage_exceeded: false,
    };
    await produceStress([
      ['dt-a', START, calm],
      ['dt-o', START, { ...calm, thermal_stress_prob: 0.9 }],
      ['dt-a', START + SLOT, { ...calm, thermal_stress_prob: 0.8 }],
      ['dt-a', START + 2 * SLOT, { ...calm, thermal_stress_prob: 0.6, voltage_exceeded: true }],
    ]);
    // A dispatch of bess-1 (behind dt-a) exporting 1.25 MW into a slot whose envelope allows 800 kW more.
    await g.edges.warehouse.insert('dt_operating_envelopes', [
      dtOperatingEnvelopeRow(operatingEnvelope('dt-a', START + SLOT, START - SLOT, { export_kw: 800 })),
    ]);
    const client = await mqtt.connectAsync(testMqttUrl(g));
    await client.publishAsync(
      'gridstream/v1/dispatch/bess-1',
      JSON.stringify({
        event_id: '0b6c2a10-0000-4000-8000-0000000000aa',
        asset_id: 'bess-1',
        dispatch_time: new Date(START).toISOString(),
        delivery_period_start: new Date(START + SLOT).toISOString(),
        target_power: { amount: '1.25', unit: 'MW' },
      }),
      { qos: 1 },
    );
    await client.endAsync();

    const delivered = (path: string) => receiver.received.filter((r) => r.path === path);
    const types = (path: string) => new Set(delivered(path).map((r) => bodyOf(r).type));
    await receiver.until(
      () => types('/a').size === 3 && types('/b').size === 1 && delivered('/a').length === 4,
      "dt-a's three events (one retried) at /a and dt-o's alert at /b",
    );
    // Every request is signed with its subscription's secret and names it.
    for (const r of delivered('/a')) expect(signatureValid(a.secret, r), r.raw).toBe(true);
    for (const r of delivered('/b')) expect(signatureValid(b.secret, r), r.raw).toBe(true);
    expect(delivered('/a').every((r) => bodyOf(r).webhook_id === a.id)).toBe(true);

    // As a receiver does: each event once, however often it came (the retried one came twice).
    const byType = (path: string, type: string) =>
      delivered(path).filter(
        (r, k, all) =>
          bodyOf(r).type === type && all.findIndex((x) => bodyOf(x).event_id === bodyOf(r).event_id) === k,
      );
    expect(byType('/a', 'STRESS.ALERT').map((r) => bodyOf(r).data)).toEqual([
      expect.objectContaining({
        dt_id: 'dt-a',
        kind: 'thermal',
        probability: 0.8,
        slot_start: '2026-07-01T10:15:00.000Z',
      }),
    ]);
    expect(byType('/a', 'ENVELOPE.VIOLATION').map((r) => bodyOf(r).data)).toEqual([
      expect.objectContaining({
        dt_id: 'dt-a',
        voltage_exceeded: true,
        slot_start: '2026-07-01T10:30:00.000Z',
      }),
    ]);
    expect(byType('/b', 'STRESS.ALERT').map((r) => bodyOf(r).data)).toEqual([
      expect.objectContaining({ dt_id: 'dt-o', probability: 0.9 }),
    ]);
    // The first request to /a got a 503: the same event, byte for byte, came again as attempt 2.
    const first = delivered('/a')[0]!;
    const second = delivered('/a').find((r) => r.headers['gridstream-delivery-attempt'] === '2');
    expect(second!.raw).toBe(first.raw);
    expect(first.headers['gridstream-delivery-attempt']).toBe('1');
    expect(second!.headers['gridstream-delivery-attempt']).toBe('2');
    const rejected = byType('/a', 'DISPATCH.REJECTED').map((r) => bodyOf(r));
    expect(rejected.at(-1)).toMatchObject({
      event_id: 'DISPATCH.REJECTED:0b6c2a10-0000-4000-8000-0000000000aa:bess-1',
      data: { asset_id: 'bess-1', dt_id: 'dt-a', requested_kw: 1250, headroom_kw: 800 },
    });

    const log = await webhookDeliveries(g.url, a.id, 4);
    expect(log.filter((d) => d.outcome === 'retrying')).toEqual([
      expect.objectContaining({ event_id: bodyOf(first).event_id, attempt: 1, http_status: 503 }),
    ]);
    expect(log.filter((d) => d.outcome === 'delivered')).toHaveLength(3);
    expect(log.find((d) => d.outcome === 'retrying')!.next_attempt_at).toEqual(expect.any(String));
  });

  it('gives up after the last attempt and logs every one', async () => {
    const dead = await subscribe('/dead', ['ENVELOPE.VIOLATION']);
    await produceStress([['dt-a', START + 10 * SLOT, { thermal_exceeded: true, voltage_exceeded: false }]]);
    await receiver.until((r) => r.filter((x) => x.path === '/dead').length === 3, 'three attempts at /dead');
    const log = await webhookDeliveries(g.url, dead.id, 3);
    expect(log.map((d) => [d.attempt, d.outcome, d.http_status])).toEqual([
      [3, 'failed', 500],
      [2, 'retrying', 500],
      [1, 'retrying', 500],
    ]);
    expect(log[0]!.next_attempt_at).toBeNull();
  });

  it("delivers a flexibility event's steps to its tenant's subscriptions in sequence order, the first answered slowly", async () => {
    const steps = ['SCHEDULED', 'BASELINES_READY', 'STARTED', 'ENDED'] as const;
    const ordered = await subscribe(
      '/ordered',
      steps.map((t) => `EVENT.${t}`),
    );
    const other = await subscribe('/other-events', ['EVENT.SCHEDULED'], OTHER_TENANT_KEY);
    const id = '7f3e0c52-0000-4000-8000-0000000000e1';
    // One batch: all four steps are queued together, and each must still wait for the one before.
    await g.edges.log.producer().send(
      TOPICS.eventLifecycle.name,
      steps.map((type, k) => ({
        key: id,
        value: encode('FlexEventLifecycle', lifecycleStep(id, type, k + 1, START)),
      })),
    );
    const at = (path: string) => receiver.received.filter((r) => r.path === path);
    await receiver.until(() => at('/ordered').length === 4, 'four steps at /ordered');
    const got = at('/ordered');
    expect(got.map((r) => bodyOf(r).event_id)).toEqual(
      steps.map((type, k) => `EVENT.${type}:${id}:${k + 1}`),
    );
    expect(got.map((r) => bodyOf(r).data.sequence)).toEqual([1, 2, 3, 4]);
    // The second step was sent only once the first (answered after 1.5 s) had its answer.
    expect(got[1]!.at).toBeGreaterThanOrEqual(got[0]!.answeredAt!);
    expect(got[0]!.answeredAt! - got[0]!.at).toBeGreaterThanOrEqual(1400);
    for (const r of got) expect(signatureValid(ordered.secret, r)).toBe(true);
    expect(bodyOf(got[2]!)).toMatchObject({
      webhook_id: ordered.id,
      type: 'EVENT.STARTED',
      timestamp: new Date(lifecycleStep(id, 'STARTED', 3, START).at_ms).toISOString(),
      data: { event_id: id, status: 'STARTED', asset_ids: ['bess-1'], start: new Date(START).toISOString() },
    });
    // The event is the default tenant's: utility-b's subscription to EVENT.SCHEDULED gets none of it.
    await g.pipeline.settle();
    expect(at('/other-events')).toEqual([]);
    expect(await webhookDeliveries(g.url, other.id, 0, OTHER_TENANT_KEY)).toEqual([]);
  });

  it("keeps subscriptions per tenant: another tenant's id is a 404, a deleted one is gone", async () => {
    const sub = await subscribe('/gone', ['IMPEDANCE.ALERT']);
    expect((await call('GET', `/v1/webhooks/${sub.id}`, undefined, OTHER_TENANT_KEY)).status).toBe(404);
    expect((await call('DELETE', `/v1/webhooks/${sub.id}`, undefined, OTHER_TENANT_KEY)).status).toBe(404);
    const other = (await (await call('GET', '/v1/webhooks', undefined, OTHER_TENANT_KEY)).json()) as {
      webhooks: Array<{ id: string }>;
    };
    expect(other.webhooks.map((w) => w.id)).not.toContain(sub.id);
    const listed = (await (await call('GET', '/v1/webhooks')).json()) as {
      webhooks: Array<{ id: string; secret?: string; event_types: string[] }>;
    };
    expect(listed.webhooks.find((w) => w.id === sub.id)).toEqual(
      expect.objectContaining({ event_types: ['IMPEDANCE.ALERT'] }),
    );
    expect(listed.webhooks.every((w) => w.secret === undefined)).toBe(true);
    expect((await call('DELETE', `/v1/webhooks/${sub.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/webhooks/${sub.id}`)).status).toBe(404);
    expect((await call('POST', `/v1/webhooks/${encodeURIComponent("x' OR 1=1 --")}/test`)).status).toBe(404);
  });
});

describe('webhook retries across a restart', () => {
  it('resumes a retry the delivery log holds after the sender restarts, with the same body', async () => {
    // The first request fails; the retry is due 4 s later, after the restart.
    const receiver = await startReceiver({ status: (_path, n) => (n === 1 ? 503 : 200) });
    const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-webhooks-'));
    const config = { ...LOOPBACK_ALLOWED, dataDir, webhookMaxAttempts: 3, webhookBackoffMs: 4000 };
    try {
      const first = await startTestGridstream(config);
      let subscription: { id: string; secret: string };
      try {
        await first.pipeline.loadTopology(
          { transformers: [transformer('dt-a')], meters: [meter('m-1', 'dt-a')] },
          'webhook restart test',
        );
        const response = await fetch(`${first.url}/v1/webhooks`, {
          method: 'POST',
          headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' },
          body: JSON.stringify({ url: `${receiver.url}/later`, event_types: ['ENVELOPE.VIOLATION'] }),
        });
        subscription = (await response.json()) as typeof subscription;
        await first.edges.log.producer().send(TOPICS.stress.name, [
          {
            key: 'dt-a',
            value: encode('DtStress', stressRow('dt-a', START, { thermal_exceeded: true })),
          },
        ]);
        await receiver.until((r) => r.length === 1, 'the first attempt');
        await first.pipeline.settle();
      } finally {
        await first.stop();
      }
      // The in-process log starts empty: only the delivery log can bring the event back.
      const second = await startTestGridstream(config);
      try {
        await receiver.until((r) => r.length === 2, 'the retry after the restart', 20_000);
        const [attempt1, attempt2] = receiver.received;
        expect(attempt2!.raw).toBe(attempt1!.raw);
        expect(attempt2!.headers['gridstream-delivery-attempt']).toBe('2');
        expect(signatureValid(subscription!.secret, attempt2!)).toBe(true);
        const rows = await webhookDeliveries(second.url, subscription!.id, 2);
        expect(rows.map((d) => [d.attempt, d.outcome])).toEqual([
          [2, 'delivered'],
          [1, 'retrying'],
        ]);
      } finally {
        await second.stop();
      }
    } finally {
      await receiver.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
