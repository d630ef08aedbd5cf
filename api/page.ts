/** The paging of list routes (seeds 001 and 004): `limit` 1..1000 (above 1000 is a 400), default 50, and `offset`. */
export const PAGE_PROPERTIES = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
  offset: { type: 'integer', minimum: 0, default: 0 },
} as const;
