import { describe, expect, it } from 'vitest';
import { tokenBucketLimiter } from '../../api/rate-limit.js';

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
});
