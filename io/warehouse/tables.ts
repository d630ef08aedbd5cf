/** Names of the warehouse tables (created by the migrations in sql/), for code that writes or reads them. */
export const TABLES = {
  readings: 'readings',
  envelopes: 'envelopes',
  deadLetters: 'dead_letters',
  releasedDeadLetters: 'released_dead_letters',
  topologyMeters: 'topology_meters',
  topologyTransformers: 'topology_transformers',
  topologyAssets: 'topology_assets',
  topologyVersions: 'topology_versions',
  weather: 'weather',
  dispatches: 'dispatches',
  dispatchChecks: 'dispatch_checks',
  impedanceDaily: 'impedance_daily',
  impedanceFlags: 'impedance_flags',
  impedanceIdentities: 'impedance_identities',
  dtStress: 'dt_stress',
  dtOperatingEnvelopes: 'dt_operating_envelopes',
  webhookSubscriptions: 'webhook_subscriptions',
  webhookDeliveries: 'webhook_deliveries',
  flexEvents: 'flex_events',
  flexEventBaselines: 'flex_event_baselines',
  flexEventStats: 'flex_event_stats',
  loadProfileDays: 'load_profile_days',
} as const;

export type TableName = (typeof TABLES)[keyof typeof TABLES];
