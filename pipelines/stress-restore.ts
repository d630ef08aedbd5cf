import { boolOf, dataQualityOf, envelopeOfRow } from '../io/warehouse/records.js';
import { sqlQuery } from '../io/warehouse/sql-files.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { DtStress } from '../processors/stress/stress.js';
import type { AmbientSource, DtEnvelope, WeatherObservation } from '../schemas/types.gen.js';
import { minOf } from '../core/extremes.js';

/**
 * What the stress stage reads back from the warehouse when a partition is assigned to it (after a restart or a
 * rebalance): each DT's newest dt_stress row (the thermal state and loss of life to resume from) and the final
 * envelopes before it (the history of comparable slots to learn again), and the weather the log no longer
 * holds. Rows come back as the warehouse spells them (numbers as text for 64-bit integers, the seeds'
 * data-quality labels) and are turned back into the records the processor takes.
 */
export interface StressHistory {
  resume: DtStress[];
  envelopes: DtEnvelope[];
}

type Row = Record<string, unknown>;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null ? null : Number(v));

export async function queryStressHistory(
  warehouse: Pick<Warehouse, 'query'>,
  dts: string[],
  historyMs: number,
): Promise<StressHistory> {
  if (dts.length === 0) return { resume: [], envelopes: [] };
  const resume = (await warehouse.query<Row>(sqlQuery('stress_resume'), { dts })).map(stressOfRow);
  if (resume.length === 0) return { resume, envelopes: [] };
  const upTo = new Map(resume.map((r) => [r.dt_id, r.slot_start]));
  const from = minOf(resume.map((r) => r.slot_start)) - historyMs;
  const rows = await warehouse.query<Row>(sqlQuery('stress_history_envelopes'), {
    dts: [...upTo.keys()],
    from_ms: from,
  });
  const envelopes = rows
    .map(envelopeOfRow)
    .filter((e) => e.slot_start <= upTo.get(e.dt_id)! && e.slot_start >= upTo.get(e.dt_id)! - historyMs);
  return { resume, envelopes };
}

/** Every station's observations of the `historyMs` before the newest in the warehouse. */
export async function queryRecentWeather(
  warehouse: Pick<Warehouse, 'query'>,
  historyMs: number,
): Promise<WeatherObservation[]> {
  const rows = await warehouse.query<Row>(sqlQuery('stress_history_weather'), {
    horizon_s: Math.ceil(historyMs / 1000),
  });
  return rows.map((r) => ({
    station_id: String(r.station_id),
    ts: num(r.ts_ms),
    ambient_c: num(r.ambient_c),
    received_at: num(r.received_ms),
  }));
}

function stressOfRow(r: Row): DtStress {
  return {
    dt_id: String(r.dt_id),
    slot_start: num(r.slot_start_ms),
    version: num(r.version),
    rated_kva: num(r.rated_kva),
    net_kw: num(r.net_kw),
    apparent_kva: num(r.apparent_kva),
    load_factor: num(r.load_factor),
    ambient_c: num(r.ambient_c),
    ambient_source: String(r.ambient_source) as AmbientSource,
    top_oil_c: num(r.top_oil_c),
    hot_spot_c: num(r.hot_spot_c),
    hot_spot_rise1_k: num(r.hot_spot_rise1_k),
    hot_spot_rise2_k: num(r.hot_spot_rise2_k),
    peak_hot_spot_c: num(r.peak_hot_spot_c),
    ageing_rate: num(r.ageing_rate),
    loss_of_life_min: num(r.loss_of_life_min),
    thermal_exceeded: boolOf(r.thermal_exceeded),
    v_min: numOrNull(r.v_min),
    v_max: numOrNull(r.v_max),
    voltage_exceeded: boolOf(r.voltage_exceeded),
    thermal_stress_prob: numOrNull(r.thermal_stress_prob),
    voltage_stress_prob: numOrNull(r.voltage_stress_prob),
    forecast_lead_slots: num(r.forecast_lead_slots),
    history_slots: num(r.history_slots),
    state_initialised: boolOf(r.state_initialised),
    ami_coverage_pct: num(r.ami_coverage_pct),
    data_quality: dataQualityOf(r.data_quality),
  };
}
