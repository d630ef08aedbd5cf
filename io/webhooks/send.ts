import { iso } from '../../core/time.js';
import { signWebhookBody, WEBHOOK_SIGNATURE_HEADER } from '../../core/webhook-signature.js';

/**
 * The JSON body of an event sent to a subscription (seed 001's request body: the webhook's id, the event's type,
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
 * POSTs a webhook body, signed with the subscription's secret, and reports what happened; never throws. Any 2xx
 * is a delivery; the response body is not read beyond its first bytes (receivers should answer fast and work
 * later).
 */
export async function sendWebhook(options: {
  url: string;
  secret: string;
  body: string;
  subscriptionId: string;
  eventId: string;
  attempt: number;
  timeoutMs?: number;
}): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const response = await fetch(options.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? WEBHOOK_TIMEOUT_MS),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'gridstream-webhooks/1',
        [WEBHOOK_SIGNATURE_HEADER]: signWebhookBody(options.secret, options.body),
        'gridstream-webhook-id': options.subscriptionId,
        'gridstream-event-id': options.eventId,
        'gridstream-delivery-attempt': String(options.attempt),
      },
      body: options.body,
    });
    const text = response.ok ? '' : (await response.text().catch(() => '')).slice(0, 200);
    await response.body?.cancel().catch(() => undefined);
    const status = response.status;
    const retryAfter = Number(response.headers.get('retry-after'));
    return {
      delivered: response.ok,
      httpStatus: status,
      error: response.ok ? '' : `HTTP ${status}${text ? `: ${text}` : ''}`,
      durationMs: elapsed(),
      retryable: !response.ok && (status === 408 || status === 425 || status === 429 || status >= 500),
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null,
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no response within ${options.timeoutMs ?? WEBHOOK_TIMEOUT_MS} ms`
        : (cause?.code ?? cause?.message ?? (error as Error).message);
    return {
      delivered: false,
      httpStatus: 0,
      error: reason,
      durationMs: elapsed(),
      retryable: true,
      retryAfterMs: null,
    };
  }
}

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
