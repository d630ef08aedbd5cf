import { iso } from '../core/time.js';
import { dataQualityLabel } from '../io/warehouse/rows.js';
import type { DataQuality, DtEnvelope, ProfileSource } from '../schemas/types.gen.js';
import { dataQualityTier } from './data-quality.js';
import type { NewestSlot } from './load-profile-store.js';
import { round } from './time-range.js';

/**
 * One slot of GET /v1/dt/{id}/load-profile, from an envelope record. Both ways the route answers (from the
 * warehouse's rows, and from the in-memory profiles kept from the log: api/load-profile-store.ts) render
 * slots here, so they answer byte for byte alike.
 */
export function profileSlot(e: DtEnvelope) {
  return {
    slot_start: iso(e.slot_start),
    is_final: e.is_final,
    net_mean_kw: e.net_mean_kw,
    min_kw: e.min_kw,
    max_kw: e.max_kw,
    p95_kw: e.p95_kw,
    import_kwh: e.import_kwh,
    export_kwh: e.export_kwh,
    q_mean_kvar: e.q_mean_kvar,
    legs: e.legs.map((l) => ({ leg: l.leg, v_min: l.v_min, v_mean: l.v_mean, v_max: l.v_max })),
    meters_reporting: e.meters_reporting,
    meters_connected: e.meters_connected,
    readings: e.readings,
    ami_coverage_pct: round(e.ami_coverage_pct, 2),
    data_quality: dataQualityLabel(e.data_quality),
    // net_mean_kw and the other power and energy figures describe the whole DT; these say how much of it
    // was measured (processors/imputation.ts).
    profile_source: e.profile_source,
    measured_net_mean_kw: e.net_mean_kw - e.imputed_kw,
    imputed_kw: e.imputed_kw,
    imputed_meters: e.imputed_meters,
  };
}

export type ProfileSlot = ReturnType<typeof profileSlot>;

/** An envelope record from a row of sql/queries/envelopes_for_dt.sql (UInt64 columns arrive as text). */
export function envelopeOfRow(r: Record<string, unknown>): DtEnvelope {
  const legs = r.leg as number[];
  const nullableNumber = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    dt_id: String(r.dt_id),
    slot_start: Number(r.slot_start_ms),
    version: Number(r.version),
    is_final: Boolean(r.is_final),
    net_mean_kw: Number(r.net_mean_kw),
    min_kw: Number(r.min_kw),
    max_kw: Number(r.max_kw),
    p95_kw: Number(r.p95_kw),
    import_kwh: Number(r.import_kwh),
    export_kwh: Number(r.export_kwh),
    q_mean_kvar: nullableNumber(r.q_mean_kvar),
    legs: legs.map((leg, i) => ({
      leg: Number(leg),
      v_min: Number((r.v_min as number[])[i]),
      v_mean: Number((r.v_mean as number[])[i]),
      v_max: Number((r.v_max as number[])[i]),
    })),
    meters_reporting: Number(r.meters_reporting),
    meters_connected: Number(r.meters_connected),
    readings: Number(r.readings),
    ami_coverage_pct: Number(r.ami_coverage_pct),
    data_quality: dataQualityTier(r.data_quality).replaceAll('-', '_') as DataQuality,
    imputed_kw: Number(r.imputed_kw),
    imputed_meters: Number(r.imputed_meters),
    profile_source: String(r.profile_source) as ProfileSource,
  };
}

/**
 * A load-profile response without its slots, in the order the response has its fields (the in-memory path
 * appends the slots array to its JSON). The profile as a whole is declared with the tier and AMI coverage of
 * its newest slot: the 30 days ending there.
 */
export function profileHead(dtId: string, fromMs: number, toMs: number, newest: NewestSlot | undefined) {
  return {
    dt_id: dtId,
    from: iso(fromMs),
    to: iso(toMs),
    slot_minutes: 15,
    data_quality: newest?.data_quality ?? ('modelled-only' as const),
    ami_coverage_pct: newest?.ami_coverage_pct ?? 0,
  };
}
