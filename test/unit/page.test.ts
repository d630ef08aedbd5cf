import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/errors.js';
import { MAX_OFFSET, pageAnswer, pageOf, pageRows } from '../../api/page.js';

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return error instanceof ApiError ? { status: error.statusCode, fields: error.fields } : error;
  }
  return undefined;
};

describe('paging of list routes', () => {
  it('pages by limit and offset, the route default limit when neither is given', () => {
    expect(pageOf({}, 50)).toEqual({ limit: 50, offset: 0 });
    expect(pageOf({ offset: 20 }, 50)).toEqual({ limit: 50, offset: 20 });
    expect(pageAnswer(pageOf({ limit: 5, offset: 10 }, 50), 12)).toEqual({ limit: 5, offset: 10, total: 12 });
  });

  it('pages by page and pageSize (the first page is 1, pageSize 10 by default) and says so in the answer', () => {
    expect(pageOf({ page: 1, pageSize: 100 }, 50)).toEqual({
      limit: 100,
      offset: 0,
      byPage: { page: 1, pageSize: 100 },
    });
    expect(pageOf({ page: 3 }, 50)).toMatchObject({ limit: 10, offset: 20 });
    expect(pageOf({ pageSize: 7 }, 50)).toMatchObject({ limit: 7, offset: 0 });
    expect(pageAnswer(pageOf({ page: 2, pageSize: 2 }, 50), 5)).toEqual({
      limit: 2,
      offset: 2,
      total: 5,
      page: 2,
      pageSize: 2,
    });
  });

  it('refuses both pairs at once, and pages deeper than the deepest offset, as a 400 naming the field', () => {
    expect(refusal(() => pageOf({ limit: 5, page: 1 }, 50))).toEqual({
      status: 400,
      fields: [{ field: 'page', problem: 'page with pageSize or limit with offset, not both' }],
    });
    expect(refusal(() => pageOf({ offset: 5, pageSize: 10 }, 50))).toMatchObject({
      fields: [{ field: 'pageSize' }],
    });
    expect(refusal(() => pageOf({ page: MAX_OFFSET, pageSize: 1000 }, 50))).toMatchObject({
      fields: [{ field: 'page' }],
    });
  });

  it('slices items held in memory and counts them all', () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    expect(pageRows(items, pageOf({ page: 2, pageSize: 2 }, 50))).toEqual({ rows: ['c', 'd'], total: 5 });
    expect(pageRows(items, pageOf({ offset: 9 }, 50))).toEqual({ rows: [], total: 5 });
  });
});
