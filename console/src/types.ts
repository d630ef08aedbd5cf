/** The fields of the API's answers the console reads (docs/api.md; the route schemas are the full truth). */

export type Tier = 'ami-direct' | 'ami-imputed' | 'modelled-only';
export type Limit = 'thermal' | 'voltage' | 'none' | string | null;

export interface FleetDt {
  dt_id: string;
  feeder_id: string;
  rated_kva: number;
  meters_connected: number;
  ami_coverage_pct: number;
  data_quality: Tier;
  last_slot_start: string | null;
  load_factor: number | null;
  net_kw: number | null;
  stress_slot_start: string | null;
  loss_of_life_min: number | null;
  thermal_stress_prob: number | null;
  voltage_stress_prob: number | null;
  stress_prob: number | null;
  peak_stress_slot: string | null;
  envelope_issued_at: string | null;
  open_impedance_flags: number;
  matched: { meter_id: string; service_point_id: string | null } | null;
  latitude?: number;
  longitude?: number;
  timezone?: string;
}

export interface Fleet {
  transformers: FleetDt[];
  feeders: string[];
  total: number;
  next_offset: number | null;
}

export interface DtListItem {
  dt_id: string;
  feeder_id: string;
  rated_kva: number;
  latitude: number;
  longitude: number;
  timezone: string;
  meters_connected: number;
  last_slot_start: string | null;
  ami_coverage_pct: number;
  data_quality: Tier;
}

export interface SeriesHead {
  dt_id: string;
  from: string;
  to: string;
  data_quality: Tier;
  ami_coverage_pct: number;
}

export interface ProfileSlot {
  slot_start: string;
  is_final: boolean;
  net_mean_kw: number;
  min_kw: number;
  max_kw: number;
  p95_kw: number;
  legs: Array<{ leg: number; v_min: number; v_mean: number; v_max: number }>;
  meters_reporting: number;
  meters_connected: number;
  ami_coverage_pct: number;
  data_quality: Tier;
  profile_source: 'measured' | 'imputed' | 'modelled';
  imputed_kw: number;
}

export interface LoadProfile extends SeriesHead {
  slots: ProfileSlot[];
}

export interface StressSlot {
  slot_start: string;
  rated_kva: number | null;
  net_kw: number | null;
  load_factor: number | null;
  ambient_c: number | null;
  top_oil_c: number | null;
  hot_spot_c: number | null;
  peak_hot_spot_c: number | null;
  loss_of_life_min: number | null;
  thermal_exceeded: boolean;
  voltage_exceeded: boolean;
  thermal_stress_prob: number | null;
  voltage_stress_prob: number | null;
}

export interface Stress extends SeriesHead {
  summary: {
    slots: number;
    thermal_exceedances: number;
    voltage_exceedances: number;
    peak_hot_spot_c: number | null;
    max_load_factor: number | null;
    loss_of_life_min: number | null;
  };
  limits?: { load_factor: number; hot_spot_c: number; top_oil_c: number };
  slots: StressSlot[];
}

export interface EnvelopeSlot {
  slot_start: string;
  issued_at: string;
  base_kw: number | null;
  hot_spot_c: number | null;
  thermal_stress_prob: number | null;
  voltage_stress_prob: number | null;
  import_kw: number | null;
  export_kw: number | null;
  import_limited_by: Limit;
  export_limited_by: Limit;
}

export interface Envelopes extends SeriesHead {
  newest_issued_at: string | null;
  slots: EnvelopeSlot[];
}

export interface MeterLeg {
  leg: number;
  latest_median_mohm: number | null;
  days: Array<{ day: string; median_mohm: number; stderr_mohm: number; event_count: number }>;
  flags: Array<{ day: string; kind: string; median_mohm: number; reference_mohm: number }>;
}

export interface DtMeters {
  dt_id: string;
  meters: Array<{ meter_id: string; service_point_id: string | null; legs: MeterLeg[]; flag_count: number }>;
  flagged_meters: number;
}

export interface Power {
  amount: string;
  unit: string;
}

export interface Dispatch {
  asset_id: string;
  event_id: string;
  action: 'dispatch' | 'cancel';
  dispatch_time: string;
  delivery_period_start: string;
  target_power: Power | null;
  check: {
    verdict: string;
    requested_kw: number;
    limit_kw: number | null;
    limit_source: string | null;
    headroom_kw: number | null;
    limited_by: string | null;
  } | null;
}

export interface DtDispatches {
  dt_id: string;
  assets: Array<{ asset_id: string; nominal_kw: number | null }>;
  dispatches: Dispatch[];
  truncated: boolean;
}
