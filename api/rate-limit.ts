/**
 * Per-key rate limit: a token bucket per API key (keyed by the key's digest, never the key). Each key may
 * burst up to `burst` requests and is refilled at `perSecond`; an empty bucket answers how long until the next
 * token, which becomes the 429's Retry-After. In memory per API instance: instances are stateless, so the
 * limit applies per instance (docs/api.md).
 */
export interface RateLimiter {
  /** Takes a token for `keyId`: 0 when allowed, else the seconds to wait (at least 1) before retrying. */
  take(keyId: string, now?: number): number;
  readonly perSecond: number;
  readonly burst: number;
}

export function tokenBucketLimiter(perSecond: number, burst: number): RateLimiter {
  if (!(perSecond > 0) || !(burst >= 1)) throw new Error('rate limit: perSecond > 0 and burst >= 1 needed');
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    perSecond,
    burst,
    take(keyId, now = Date.now()) {
      const bucket = buckets.get(keyId) ?? { tokens: burst, at: now };
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
      bucket.at = now;
      buckets.set(keyId, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
    },
  };
}
