import { badRequest } from './errors.js';

/**
 * The paging of every list route. A client pages with `limit` and `offset`, or with `page` and `pageSize` (the
 * first page is 1), never both; every answer carries `total`, the number of items of all pages. A route whose
 * items are in memory slices them with `pageRows`; one that reads the warehouse gets the total from runPage()
 * (io/warehouse/query.ts).
 */

/** Largest `offset` of any paged route: deeper pages make the warehouse read and drop that many rows first. */
export const MAX_OFFSET = 1_000_000;
/** Largest `limit` and `pageSize` (above is a 400). */
export const MAX_PAGE_SIZE = 1000;
/** `pageSize` when only `page` is given. */
export const DEFAULT_PAGE_SIZE = 10;

/** The `offset` of every paged route (query parameter or body field). */
export const OFFSET_PROPERTY = {
  type: 'integer',
  minimum: 0,
  maximum: MAX_OFFSET,
  description: `Items to skip, 0 to ${MAX_OFFSET} (default 0); or page and pageSize`,
} as const;

/**
 * The paging parameters of a list route whose `limit` defaults to `defaultLimit`. No JSON Schema `default`s:
 * which pair the client sent must stay visible after validation.
 */
export function pagingProperties(defaultLimit: number) {
  return {
    limit: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_PAGE_SIZE,
      description: `Items to return, 1 to ${MAX_PAGE_SIZE} (default ${defaultLimit}); or page and pageSize`,
    },
    offset: OFFSET_PROPERTY,
    page: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_OFFSET + 1,
      description: 'Page number, from 1 (default 1), of pageSize items; instead of limit and offset',
    },
    pageSize: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_PAGE_SIZE,
      description: `Items per page, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}); instead of limit and offset`,
    },
  } as const;
}

/** The paging fields of a list answer (response schema). */
export const PAGE_ANSWER_PROPERTIES = {
  limit: { type: 'integer', description: 'Items asked for (pageSize when paged by page)' },
  offset: { type: 'integer', description: 'Items skipped ((page - 1) x pageSize when paged by page)' },
  total: { type: 'integer', description: 'Items of all pages' },
  page: { type: 'integer', description: 'The page, when the request paged by page' },
  pageSize: { type: 'integer', description: 'The page size, when the request paged by page' },
} as const;
/** Which PAGE_ANSWER_PROPERTIES an answer may leave out. */
export const PAGE_ANSWER_OPTIONAL = ['page', 'pageSize'] as const;

export interface PagingInput {
  limit?: number | undefined;
  offset?: number | undefined;
  page?: number | undefined;
  pageSize?: number | undefined;
}

/** The page a request asks for, as rows to return and skip, and how it asked. */
export interface Page {
  limit: number;
  offset: number;
  /** Set when the request paged with page and pageSize. */
  byPage?: { page: number; pageSize: number };
}

/** The page of a validated request: one pair or the other (both is a 400), defaults filled in. */
export function pageOf(input: PagingInput, defaultLimit: number): Page {
  const offsetPair = input.limit !== undefined || input.offset !== undefined;
  const pagePair = input.page !== undefined || input.pageSize !== undefined;
  if (offsetPair && pagePair)
    throw badRequest(
      input.page !== undefined ? 'page' : 'pageSize',
      'page with pageSize or limit with offset, not both',
    );
  if (!pagePair) return { limit: input.limit ?? defaultLimit, offset: input.offset ?? 0 };
  const page = input.page ?? 1;
  const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
  const offset = (page - 1) * pageSize;
  if (offset > MAX_OFFSET)
    throw badRequest('page', `(page - 1) x pageSize must be at most ${MAX_OFFSET} items deep`);
  return { limit: pageSize, offset, byPage: { page, pageSize } };
}

/** The paging fields of the answer: limit, offset and total, and page and pageSize when paged by page. */
export function pageAnswer(page: Page, total: number) {
  return { limit: page.limit, offset: page.offset, total, ...page.byPage };
}

/** The `offset` of the page after `page`, null on the last (`next_offset` of the answers that give it). */
export function nextOffset(page: Page, total: number): number | null {
  return page.offset + page.limit < total ? page.offset + page.limit : null;
}

/** The `next_offset` field of a list answer (response schema). */
export const NEXT_OFFSET_PROPERTY = {
  type: ['integer', 'null'],
  description: 'offset of the next page, null on the last',
} as const;

/** One page of items held in memory, and how many there are. */
export function pageRows<T>(items: readonly T[], page: Page): { rows: T[]; total: number } {
  return { rows: items.slice(page.offset, page.offset + page.limit), total: items.length };
}
