import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhookBody, verifyWebhookSignature } from '../../core/webhook-signature.js';
import { nextAttemptDelay, webhookBody } from '../../io/webhooks/send.js';

describe('webhook signatures and retries', () => {
  it('signs the raw body with HMAC-SHA256 of the secret, as sha256=<hex>', () => {
    const body = '{"event_id":"e-1","type":"STRESS.ALERT"}';
    const expected = createHmac('sha256', 'whsec_test').update(body).digest('hex');
    expect(signWebhookBody('whsec_test', body)).toBe(`sha256=${expected}`);
    expect(verifyWebhookSignature('whsec_test', body, `sha256=${expected}`)).toBe(true);
    expect(verifyWebhookSignature('whsec_other', body, `sha256=${expected}`)).toBe(false);
    expect(verifyWebhookSignature('whsec_test', body + ' ', `sha256=${expected}`)).toBe(false);
    expect(verifyWebhookSignature('whsec_test', body, undefined)).toBe(false);
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
