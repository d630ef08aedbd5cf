import type { Warehouse } from '../io/warehouse/warehouse.js';
import { minDataQualitySchema, type DataQualityTier } from './data-quality.js';
import { requireDt, tenantOf } from './tenancy.js';
import { rangeQuerySchema, requestedRange, type RangeQuery } from './time-range.js';

/** The request of a DT time-series route (load profile, stress, envelopes): /v1/dt/{id}/…?days|from|to. */
export type DtSeriesRequest = {
  Params: { id: string };
  Querystring: RangeQuery & { min_data_quality?: DataQualityTier };
};

/** Route-schema parts of a DT time-series route: the DT id, the range and the minimum tier. */
export function dtSeriesSchema(retentionDays: number, defaults: { days: number; to: string }) {
  return {
    params: {
      type: 'object',
      properties: { id: { type: 'string', minLength: 1, maxLength: 128 } },
      required: ['id'],
    },
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...rangeQuerySchema(retentionDays, defaults),
        min_data_quality: minDataQualitySchema,
      },
    },
  } as const;
}

/** The DT and [from, to) range a series request asks for, once the key is known to may read the DT (401/403/404). */
export async function dtSeriesRange(
  warehouse: Warehouse,
  request: { params: { id: string }; query: RangeQuery; tenant?: string },
  options: { retentionDays: number; defaultDays: number; defaultTo: number },
): Promise<{ id: string; from: number; to: number }> {
  const { id } = request.params;
  const range = requestedRange(request.query, options);
  await requireDt(warehouse, tenantOf(request), id);
  return { id, ...range };
}
