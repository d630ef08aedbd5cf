import { slotStart } from '../core/time.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { EnvelopeSlot, VoltageTails } from '../processors/stress/hosting.js';
import { modelledBasis, modelledIssue, type ModelledDt } from '../processors/stress/modelled-issue.js';
import type { DtEnvelopeNewestIssuesRow } from '../io/warehouse/queries.gen.js';
import { transformerTimeZone } from '../core/schedule.js';
import { loadPatternsOf, type ZonedNameplate } from '../serving/load-patterns.js';
import { dataQualityTier, type DataQualityTier } from './data-quality.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';

type Row = DtEnvelopeNewestIssuesRow;

/** A DT's newest operating-envelope issue, as the judges of processors/stress/hosting.ts take it. */
export interface EnvelopeIssue {
  slots: EnvelopeSlot[];
  issuedAt: number;
  confidence: number;
  /**
   * Tier and AMI coverage of the answer, both from one place: for a stored issue, the load-envelope slot it was
   * forecast from (sql/queries/dt_issue_quality.sql; the stress stage copies that slot's tier into the issue,
   * and its coverage is read from the slot); for a modelled issue, `modelled-only` and 0.
   */
  dataQuality: DataQualityTier;
  amiCoveragePct: number;
  /** Per slot, the stored forecast probabilities (voltage: null without voltages). */
  thermalStressProb: number[];
  voltageStressProb: Array<number | null>;
  /** Per slot, the forecast customer-voltage distribution (null without voltages, or in an older issue). */
  voltageTails: Array<VoltageTails | null>;
  /** For a modelled issue (the DT has no issue of the stress stage), what it was modelled from; else null. */
  modelled: string | null;
}

/** The newest issue of each of `dts` that has one (sql/queries/dt_envelope_newest_issues.sql). */
export async function newestIssues(
  warehouse: Warehouse,
  dts: readonly string[],
): Promise<Map<string, EnvelopeIssue>> {
  const issues = new Map<string, EnvelopeIssue>();
  if (dts.length === 0) return issues;
  const wanted = [...new Set(dts)];
  const [rows, qualities] = await Promise.all([
    runQuery(warehouse, queries.dt_envelope_newest_issues, { dts: wanted }),
    runQuery(warehouse, queries.dt_issue_quality, { dts: wanted }),
  ]);
  const quality = new Map(qualities.map((q) => [q.dt_id, q]));
  const byDt = new Map<string, Row[]>();
  for (const r of rows) {
    const own = byDt.get(r.dt_id);
    if (own) own.push(r);
    else byDt.set(r.dt_id, [r]);
  }
  for (const [dt, own] of byDt) issues.set(dt, issueOf(own, quality.get(dt)?.ami_coverage_pct));
  return issues;
}

/**
 * The newest issue of each of `dts`, and for each DT that has none a modelled one starting at the slot of `now`
 * (processors/stress/modelled-issue.ts: nameplate × the feeder's load pattern through the thermal model), so
 * that a DT without AMI is answered at tier modelled-only. A DT the topology gives no positive rating stays
 * without an issue. Day types and local slots are read in each DT's zone (`timeZone`: GRIDSTREAM_TIMEZONE, for
 * the DTs whose topology names none).
 */
export async function answerableIssues(
  warehouse: Warehouse,
  dts: readonly string[],
  now: number,
  timeZone?: string,
): Promise<Map<string, EnvelopeIssue>> {
  const issues = await newestIssues(warehouse, dts);
  const missing = dts.filter((dt) => !issues.has(dt));
  if (missing.length === 0) return issues;
  const plates = await runQuery(warehouse, queries.feeder_nameplates, { dts: [...new Set(missing)] });
  const zones = new Map(plates.map((p) => [p.dt_id, transformerTimeZone(p, timeZone)]));
  const nameplates = new Map<string, ZonedNameplate>(
    plates.map((p) => [
      p.dt_id,
      {
        feeder_id: p.feeder_id,
        rated_kva: p.rated_kva,
        meters_connected: p.meters_connected,
        time_zone: zones.get(p.dt_id)!,
      },
    ]),
  );
  const patterns = await loadPatternsOf(warehouse, nameplates, false);
  const first = slotStart(now);
  for (const p of plates) {
    if (!missing.includes(p.dt_id) || !(p.rated_kva > 0)) continue;
    const dt: ModelledDt = {
      ...p,
      cooling_class: p.cooling_class === 'ONAF' ? 'ONAF' : 'ONAN',
      time_zone: zones.get(p.dt_id)!,
    };
    const modelled = modelledIssue(dt, patterns, first);
    issues.set(p.dt_id, {
      slots: modelled.slots,
      issuedAt: first,
      confidence: modelled.confidence,
      dataQuality: 'modelled-only',
      amiCoveragePct: 0,
      thermalStressProb: modelled.thermalStressProb,
      voltageStressProb: modelled.slots.map(() => null),
      voltageTails: modelled.slots.map(() => null),
      modelled: modelledBasis(modelled, p.rated_kva),
    });
  }
  return issues;
}

/** One DT's rows of sql/queries/dt_envelope_newest_issues.sql as the judge's input. */
function issueOf(rows: readonly Row[], amiCoveragePct: number | undefined): EnvelopeIssue {
  const slots: EnvelopeSlot[] = rows.map((r) => ({
    slotStart: r.slot_start_ms,
    importKw: r.import_kw,
    exportKw: r.export_kw,
    importSlotKw: r.import_slot_kw,
    exportSlotKw: r.export_slot_kw,
    importLimitedBy: r.import_limited_by,
    exportLimitedBy: r.export_limited_by,
    baseKw: r.base_kw,
    baseKwLow: r.base_kw_low,
    vMinLow: r.v_min_low,
    vMaxHigh: r.v_max_high,
  }));
  const [newest] = rows as [Row];
  return {
    slots,
    issuedAt: newest.issued_at_ms,
    confidence: newest.confidence,
    dataQuality: dataQualityTier(newest.data_quality),
    // The slot the issue was forecast from is gone only past the retention: no coverage to declare then.
    amiCoveragePct: Math.round((amiCoveragePct ?? 0) * 100) / 100,
    thermalStressProb: rows.map((r) => r.thermal_stress_prob),
    voltageStressProb: rows.map((r) => r.voltage_stress_prob),
    voltageTails: rows.map(tailsOf),
    modelled: null,
  };
}

/** A slot's customer-voltage distribution, when the issue recorded it. */
function tailsOf(r: Row): VoltageTails | null {
  if (r.v_min_mean === null || r.v_min_sd === null || r.v_max_mean === null || r.v_max_sd === null)
    return null;
  return {
    minMean: r.v_min_mean,
    minSd: r.v_min_sd,
    maxMean: r.v_max_mean,
    maxSd: r.v_max_sd,
    vPerKw: r.voltage_sensitivity_v_per_kw,
  };
}
