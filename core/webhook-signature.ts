import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures (seed 001): HMAC-SHA256 of the raw JSON body, keyed with the subscription's secret, sent
 * as `Gridstream-Webhook-Signature: sha256=<hex>`. A receiver recomputes it over the bytes it received (before
 * any JSON parsing) and compares in constant time, as `verifyWebhookSignature` does.
 */
export const WEBHOOK_SIGNATURE_HEADER = 'gridstream-webhook-signature';

export function signWebhookBody(secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}

export function verifyWebhookSignature(secret: string, body: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhookBody(secret, body));
  const presented = Buffer.from(header);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
