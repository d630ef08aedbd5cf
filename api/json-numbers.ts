/**
 * JSON has no NaN: a float the warehouse holds as nan (decoded as NaN by io/warehouse/query.ts) is answered as
 * null, which every such field's schema admits (NUMBER_OR_NULL); the serialiser would refuse NaN.
 */
export type NaNAsNull<T> = { [K in keyof T]: T[K] extends number ? number | null : T[K] };

export function nanAsNull<T extends object>(row: T): NaNAsNull<T> {
  const out = { ...row } as Record<string, unknown>;
  for (const key in out) if (Number.isNaN(out[key])) out[key] = null;
  return out as NaNAsNull<T>;
}

/** One such number as an answer carries it: null when the warehouse held nan (or ±inf) or had no row. */
export const finiteOrNull = (x: number | null | undefined): number | null =>
  x === null || x === undefined || !Number.isFinite(x) ? null : x;
