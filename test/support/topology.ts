import type { MeterRow, TopologyFile, TransformerRow } from '../../core/topology.js';

/** A transformer row with plausible values and default thermal constants. */
export function transformer(dt_id: string, overrides: Partial<TransformerRow> = {}): TransformerRow {
  return {
    dt_id,
    feeder_id: 'f1',
    rated_kva: 250,
    cooling_class: 'ONAN',
    latitude: 12.97,
    longitude: 77.59,
    weather_station_id: null,
    nominal_voltage_v: 230,
    top_oil_rise_k: null,
    hot_spot_gradient_k: null,
    loss_ratio: null,
    tau_oil_min: null,
    tau_winding_min: null,
    tenant: 'default',
    timezone: null,
    ...overrides,
  };
}

/** A single-leg meter row whose CIS identifiers derive from its id. */
export function meter(meter_id: string, dt_id: string, overrides: Partial<MeterRow> = {}): MeterRow {
  return {
    meter_id,
    meter_number: `N-${meter_id}`,
    electronic_serial_number: `E-${meter_id}`,
    service_point_id: `SP-${meter_id}`,
    premise_id: `P-${meter_id}`,
    legs: 1,
    dt_id,
    ...overrides,
  };
}

/** One DT with the given meters. */
export function oneDt(dt_id: string, meterIds: string[]): TopologyFile {
  return { transformers: [transformer(dt_id)], meters: meterIds.map((id) => meter(id, dt_id)) };
}
