import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { EnvelopeSlot } from '../processors/stress/hosting.js';
import type { DtEnvelopeNewestIssuesRow } from '../io/warehouse/queries.gen.js';
import { dataQualityTier, type DataQualityTier } from './data-quality.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';

type Row = DtEnvelopeNewestIssuesRow;

/** A DT's newest operating-envelope issue, as the judges of processors/stress/hosting.ts take it. */
export interface EnvelopeIssue {
  slots: EnvelopeSlot[];
  issuedAt: number;
  confidence: number;
  dataQuality: DataQualityTier;
  /** Per slot, the stored forecast probabilities (voltage: null without voltages). */
  thermalStressProb: number[];
  voltageStressProb: Array<number | null>;
}

/** The newest issue of each of `dts` that has one (sql/queries/dt_envelope_newest_issues.sql). */
export async function newestIssues(
  warehouse: Warehouse,
  dts: readonly string[],
): Promise<Map<string, EnvelopeIssue>> {
  const issues = new Map<string, EnvelopeIssue>();
  if (dts.length === 0) return issues;
  const rows = await runQuery(warehouse, queries.dt_envelope_newest_issues, { dts: [...new Set(dts)] });
  const byDt = new Map<string, Row[]>();
  for (const r of rows) {
    const own = byDt.get(r.dt_id);
    if (own) own.push(r);
    else byDt.set(r.dt_id, [r]);
  }
  for (const [dt, own] of byDt) issues.set(dt, issueOf(own));
  return issues;
}

/** One DT's rows of sql/queries/dt_envelope_newest_issues.sql as the judge's input. */
function issueOf(rows: readonly Row[]): EnvelopeIssue {
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
    thermalStressProb: rows.map((r) => r.thermal_stress_prob),
    voltageStressProb: rows.map((r) => r.voltage_stress_prob),
  };
}
