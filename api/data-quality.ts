import { DATA_QUALITY_TIERS, TIER_CONFIDENCE_BAND, type DataQualityTier } from '../core/data-quality.js';
import { ApiError } from './errors.js';

// The tiers are the records' and the load-profile pieces' as much as the API's (core/data-quality.ts); the routes
// take them from here with the checks below.
export { DATA_QUALITY_TIERS, TIER_CONFIDENCE_BAND, type DataQualityTier };

/** Whether `actual` is at least the tier `minimum` (no minimum: any tier is). */
export function meetsDataQuality(actual: DataQualityTier, minimum: DataQualityTier | undefined): boolean {
  return minimum === undefined || !tierBelow(actual, minimum);
}

/** JSON-schema property for the `min_data_quality` query parameter or body field of DT routes. */
export const minDataQualitySchema = {
  type: 'string',
  enum: [...DATA_QUALITY_TIERS],
  description:
    'Refuse (422 data_quality_below_minimum) rather than answer from data of a lower tier than this: ami-direct > ami-imputed > modelled-only',
} as const;

/** The tier as the warehouse or a record spells it (ami_direct or ami-direct), normalised. */
export function dataQualityTier(value: unknown): DataQualityTier {
  const tier = String(value).replaceAll('_', '-');
  if (!(DATA_QUALITY_TIERS as readonly string[]).includes(tier))
    throw new Error(`unknown data-quality tier ${JSON.stringify(value)}`);
  return tier as DataQualityTier;
}

/** Whether `tier` is lower than `than` (ami-direct > ami-imputed > modelled-only). */
export function tierBelow(tier: DataQualityTier, than: DataQualityTier): boolean {
  return DATA_QUALITY_TIERS.indexOf(tier) > DATA_QUALITY_TIERS.indexOf(than);
}

/** Throws 422 when `actual` is a lower tier than `minimum` (no minimum: any tier is served). */
export function requireDataQuality(
  what: string,
  actual: DataQualityTier,
  minimum: DataQualityTier | undefined,
): void {
  if (meetsDataQuality(actual, minimum)) return;
  throw new ApiError(
    422,
    'data_quality_below_minimum',
    `${what} has data quality ${actual}, below the requested minimum ${minimum}`,
    [{ field: 'min_data_quality', problem: `${what} is ${actual}, below ${minimum!}` }],
  );
}
