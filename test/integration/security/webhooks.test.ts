import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../../core/codec.js';
import { saveSubscription } from '../../../io/webhooks/store.js';
import {
  verifyWebhookSignature,
  webhookSignatureProblem,
  WEBHOOK_SIGNATURE_TOLERANCE_S,
} from '../../../io/webhooks/signature.js';
import { TOPICS } from '../../../pipelines/log-topics.js';
import {
  apiCall,
  OTHER_TENANT_KEY,
  startTestGridstream,
  TEST_API_KEY,
  webhookDeliveries,
} from '../../support/test-gridstream.js';
import { startReceiver, type Receiver, type ReceivedRequest } from '../../support/http-receiver.js';
import { stressRow } from '../../support/records.js';
import { meter, transformer } from '../../support/topology.js';

/**
 * Attacks on webhooks against the real embedded gridstream: a tenant aiming them at the operator's own
 * network (server-side request forgery) in every notation, directly or by a host name that resolves there
 * at delivery; reading a receiver's answer through the test endpoint; replaying a captured delivery; and
 * secret rotation. The operator allows one internal receiver, 127.0.0.2 (GRIDSTREAM_WEBHOOK_ALLOW): the
 * rest of loopback stays closed, and a canary service on 127.0.0.1 proves nothing reached it.
 */
const START = Date.UTC(2026, 6, 1, 10);
const SLOT = 15 * 60_000;
/** What the receivers answer: text a tenant must never see through the API. */
const INTERNAL_ANSWER = 'INTERNAL-ONLY: clickhouse default user, no password';

const signature = (r: ReceivedRequest) => r.headers['gridstream-signature'] as string | undefined;
const v1s = (r: ReceivedRequest) => (signature(r) ?? '').split(',').filter((p) => p.startsWith('v1='));
const timestampOf = (r: ReceivedRequest) => Number(/(?:^|,)t=(\d+)/.exec(signature(r) ?? '')?.[1]);

