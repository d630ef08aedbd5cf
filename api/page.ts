/** Largest `offset` of any paged route: deeper pages make the warehouse read and drop that many rows first. */
export const MAX_OFFSET = 1_000_000;

/** The `offset` of every paged route (query parameter or body field). */
export const OFFSET_PROPERTY = {
  type: 'integer',
  minimum: 0,
  maximum: MAX_OFFSET,
  default: 0,
  description: `Rows to skip, 0 to ${MAX_OFFSET}`,
} as const;

/** The paging of list routes: `limit` 1..1000 (above 1000 is a 400), default 50, and `offset`. */
export const PAGE_PROPERTIES = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
  offset: OFFSET_PROPERTY,
} as const;
