import { describe, expect, it } from 'vitest';
import { maxOf, minOf } from '../../core/extremes.js';

describe('maxOf and minOf', () => {
  it('find the extremes of more values than a call can take as arguments', () => {
    const values = Array.from({ length: 300_000 }, (_, k) => (k * 7919) % 300_007);
    expect(() => Math.max(...values)).toThrow(RangeError);
    expect(maxOf(values)).toBe(values.reduce((a, b) => (a > b ? a : b)));
    expect(minOf(values)).toBe(values.reduce((a, b) => (a < b ? a : b)));
  });

  it('agree with Math.max and Math.min on empty input and NaN', () => {
    expect(maxOf([])).toBe(Math.max());
    expect(minOf([])).toBe(Math.min());
    expect(maxOf([1, Number.NaN, 3])).toBeNaN();
    expect(minOf(new Set([4, -2, 9]))).toBe(-2);
  });
});
