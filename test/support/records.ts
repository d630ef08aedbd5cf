import { SLOT_MS } from '../../core/time.js';
import type { DtEnvelope, DtOperatingEnvelope, DtStress } from '../../schemas/types.gen.js';

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
  meters: [{ meter_id: 'mtr-000001', p_kw: 1.25, v_low: 228.5, v_high: 229.75 }],
};

/**
 * An operating-envelope row (dt_operating_envelopes, processors/stress/stress.ts) of `dt_id` for the slot starting at
 * `slot_start`, issued at `issued_at` (its version), with plausible figures: 50 kW of extra import (hot spot
 * binds), 80 kW of extra export (voltage binds).
 */
export function operatingEnvelope(
  dt_id: string,
  slot_start: number,
  issued_at: number,
  over: Partial<DtOperatingEnvelope> = {},
): DtOperatingEnvelope {
  return {
    dt_id,
    slot_start,
    issued_at,
    lead_slots: Math.max(1, (slot_start - issued_at) / SLOT_MS + 1),
    version: issued_at,
    confidence: 0.95,
    rated_kva: 100,
    base_kw: 40,
    base_kw_high: 55,
    base_kw_low: 25,
    ambient_c: 24,
    hot_spot_c: 66,
    top_oil_c: 52,
    thermal_stress_prob: 0.001,
    voltage_stress_prob: null,
    import_kw: 50,
    export_kw: 80,
    import_slot_kw: 70,
    export_slot_kw: 95,
    import_limited_by: 'hot_spot',
    export_limited_by: 'voltage',
    v_min_low: 219.5,
    v_max_high: null,
    v_min_mean: 224,
    v_min_sd: 2.5,
    v_max_mean: null,
    v_max_sd: null,
    voltage_sensitivity_v_per_kw: 0.115,
    history_slots: 4,
    data_quality: 'ami_imputed',
    ...over,
  };
}

/** A stress row (dt_stress, processors/stress/stress.ts) of `dt` for the slot at `slot`, with every kind of field set. */
export function stressRow(dt: string, slot: number, over: Partial<DtStress> = {}): DtStress {
  return {
    dt_id: dt,
    slot_start: slot,
    version: 2 * (slot + SLOT_MS) + 1,
    rated_kva: 100,
    net_kw: 61.25,
    apparent_kva: 64.5,
    load_factor: 0.645,
    ambient_c: 27.3,
    ambient_source: 'observed',
    top_oil_c: 58.123456789,
    hot_spot_c: 70.5,
    hot_spot_rise1_k: 14.25,
    hot_spot_rise2_k: 1.873456789,
    peak_hot_spot_c: 71.2,
    ageing_rate: 0.0123,
    loss_of_life_min: 1234.5678901234,
    thermal_exceeded: false,
    v_min: 221.4,
    v_max: null,
    voltage_exceeded: true,
    thermal_stress_prob: 0.0125,
    voltage_stress_prob: null,
    forecast_lead_slots: 1,
    history_slots: 3.5,
    state_initialised: false,
    ami_coverage_pct: 97.5,
    data_quality: 'ami_direct',
    customers: [
      {
        meter_id: 'mtr-000001',
        own_v_per_kw: 0.9,
        dt_v_per_kw: 0.125,
        low_offset_v: 1.5,
        high_offset_v: 0.25,
      },
    ],
    ...over,
  };
}
