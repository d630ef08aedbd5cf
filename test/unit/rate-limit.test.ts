import { describe, expect, it } from 'vitest';
import { concurrencyLimiter, tokenBucketLimiter } from '../../api/rate-limit.js';

describe('the per-key token bucket', () => {
  it('allows a burst, then the sustained rate, and says how long to wait', () => {
    const limiter = tokenBucketLimiter(2, 3);
    const t = 1_000_000;
    expect([0, 0, 0].map(() => limiter.take('k', t))).toEqual([0, 0, 0]);
    expect(limiter.take('k', t)).toBe(1); // empty: one token takes 0.5 s, rounded up to whole seconds
    expect(limiter.take('k', t + 500)).toBe(0);
    expect(limiter.take('k', t + 500)).toBe(1);
    // Refilled to the burst, never beyond it.
    expect([0, 0, 0, 0].map(() => limiter.take('k', t + 60_000))).toEqual([0, 0, 0, 1]);
  });

  it('keeps one bucket per key', () => {
    const limiter = tokenBucketLimiter(0.1, 1);
    expect(limiter.take('a', 0)).toBe(0);
    expect(limiter.take('a', 0)).toBe(10);
    expect(limiter.take('b', 0)).toBe(0);
  });

  it('refuses settings that would never allow a request', () => {
    expect(() => tokenBucketLimiter(0, 1)).toThrow();
    expect(() => tokenBucketLimiter(1, 0.5)).toThrow();
  });

  it('peeks without taking: the failed-authentication check looks before any key work', () => {
    const limiter = tokenBucketLimiter(1, 2);
    expect(limiter.peek('ip', 0)).toBe(0); // unknown: nothing held
    expect(limiter.size).toBe(0);
    limiter.take('ip', 0);
    limiter.take('ip', 0);
    expect(limiter.peek('ip', 0)).toBe(1);
    expect(limiter.peek('ip', 0)).toBe(1); // peeking took nothing
    expect(limiter.peek('ip', 1000)).toBe(0);
  });

  it('keeps its table bounded: full buckets go first, then the oldest', () => {
    const limiter = tokenBucketLimiter(1, 1, 3);
    for (const ip of ['a', 'b', 'c']) limiter.take(ip, 0);
    limiter.take('d', 5000); // a, b and c are full again by now: dropped
    expect(limiter.size).toBe(1);
    for (const ip of ['e', 'f', 'g']) limiter.take(ip, 5000); // all empty: the oldest (d) goes
    expect(limiter.size).toBe(3);
    expect(limiter.peek('d', 5000)).toBe(0);
    expect(limiter.peek('g', 5000)).toBe(1);
  });
});

describe('the per-key concurrency limit', () => {
  it('takes up to max slots per key, refuses the next, and takes again once one is released', () => {
    const limiter = concurrencyLimiter(2);
    expect([limiter.acquire('a'), limiter.acquire('a'), limiter.acquire('a')]).toEqual([true, true, false]);
    expect(limiter.acquire('b')).toBe(true); // one count per key
    limiter.release('a');
    expect(limiter.inFlight('a')).toBe(1);
    expect(limiter.acquire('a')).toBe(true);
    limiter.release('a');
    limiter.release('a');
    limiter.release('b');
    expect([limiter.inFlight('a'), limiter.inFlight('b')]).toEqual([0, 0]);
  });

  it('refuses a limit that would never allow a request', () => {
    expect(() => concurrencyLimiter(0)).toThrow();
  });
});
