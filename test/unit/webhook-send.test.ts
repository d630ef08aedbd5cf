import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nextAttemptDelay, webhookBody } from '../../io/webhooks/send.js';
import {
  secretsInForce,
  signWebhookBody,
  verifyWebhookSignature,
  webhookSignatureProblem,
  WEBHOOK_SIGNATURE_TOLERANCE_S,
} from '../../io/webhooks/signature.js';

describe('webhook signatures and retries', () => {
  const body = '{"event_id":"e-1","type":"STRESS.ALERT"}';
  const T = 1_780_000_000;
  const at = (s: number) => ({ nowMs: s * 1000 });

  it('signs "<t>.<raw body>" with HMAC-SHA256 of each secret, as t=<unix s>,v1=<hex>[,v1=<hex>]', () => {
    const hex = (secret: string) => createHmac('sha256', secret).update(`${T}.${body}`).digest('hex');
    expect(signWebhookBody(['whsec_test'], body, T)).toBe(`t=${T},v1=${hex('whsec_test')}`);
    expect(signWebhookBody(['whsec_new', 'whsec_old'], body, T)).toBe(
      `t=${T},v1=${hex('whsec_new')},v1=${hex('whsec_old')}`,
    );
  });

  it('verifies a signature of the right secret and body within the tolerance, and says why not otherwise', () => {
    const header = signWebhookBody(['whsec_test'], body, T);
    expect(verifyWebhookSignature('whsec_test', body, header, at(T + 10))).toBe(true);
    expect(webhookSignatureProblem('whsec_other', body, header, at(T))).toBe(
      'no v1= signature matches this secret and body',
    );
    expect(verifyWebhookSignature('whsec_test', body + ' ', header, at(T))).toBe(false);
    expect(webhookSignatureProblem('whsec_test', body, undefined, at(T))).toBe('no signature header');
    expect(webhookSignatureProblem('whsec_test', body, header.replace(/^t=\d+,/, ''), at(T))).toMatch(
      /no timestamp/,
    );
    // The timestamp is signed: moving it forward breaks the signature.
    expect(
      verifyWebhookSignature('whsec_test', body, header.replace(`t=${T}`, `t=${T + 60}`), at(T + 60)),
    ).toBe(false);
  });

  it('rejects a replay older than the tolerance (300 s by default) and a timestamp too far ahead', () => {
    expect(WEBHOOK_SIGNATURE_TOLERANCE_S).toBe(300);
    const header = signWebhookBody(['whsec_test'], body, T);
    expect(verifyWebhookSignature('whsec_test', body, header, at(T + 300))).toBe(true);
    expect(webhookSignatureProblem('whsec_test', body, header, at(T + 301))).toMatch(
      /^the signature's timestamp is 301 s old \(more than 300 s\): a replay or a wrong clock$/,
    );
    expect(webhookSignatureProblem('whsec_test', body, header, at(T - 400))).toMatch(/400 s ahead/);
    expect(
      verifyWebhookSignature('whsec_test', body, header, { nowMs: (T + 1000) * 1000, toleranceS: 2000 }),
    ).toBe(true);
  });

  it('accepts either signature during a rotation, and signs with the previous secret only until it expires', () => {
    const header = signWebhookBody(['whsec_new', 'whsec_old'], body, T);
    expect(verifyWebhookSignature('whsec_new', body, header, at(T))).toBe(true);
    expect(verifyWebhookSignature('whsec_old', body, header, at(T))).toBe(true);
    const rotated = { secret: 'whsec_new', previous_secret: 'whsec_old', previous_secret_expires_ms: 5000 };
    expect(secretsInForce(rotated, 4999)).toEqual(['whsec_new', 'whsec_old']);
    expect(secretsInForce(rotated, 5000)).toEqual(['whsec_new']);
    expect(secretsInForce({ ...rotated, previous_secret: '' }, 0)).toEqual(['whsec_new']);
  });

  it('builds the body with the subscription, the event id and type, an ISO timestamp and the data', () => {
    const body = webhookBody(
      { id: 'e-1', type: 'STRESS.ALERT', occurred_at: Date.UTC(2026, 6, 1, 10), data: { dt_id: 'dt-1' } },
      'sub-1',
    );
    expect(JSON.parse(body)).toEqual({
      webhook_id: 'sub-1',
      event_id: 'e-1',
      type: 'STRESS.ALERT',
      timestamp: '2026-07-01T10:00:00.000Z',
      data: { dt_id: 'dt-1' },
    });
  });

  it('backs off 1 s, 4 s, 16 s ... up to an hour, honours Retry-After, and stops after the last attempt', () => {
    const policy = { maxAttempts: 8, backoffMs: 1000 };
    const retryable = { retryable: true, retryAfterMs: null };
    expect([1, 2, 3, 4].map((n) => nextAttemptDelay(n, retryable, policy))).toEqual([
      1000, 4000, 16_000, 64_000,
    ]);
    expect(nextAttemptDelay(7, retryable, policy)).toBe(3_600_000);
    expect(nextAttemptDelay(8, retryable, policy)).toBeNull();
    expect(nextAttemptDelay(1, { retryable: true, retryAfterMs: 30_000 }, policy)).toBe(30_000);
    expect(nextAttemptDelay(1, { retryable: false, retryAfterMs: null }, policy)).toBeNull();
  });
});
