/** `value` rounded to `digits` decimal places, as responses show figures. */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
