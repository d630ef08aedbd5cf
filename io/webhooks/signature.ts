import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, in the scheme receivers know from Stripe: `Gridstream-Signature: t=<unix seconds>,
 * v1=<hex>` where the hex is HMAC-SHA256, keyed with the subscription's secret, of `<t>.<raw body>`. The
 * timestamp is the attempt's (a retry is signed anew), so a receiver that refuses a timestamp older than
 * WEBHOOK_SIGNATURE_TOLERANCE_S refuses a captured request replayed later. While a rotated secret's previous
 * one is still valid, the header carries one v1= per secret, newest first; a receiver accepts any that
 * matches a secret it holds. verifyWebhookSignature is what a receiver runs.
 */
export const WEBHOOK_SIGNATURE_HEADER = 'gridstream-signature';

/** How old (or how far ahead) a signature's timestamp may be for receivers to accept it, seconds. */
export const WEBHOOK_SIGNATURE_TOLERANCE_S = 300;

/** A subscription's secrets: its current one, and the one before a rotation until it expires (else ''). */
export interface SigningSecrets {
  secret: string;
  previous_secret: string;
  previous_secret_expires_ms: number;
}

/** The secrets a delivery at `nowMs` is signed with: the current one, and the previous one if still valid. */
export function secretsInForce(secrets: SigningSecrets, nowMs: number): string[] {
  return secrets.previous_secret !== '' && secrets.previous_secret_expires_ms > nowMs
    ? [secrets.secret, secrets.previous_secret]
    : [secrets.secret];
}

const hmac = (secret: string, timestamp: number, body: string) =>
  createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');

/** The signature header's value for `body` sent at `timestampS` (unix seconds), one v1= per secret. */
export function signWebhookBody(secrets: readonly string[], body: string, timestampS: number): string {
  return [`t=${timestampS}`, ...secrets.map((s) => `v1=${hmac(s, timestampS, body)}`)].join(',');
}

/**
 * Why a request's signature header does not prove it came from gridstream just now, or null when it does:
 * `body` is the raw body as received (before any JSON parsing), `secret` the subscription's (during a
 * rotation, call it with each secret you hold). Signatures are compared in constant time.
 */
export function webhookSignatureProblem(
  secret: string,
  body: string,
  header: string | undefined,
  options: { toleranceS?: number; nowMs?: number } = {},
): string | null {
  if (!header) return 'no signature header';
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = parts.find(([k]) => k === 't')?.[1];
  const signatures = parts.filter(([k, v]) => k === 'v1' && v !== undefined).map(([, v]) => v!);
  if (t === undefined || !/^\d+$/.test(t)) return 'no timestamp (t=) in the signature header';
  if (signatures.length === 0) return 'no v1= signature in the signature header';
  const age = (options.nowMs ?? Date.now()) / 1000 - Number(t);
  const tolerance = options.toleranceS ?? WEBHOOK_SIGNATURE_TOLERANCE_S;
  if (Math.abs(age) > tolerance)
    return `the signature's timestamp is ${Math.round(Math.abs(age))} s ${age > 0 ? 'old' : 'ahead'} (more than ${tolerance} s): a replay or a wrong clock`;
  const expected = Buffer.from(hmac(secret, Number(t), body));
  const matches = signatures.some((s) => {
    const presented = Buffer.from(s);
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  });
  return matches ? null : 'no v1= signature matches this secret and body';
}

/** Whether a request's signature header is valid and recent: webhookSignatureProblem found nothing. */
export function verifyWebhookSignature(
  secret: string,
  body: string,
  header: string | undefined,
  options: { toleranceS?: number; nowMs?: number } = {},
): boolean {
  return webhookSignatureProblem(secret, body, header, options) === null;
}
