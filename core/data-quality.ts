/**
 * Data-quality tiers of the transformer-stress interface, best first. Every DT-related response declares its tier; a client whose
 * workflow demands a minimum (a DISCOM sanctioning desk, say) sends `min_data_quality` and gets a refusal,
 * not an answer of a lower tier.
 */
export const DATA_QUALITY_TIERS = ['ami-direct', 'ami-imputed', 'modelled-only'] as const;
export type DataQualityTier = (typeof DATA_QUALITY_TIERS)[number];

/**
 * The confidence typical of answers at each tier (the transformer-stress interface's tier table): how far an
 * answer's data can be trusted, a property of the tier. It is not an envelope's `confidence`, the statistical
 * level its headroom figures hold at for the forecast made.
 */
export const TIER_CONFIDENCE_BAND: Readonly<Record<DataQualityTier, { low: number; high: number }>> = {
  'ami-direct': { low: 0.85, high: 0.95 },
  'ami-imputed': { low: 0.65, high: 0.85 },
  'modelled-only': { low: 0.4, high: 0.65 },
};
