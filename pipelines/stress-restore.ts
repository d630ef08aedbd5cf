import { dataQualityOf, envelopeOfRow } from '../io/warehouse/records.js';
import type { StressResumeRow } from '../io/warehouse/queries.gen.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { DtStress } from '../processors/stress/stress.js';
import type { DtEnvelope, WeatherObservation } from '../schemas/types.gen.js';
import { minOf } from '../core/extremes.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';

/**
 * What the stress stage reads back from the warehouse when a partition is assigned to it (after a restart or a
 * rebalance): each DT's newest dt_stress row (the thermal state and loss of life to resume from) and the final
 * envelopes before it (the history of comparable slots to learn again), and the weather the log no longer
 * holds, turned back into the records the processor takes.
 */
export interface StressHistory {
  resume: DtStress[];
  envelopes: DtEnvelope[];
}

export async function queryStressHistory(
  warehouse: Pick<Warehouse, 'query'>,
  dts: string[],
  historyMs: number,
): Promise<StressHistory> {
  if (dts.length === 0) return { resume: [], envelopes: [] };
  const resume = (await runQuery(warehouse, queries.stress_resume, { dts })).map(stressOfRow);
  if (resume.length === 0) return { resume, envelopes: [] };
  const upTo = new Map(resume.map((r) => [r.dt_id, r.slot_start]));
  const from = minOf(resume.map((r) => r.slot_start)) - historyMs;
  const rows = await runQuery(warehouse, queries.stress_history_envelopes, {
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
  const rows = await runQuery(warehouse, queries.stress_history_weather, {
    horizon_s: Math.ceil(historyMs / 1000),
  });
  return rows.map((r) => ({
    station_id: r.station_id,
    ts: r.ts_ms,
    ambient_c: r.ambient_c,
    received_at: r.received_ms,
  }));
}

function stressOfRow(r: StressResumeRow): DtStress {
  const { slot_start_ms, ...rest } = r;
  // The customers' sensitivities are relearnt from the envelopes, not resumed: the row's are not read.
  return { ...rest, slot_start: slot_start_ms, data_quality: dataQualityOf(r.data_quality), customers: [] };
}
