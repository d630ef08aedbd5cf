/**
 * The largest and smallest of many numbers. `Math.max(...values)` passes every value as an argument, which
 * throws a RangeError once there are more than the engine's argument limit (about 120,000 in V8): a topology of
 * 100,000 meters or a year of slots gets there. These loop instead. Empty input gives -Infinity / Infinity,
 * as Math.max() / Math.min() do.
 */
export function maxOf(values: Iterable<number>): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) if (v > max || Number.isNaN(v)) max = v;
  return max;
}

export function minOf(values: Iterable<number>): number {
  let min = Number.POSITIVE_INFINITY;
  for (const v of values) if (v < min || Number.isNaN(v)) min = v;
  return min;
}