describe('security: webhooks', () => {
  let g: Awaited<ReturnType<typeof startTestGridstream>>;
  /** The operator's allowed receiver. */
  let receiver: Receiver;
  /** An internal service on loopback no webhook may reach. */
  let canary: Receiver;
  const call = (method: string, path: string, body?: unknown, key?: string) =>
    apiCall(g.url, method, path, body, key);
  const subscribe = async (url: string, event_types = ['ENVELOPE.VIOLATION'], key = TEST_API_KEY) => {
    const response = await call('POST', '/v1/webhooks', { url, event_types }, key);
    expect(response.status, url).toBe(201);
    return (await response.json()) as { id: string; secret: string };
  };
  /** A subscription written straight to the warehouse: one made before the policy, or whose DNS changed since. */
  const storedSubscription = async (id: string, url: string) => {
    await saveSubscription(
      g.edges.warehouse,
      {
        tenant: 'default',
        id,
        url,
        event_types: ['ENVELOPE.VIOLATION'],
        description: 'made before the egress policy',
        created_ms: Date.now(),
        secret: `whsec_${id}`,
      },
      { at: Date.now(), deleted: false },
    );
    g.pipeline.webhooks?.refreshSubscriptions();
  };
  const test = async (id: string) => {
    const response = await call('POST', `/v1/webhooks/${id}/test`);
    expect(response.status).toBe(200);
    return { raw: await response.text() };
  };
  const deliveries = (id: string, rows: number) => webhookDeliveries(g.url, id, rows);
  let slot = 0;
  /** An ENVELOPE.VIOLATION event of dt-a (tenant default), through the pipeline. */
  const violation = () =>
    g.edges.log.producer().send(TOPICS.stress.name, [
      {
        key: 'dt-a',
        value: encode('DtStress', stressRow('dt-a', START + slot++ * SLOT, { thermal_exceeded: true })),
      },
    ]);

  beforeAll(async () => {
    receiver = await startReceiver({
      host: '127.0.0.2',
      status: (path) => (path === '/fails' ? 500 : path === '/flaky' ? 503 : 200),
      answer: INTERNAL_ANSWER,
    });
    canary = await startReceiver({ answer: INTERNAL_ANSWER });
    g = await startTestGridstream({
      webhookAllow: '127.0.0.2',
      webhookMaxAttempts: 2,
      webhookBackoffMs: 1100,
    });
    await g.pipeline.loadTopology(
      { transformers: [transformer('dt-a')], meters: [meter('m-1', 'dt-a')] },
      'webhook security test',
    );
  }, 120_000);
  afterAll(async () => {
    await g?.stop();
    await receiver?.close();
    await canary?.close();
  });

  const SSRF_URLS = [
    'http://127.0.0.1:1/',
    'http://localhost:8123/?query=SELECT%20*%20FROM%20system.users',
    'http://[::1]/',
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://2130706433/',
    'http://0x7f.0.0.1/',
    'http://0177.0.0.1/',
    'http://127.1/',
    'http://10.0.0.1/',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://[64:ff9b::7f00:1]/',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'http://0.0.0.0:1/',
    'http://255.255.255.255/',
    'http://224.0.0.1/',
  ];

  it.each(SSRF_URLS.map((url, k) => [url, k] as const))(
    'refuses a webhook to %s at subscription and at delivery',
    async (url, k) => {
      const response = await call('POST', '/v1/webhooks', { url, event_types: ['STRESS.ALERT'] });
      expect(response.status).toBe(400);
      const error = (await response.json()) as {
        message: string;
        fields: Array<{ field: string; problem: string }>;
      };
      expect(error.fields).toEqual([
        {
          field: 'url',
          problem: expect.stringMatching(
            /^is not a permitted webhook receiver: .+ GRIDSTREAM_WEBHOOK_ALLOW\)$/,
          ),
        },
      ]);
      // Had it been subscribed before (or its DNS changed since), the sender still refuses it, without sending.
      await storedSubscription(`ssrf-${k}`, url);
      const result = JSON.parse((await test(`ssrf-${k}`)).raw) as Record<string, unknown>;
      expect(result).toMatchObject({ delivered: false, http_status: 0 });
      expect(result.error).toMatch(/^refused by the egress policy: /);
      expect((await deliveries(`ssrf-${k}`, 1))[0]).toMatchObject({ outcome: 'failed', http_status: 0 });
    },
  );

  it('refuses every loopback notation aimed at a listening internal service, which receives nothing', async () => {
    const p = canary.port;
    const aimed = [
      `http://127.0.0.1:${p}/`,
      `http://localhost:${p}/`,
      `http://2130706433:${p}/`,
      `http://0x7f.0.0.1:${p}/`,
      `http://0177.0.0.1:${p}/`,
      `http://127.1:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
    ];
    for (const [k, url] of aimed.entries()) {
      expect((await call('POST', '/v1/webhooks', { url, event_types: ['STRESS.ALERT'] })).status, url).toBe(
        400,
      );
      await storedSubscription(`aimed-${k}`, url);
      expect(JSON.parse((await test(`aimed-${k}`)).raw), url).toMatchObject({
        delivered: false,
        http_status: 0,
      });
    }
    expect(canary.received).toEqual([]);
  });

  it('refuses at delivery a host name that resolves to loopback (DNS rebinding), logging a failed attempt that is not retried', async () => {
    // Subscribed when the name pointed elsewhere; it now resolves to the internal service's address.
    await storedSubscription('rebound', `http://localhost:${canary.port}/hook`);
    await violation();
    const log = await deliveries('rebound', 1);
    expect(log).toEqual([
      expect.objectContaining({
        attempt: 1,
        outcome: 'failed',
        http_status: 0,
        error: expect.stringMatching(
          /^refused by the egress policy: localhost resolves to a loopback address$/,
        ),
        next_attempt_at: null,
      }),
    ]);
    // Not retried: two attempts are allowed, 1.1 s apart.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await deliveries('rebound', 0)).toHaveLength(1);
    expect(canary.received).toEqual([]);
  });

  it("answers POST /v1/webhooks/{id}/test with the delivery's status only, never the receiver's body", async () => {
    for (const [path, delivered, status] of [
      ['/ok', true, 200],
      ['/fails', false, 500],
    ] as const) {
      const sub = await subscribe(`${receiver.url}${path}`);
      const { raw } = await test(sub.id);
      expect(raw).not.toContain('INTERNAL-ONLY');
      const result = JSON.parse(raw) as Record<string, unknown>;
      expect(Object.keys(result).sort()).toEqual([
        'delivered',
        'duration_ms',
        'error',
        'event_id',
        'http_status',
      ]);
      expect(result).toMatchObject({
        delivered,
        http_status: status,
        error: delivered ? '' : `HTTP ${status}`,
      });
      const log = await call('GET', `/v1/webhooks/${sub.id}/deliveries`);
      expect(await log.text()).not.toContain('INTERNAL-ONLY');
    }
  });

  it('signs each attempt with its own timestamp, so a captured delivery replayed after the tolerance is rejected', async () => {
    const sub = await subscribe(`${receiver.url}/flaky`);
    await violation();
    await receiver.until((r) => r.filter((x) => x.path === '/flaky').length === 2, 'two attempts at /flaky');
    const [first, retry] = receiver.received.filter((x) => x.path === '/flaky');
    for (const r of [first!, retry!])
      expect(verifyWebhookSignature(sub.secret, r.raw, signature(r))).toBe(true);
    // The retry 1.1 s later is signed anew: same body, a later timestamp.
    expect(retry!.raw).toBe(first!.raw);
    expect(timestampOf(retry!)).toBeGreaterThan(timestampOf(first!));
    // The same bytes replayed past the tolerance: rejected.
    const replayedAt = (timestampOf(first!) + WEBHOOK_SIGNATURE_TOLERANCE_S + 1) * 1000;
    expect(webhookSignatureProblem(sub.secret, first!.raw, signature(first!), { nowMs: replayedAt })).toMatch(
      /s old \(more than 300 s\): a replay/,
    );
    // Nor can the replayer paste in a fresh timestamp: the signature covers it.
    const fresh = timestampOf(first!) + 100;
    const forged = signature(first!)!.replace(/t=\d+/, `t=${fresh}`);
    expect(webhookSignatureProblem(sub.secret, first!.raw, forged, { nowMs: fresh * 1000 })).toBe(
      'no v1= signature matches this secret and body',
    );
  });

  it('rotates a secret: both signatures during the window, on tests and pipeline deliveries; only the new one after', async () => {
    const sub = await subscribe(`${receiver.url}/rotating`);
    expect((await call('POST', `/v1/webhooks/${sub.id}/rotate-secret`, {}, OTHER_TENANT_KEY)).status).toBe(
      404,
    );
    expect(
      (await call('POST', `/v1/webhooks/${sub.id}/rotate-secret`, { expire_previous_in_s: -1 })).status,
    ).toBe(400);
    const rotatedAt = Date.now();
    const response = await call('POST', `/v1/webhooks/${sub.id}/rotate-secret`, { expire_previous_in_s: 4 });
    expect(response.status).toBe(200);
    const rotated = (await response.json()) as {
      id: string;
      secret: string;
      previous_secret_expires_at: string;
    };
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(sub.secret);
    expect(Date.parse(rotated.previous_secret_expires_at) - rotatedAt).toBeGreaterThanOrEqual(3000);
    const expiresMs = Date.parse(rotated.previous_secret_expires_at);

    const at = (path: string) => receiver.received.filter((r) => r.path === path);
    // During the window: the test endpoint and the pipeline's sender sign with both.
    await test(sub.id);
    await violation();
    await receiver.until((r) => r.filter((x) => x.path === '/rotating').length === 2, 'a test and an event');
    for (const r of at('/rotating')) {
      expect(r.at).toBeLessThan(expiresMs);
      expect(v1s(r)).toHaveLength(2);
      expect(verifyWebhookSignature(rotated.secret, r.raw, signature(r))).toBe(true);
      expect(verifyWebhookSignature(sub.secret, r.raw, signature(r))).toBe(true);
    }
    // After it: the new secret only.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresMs - Date.now() + 100)));
    await test(sub.id);
    await violation();
    await receiver.until((r) => r.filter((x) => x.path === '/rotating').length === 4, 'a test and an event');
    for (const r of at('/rotating').slice(2)) {
      expect(v1s(r)).toHaveLength(1);
      expect(verifyWebhookSignature(rotated.secret, r.raw, signature(r))).toBe(true);
      expect(verifyWebhookSignature(sub.secret, r.raw, signature(r))).toBe(false);
    }
    // A rotation that ends the old secret at once.
    const now = (await (
      await call('POST', `/v1/webhooks/${sub.id}/rotate-secret`, { expire_previous_in_s: 0 })
    ).json()) as { secret: string; previous_secret_expires_at: string | null };
    expect(now.previous_secret_expires_at).toBeNull();
    await test(sub.id);
    const last = at('/rotating').at(-1)!;
    expect(v1s(last)).toHaveLength(1);
    expect(verifyWebhookSignature(now.secret, last.raw, signature(last))).toBe(true);
  });

  it('rotates with a 24 h window by default, with or without a body', async () => {
    const sub = await subscribe(`${receiver.url}/default-window`);
    for (const body of [undefined, {}]) {
      const before = Date.now();
      const response = await call('POST', `/v1/webhooks/${sub.id}/rotate-secret`, body);
      expect(response.status).toBe(200);
      const rotated = (await response.json()) as { previous_secret_expires_at: string };
      expect(Date.parse(rotated.previous_secret_expires_at) - before).toBeGreaterThanOrEqual(
        86_400_000 - 1000,
      );
    }
  });
});
