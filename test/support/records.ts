import type { DtEnvelope } from '../../schemas/types.gen.js';

/** An envelope with every kind of field set (a union with a value, an enum, an array of records). */
export const sampleEnvelope: DtEnvelope = {
  dt_id: 'dt-7',
  slot_start: Date.UTC(2026, 6, 1, 10, 15),
  version: 3_570_000_000_001,
  is_final: true,
  net_mean_kw: 12.5,
  min_kw: -3.25,
  max_kw: 30.125,
  p95_kw: 29,
  import_kwh: 3.4,
  export_kwh: 0.2,
  q_mean_kvar: 1.5,
  legs: [{ leg: 1, v_min: 226.1, v_mean: 230.2, v_max: 236 }],
  meters_reporting: 38,
  meters_connected: 40,
  readings: 570,
  ami_coverage_pct: 91.2,
  data_quality: 'ami_direct',
  imputed_kw: 0,
  imputed_meters: 0,
  profile_source: 'measured',
};
