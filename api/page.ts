/** The paging of list routes (seeds 001 and 004): `limit` 1..1000 (above 1000 is a 400), default 50, and `offset`. */
export const PAGE_PROPERTIES = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
  // Past 2^53 an offset is no longer an exact integer, and the warehouse refuses it (a 500, not a 400).
  offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
} as const;
