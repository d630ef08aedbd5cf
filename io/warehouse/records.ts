import type { DataQuality, DtEnvelope } from '../../schemas/types.gen.js';
import type { EnvelopesForDtRow } from './queries.gen.js';

/**
 * Query row → record readers, the inverse of rows.ts: typed query rows (query.ts) are turned back into the
 * records processors and the API take (the warehouse's labels, e.g. ami-direct, to Avro symbols).
 */

/** A Bool column, or on a server without Bool (18.16) its Enum8('false', 'true'). */
export const boolOf = (v: unknown): boolean => v === true || v === 'true';

const DATA_QUALITIES: Record<string, DataQuality> = {
  'ami-direct': 'ami_direct',
  'ami-imputed': 'ami_imputed',
  'modelled-only': 'modelled_only',
};

/** The Avro symbol (ami_direct) of the warehouse's label (ami-direct). */
export function dataQualityOf(label: unknown): DataQuality {
  const quality = DATA_QUALITIES[String(label)];
  if (!quality) throw new Error(`unknown data-quality label ${JSON.stringify(label)}`);
  return quality;
}

/**
 * An envelope record from a row with the envelopes table's columns as sql/queries/envelopes_for_dt.sql
 * selects them (slot_start_ms; legs as the arrays leg, v_min, v_mean, v_max), and the per-meter slots as
 * the arrays meter_id, meter_p_kw, meter_v_low, meter_v_high where the query selects them
 * (sql/queries/stress_history_envelopes.sql).
 */
export function envelopeOfRow(
  r: EnvelopesForDtRow &
    Partial<{ meter_id: string[]; meter_p_kw: number[]; meter_v_low: number[]; meter_v_high: number[] }>,
): DtEnvelope {
  return {
    dt_id: r.dt_id,
    slot_start: r.slot_start_ms,
    version: r.version,
    is_final: r.is_final,
    net_mean_kw: r.net_mean_kw,
    min_kw: r.min_kw,
    max_kw: r.max_kw,
    p95_kw: r.p95_kw,
    import_kwh: r.import_kwh,
    export_kwh: r.export_kwh,
    q_mean_kvar: r.q_mean_kvar,
    legs: r.leg.map((leg, i) => ({ leg, v_min: r.v_min[i]!, v_mean: r.v_mean[i]!, v_max: r.v_max[i]! })),
    meters_reporting: r.meters_reporting,
    meters_connected: r.meters_connected,
    readings: r.readings,
    ami_coverage_pct: r.ami_coverage_pct,
    data_quality: dataQualityOf(r.data_quality),
    imputed_kw: r.imputed_kw,
    imputed_meters: r.imputed_meters,
    profile_source: r.profile_source,
    meters: (r.meter_id ?? []).map((meter_id, i) => ({
      meter_id,
      p_kw: r.meter_p_kw![i]!,
      v_low: r.meter_v_low![i]!,
      v_high: r.meter_v_high![i]!,
    })),
  };
}
