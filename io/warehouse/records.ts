import type { DataQuality, DtEnvelope, ProfileSource } from '../../schemas/types.gen.js';

/**
 * Query row → record readers, the inverse of rows.ts: rows come back as the warehouse spells them (64-bit
 * integers as text, the seeds' data-quality labels, a Bool as true/false or, on 18.16, 'true'/'false') and
 * are turned back into the records processors and the API take.
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
 * selects them (slot_start_ms; legs as the arrays leg, v_min, v_mean, v_max).
 */
export function envelopeOfRow(r: Record<string, unknown>): DtEnvelope {
  const legs = r.leg as unknown[];
  return {
    dt_id: String(r.dt_id),
    slot_start: Number(r.slot_start_ms),
    version: Number(r.version),
    is_final: boolOf(r.is_final),
    net_mean_kw: Number(r.net_mean_kw),
    min_kw: Number(r.min_kw),
    max_kw: Number(r.max_kw),
    p95_kw: Number(r.p95_kw),
    import_kwh: Number(r.import_kwh),
    export_kwh: Number(r.export_kwh),
    q_mean_kvar: r.q_mean_kvar === null || r.q_mean_kvar === undefined ? null : Number(r.q_mean_kvar),
    legs: legs.map((leg, i) => ({
      leg: Number(leg),
      v_min: Number((r.v_min as unknown[])[i]),
      v_mean: Number((r.v_mean as unknown[])[i]),
      v_max: Number((r.v_max as unknown[])[i]),
    })),
    meters_reporting: Number(r.meters_reporting),
    meters_connected: Number(r.meters_connected),
    readings: Number(r.readings),
    ami_coverage_pct: Number(r.ami_coverage_pct),
    data_quality: dataQualityOf(r.data_quality),
    imputed_kw: Number(r.imputed_kw),
    imputed_meters: Number(r.imputed_meters),
    profile_source: String(r.profile_source) as ProfileSource,
  };
}
