import { DAY_MS } from '../core/time.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import { minDataQualitySchema, type DataQualityTier } from './data-quality.js';
import { requireDt, tenantOf } from './tenancy.js';
import { DATE_TIME, DT_ID, object, TIER } from './openapi.js';
import { rangeQuerySchema, requestedRange, type RangeQuery } from './time-range.js';

/** The request of a DT time-series route (load profile, stress, envelopes): /v1/dt/{id}/…?days|from|to. */
export type DtSeriesRequest = {
  Params: { id: string };
  Querystring: RangeQuery & { min_data_quality?: DataQualityTier };
};

/** A DT time-series route's default range: the `days` days up to `aheadDays` days from now. */
export interface DtSeriesDefaults {
  days: number;
  aheadDays: number;
}

/** Route-schema parts of a DT time-series route: the DT id, the range and the minimum tier. */
export function dtSeriesSchema(retentionDays: number, defaults: DtSeriesDefaults) {
  return {
    params: object({ id: DT_ID }),
    querystring: object(
      { ...dtRangeProperties(retentionDays, defaults), min_data_quality: minDataQualitySchema },
      { optional: true, additional: false },
    ),
  } as const;
}

/** Route-schema parts of a DT route over a range without a tier (its meters, its dispatches). */
export function dtRangeSchema(retentionDays: number, defaults: DtSeriesDefaults) {
  return {
    params: object({ id: DT_ID }),
    querystring: object(dtRangeProperties(retentionDays, defaults), { optional: true, additional: false }),
  } as const;
}

function dtRangeProperties(retentionDays: number, defaults: DtSeriesDefaults) {
  const to =
    defaults.aheadDays === 0
      ? 'now'
      : `${defaults.aheadDays} day${defaults.aheadDays === 1 ? '' : 's'} from now`;
  return rangeQuerySchema(retentionDays, { days: defaults.days, to });
}

/** The head of a DT range response: the DT and the [from, to) range answered. */
export const DT_RANGE_HEAD = {
  dt_id: { type: 'string' },
  from: DATE_TIME,
  to: DATE_TIME,
} as const;

/** The head of a DT time-series response (load profile, stress, envelopes), before its own fields. */
export const DT_SERIES_HEAD = {
  ...DT_RANGE_HEAD,
  slot_minutes: { type: 'integer' },
  data_quality: TIER,
  ami_coverage_pct: { type: 'number' },
} as const;

/** The [from, to) range a series request asks for, its defaults as the route's schema states them. */
export function dtSeriesRangeOf(
  query: RangeQuery,
  retentionDays: number,
  defaults: DtSeriesDefaults,
): { from: number; to: number } {
  return requestedRange(query, {
    retentionDays,
    defaultDays: defaults.days,
    defaultTo: Date.now() + defaults.aheadDays * DAY_MS,
  });
}

/** The DT and [from, to) range a series request asks for, once the key is known to may read the DT (401/403/404). */
export async function dtSeriesRange(
  warehouse: Warehouse,
  request: { params: { id: string }; query: RangeQuery; tenant?: string },
  retentionDays: number,
  defaults: DtSeriesDefaults,
): Promise<{ id: string; from: number; to: number }> {
  const { id } = request.params;
  const range = dtSeriesRangeOf(request.query, retentionDays, defaults);
  await requireDt(warehouse, tenantOf(request), id);
  return { id, ...range };
}
