import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { iso } from '../../core/time.js';
import { EgressRefused, webhookEgress, type EgressPolicy } from './egress.js';
import {
  secretsInForce,
  signWebhookBody,
  WEBHOOK_SIGNATURE_HEADER,
  type SigningSecrets,
} from './signature.js';

/**
 * The JSON body of an event sent to a subscription (the flexibility-platform webhook body: the webhook's id, the event's type,
 * when it happened, and the resource it is about as `data`), plus the event's own id to de-duplicate on.
 */
export function webhookBody(
  event: { id: string; type: string; occurred_at: number; data: Record<string, unknown> },
  subscriptionId: string,
): string {
  return JSON.stringify({
    webhook_id: subscriptionId,
    event_id: event.id,
    type: event.type,
    timestamp: iso(event.occurred_at),
    data: event.data,
  });
}

/** The outcome of one HTTP attempt at delivering a webhook. */
export interface AttemptResult {
  delivered: boolean;
  /** HTTP status, 0 without a response. */
  httpStatus: number;
  /** Empty when delivered. */
  error: string;
  durationMs: number;
  /** Whether another attempt can help: no response, 408, 425, 429 or 5xx. */
  retryable: boolean;
  /** The receiver's Retry-After, ms, when it sent one in seconds. */
  retryAfterMs: number | null;
}

export const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * POSTs a webhook body, signed with the subscription's secrets in force, and reports what happened; never
 * throws. Any 2xx is a delivery. The receiver's body is never read, nor its answer's text passed on: what a
 * tenant sees of an attempt (status, our own error text) is all the request can tell them. The connection is
 * held to the egress policy (egress.ts) on the address it is made to; redirects are not followed.
 */
export async function sendWebhook(options: {
  url: string;
  secrets: SigningSecrets;
  body: string;
  subscriptionId: string;
  eventId: string;
  attempt: number;
  timeoutMs?: number;
  /** The process's policy (configureWebhookEgress) unless given. */
  egress?: EgressPolicy;
}): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const failed = (error: string, retryable: boolean): AttemptResult => ({
    delivered: false,
    httpStatus: 0,
    error,
    durationMs: elapsed(),
    retryable,
    retryAfterMs: null,
  });
  const egress = options.egress ?? webhookEgress();
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    return failed(`${options.url} is not a URL`, false);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return failed('not an http(s) URL', false);
  // node:net connects to an IP literal without a lookup: it is judged here instead.
  const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const refused = isIP(literal) ? egress.refusal(literal) : null;
  if (refused) return failed(`refused by the egress policy: ${refused}`, false);
  const now = Date.now();
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(options.body)),
    'user-agent': 'gridstream-webhooks/1',
    [WEBHOOK_SIGNATURE_HEADER]: signWebhookBody(
      secretsInForce(options.secrets, now),
      options.body,
      Math.floor(now / 1000),
    ),
    'gridstream-webhook-id': options.subscriptionId,
    'gridstream-event-id': options.eventId,
    'gridstream-delivery-attempt': String(options.attempt),
  };
  return new Promise<AttemptResult>((resolve) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'POST',
      headers,
      lookup: egress.lookup,
      agent: false,
    });
    const timer = setTimeout(() => request.destroy(new WebhookTimeout()), timeoutMs);
    request.on('response', (response) => {
      clearTimeout(timer);
      // The body is not wanted: the connection is closed rather than read to its end.
      response.destroy();
      const status = response.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const retryAfter = Number(response.headers['retry-after']);
      resolve({
        delivered: ok,
        httpStatus: status,
        error: ok ? '' : `HTTP ${status}`,
        durationMs: elapsed(),
        retryable: !ok && (status === 408 || status === 425 || status === 429 || status >= 500),
        retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null,
      });
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error instanceof WebhookTimeout) resolve(failed(`no response within ${timeoutMs} ms`, true));
      else if (error instanceof EgressRefused)
        resolve(failed(`refused by the egress policy: ${error.message}`, false));
      else resolve(failed(error.code ?? error.message, true));
    });
    request.end(options.body);
  });
}

class WebhookTimeout extends Error {}

/**
 * When attempt `attempt` (from 1) failed, when the next one is due: `backoffMs` × 4^(attempt − 1) (1 s, 4 s,
 * 16 s, ... with the default), at least the receiver's Retry-After, at most an hour; null once `maxAttempts`
 * have been made or another attempt cannot help.
 */
export function nextAttemptDelay(
  attempt: number,
  result: Pick<AttemptResult, 'retryable' | 'retryAfterMs'>,
  policy: { maxAttempts: number; backoffMs: number },
): number | null {
  if (!result.retryable || attempt >= policy.maxAttempts) return null;
  const backoff = policy.backoffMs * 4 ** (attempt - 1);
  return Math.min(3_600_000, Math.max(backoff, result.retryAfterMs ?? 0));
}
