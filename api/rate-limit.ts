/**
 * Token buckets, one per key: each key may burst up to `burst` requests and is refilled at `perSecond`; an
 * empty bucket answers how long until the next token, which becomes the 429's Retry-After. The API uses one
 * per API key (keyed by the key's digest, never the key) and one per client address for failed
 * authentications. In memory per API instance: instances are stateless, so the limits apply per instance
 * (docs/api.md).
 */
export interface RateLimiter {
  /** Takes a token for `keyId`: 0 when allowed, else the seconds to wait (at least 1) before retrying. */
  take(keyId: string, now?: number): number;
  /** What take would answer, without taking a token. */
  peek(keyId: string, now?: number): number;
  /** Buckets held (full ones are dropped once there are more than `maxKeys`). */
  readonly size: number;
  readonly perSecond: number;
  readonly burst: number;
}

export function tokenBucketLimiter(perSecond: number, burst: number, maxKeys = 100_000): RateLimiter {
  if (!(perSecond > 0) || !(burst >= 1)) throw new Error('rate limit: perSecond > 0 and burst >= 1 needed');
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refilled = (keyId: string, now: number) => {
    const bucket = buckets.get(keyId) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    return bucket;
  };
  const wait = (tokens: number) => (tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / perSecond)));
  // A bucket refilled to the burst is the same as none: dropping those keeps the table bounded when the keys
  // are many (client addresses), without forgetting any key that is being limited.
  const prune = (now: number) => {
    for (const [keyId, bucket] of buckets)
      if (bucket.tokens + ((now - bucket.at) / 1000) * perSecond >= burst) buckets.delete(keyId);
  };
  return {
    perSecond,
    burst,
    get size() {
      return buckets.size;
    },
    take(keyId, now = Date.now()) {
      const bucket = refilled(keyId, now);
      if (!buckets.has(keyId)) {
        if (buckets.size >= maxKeys) prune(now);
        // Still full (that many keys being limited at once): the oldest goes, memory stays bounded.
        if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value!);
        buckets.set(keyId, bucket);
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return wait(bucket.tokens);
    },
    peek(keyId, now = Date.now()) {
      const bucket = buckets.get(keyId);
      if (!bucket) return 0;
      return wait(Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond));
    },
  };
}

/**
 * Requests in flight, counted per key: `acquire` takes a slot when fewer than `max` are taken (and answers
 * whether it did), `release` gives it back. The caller releases exactly once per slot taken, whatever the
 * request's outcome. In memory per API instance, as the token buckets.
 */
export interface ConcurrencyLimiter {
  acquire(keyId: string): boolean;
  release(keyId: string): void;
  /** Slots taken by `keyId` now. */
  inFlight(keyId: string): number;
  readonly max: number;
}

export function concurrencyLimiter(max: number): ConcurrencyLimiter {
  if (!(max >= 1)) throw new Error('concurrency limit: max >= 1 needed');
  // Only keys with requests in flight are held: the table is bounded by the requests being served.
  const taken = new Map<string, number>();
  return {
    max,
    acquire(keyId) {
      const n = taken.get(keyId) ?? 0;
      if (n >= max) return false;
      taken.set(keyId, n + 1);
      return true;
    },
    release(keyId) {
      const n = taken.get(keyId) ?? 0;
      if (n <= 1) taken.delete(keyId);
      else taken.set(keyId, n - 1);
    },
    inFlight(keyId) {
      return taken.get(keyId) ?? 0;
    },
  };
}
