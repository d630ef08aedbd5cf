import { badRequest } from './errors.js';

/** Most assets one request of the asset routes names. */
export const MAX_ASSETS = 1000;

/** The `asset_ids` query parameter of the asset routes: repeated or comma-separated. */
export const ASSET_IDS_PROPERTY = {
  description: `Asset ids: repeated (asset_ids=a&asset_ids=b) or comma-separated; 1 to ${MAX_ASSETS}`,
  type: ['string', 'array'],
  minLength: 1,
  maxLength: 100_000,
  minItems: 1,
  maxItems: MAX_ASSETS,
  items: { type: 'string', minLength: 1, maxLength: 256 },
} as const;

/** The asset ids of an `asset_ids` parameter, trimmed; 400 when it names none or more than MAX_ASSETS. */
export function assetIdsOf(raw: string | string[]): string[] {
  const ids = (Array.isArray(raw) ? raw : raw.split(',')).map((id) => id.trim()).filter((id) => id !== '');
  if (ids.length === 0) throw badRequest('asset_ids', 'must name at least one asset');
  if (ids.length > MAX_ASSETS) throw badRequest('asset_ids', `at most ${MAX_ASSETS} assets`);
  return ids;
}
