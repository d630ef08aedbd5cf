import type { DataQualityTier } from '../core/data-quality.js';
import { round } from '../core/round.js';
import { iso } from '../core/time.js';
import { dataQualityLabel } from '../io/warehouse/rows.js';
import type { DtEnvelope } from '../schemas/types.gen.js';

/**
 * One slot of GET /v1/dt/{id}/load-profile, from an envelope record. Both ways the route answers (from the
 * warehouse's rows, and from the stored DT-day pieces: serving/load-profile-days.ts) render
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
    // was measured (processors/load-envelope/imputation.ts).
    profile_source: e.profile_source,
    measured_net_mean_kw: e.net_mean_kw - e.imputed_kw,
    imputed_kw: e.imputed_kw,
    imputed_meters: e.imputed_meters,
  };
}

export type ProfileSlot = ReturnType<typeof profileSlot>;

/** The tier and AMI coverage of a profile's newest slot, which the response declares for the whole. */
export interface NewestSlot {
  data_quality: DataQualityTier;
  ami_coverage_pct: number;
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
