/**
 * Data-quality tiers of the transformer-stress interface, best first. Every DT-related response declares its tier; a client whose
 * workflow demands a minimum (a DISCOM sanctioning desk, say) sends `min_data_quality` and gets a refusal,
 * not an answer of a lower tier.
 */
export const DATA_QUALITY_TIERS = ['ami-direct', 'ami-imputed', 'modelled-only'] as const;
export type DataQualityTier = (typeof DATA_QUALITY_TIERS)[number];
