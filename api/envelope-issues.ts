import { sqlQuery } from '../io/warehouse/sql-files.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { EnvelopeSlot, LimitingFactor } from '../processors/stress/hosting.js';
import { dataQualityTier, type DataQualityTier } from './data-quality.js';

type Row = Record<string, unknown>;

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
  const rows = await warehouse.query<Row>(sqlQuery('dt_envelope_newest_issues'), { dts: [...new Set(dts)] });
  const byDt = new Map<string, Row[]>();
  for (const r of rows) {
    const dt = String(r.dt_id);
    const own = byDt.get(dt);
    if (own) own.push(r);
    else byDt.set(dt, [r]);
  }
  for (const [dt, own] of byDt) issues.set(dt, issueOf(own));
  return issues;
}

/** One DT's rows of sql/queries/dt_envelope_newest_issues.sql as the judge's input. */
function issueOf(rows: readonly Row[]): EnvelopeIssue {
  const slots: EnvelopeSlot[] = rows.map((r) => ({
    slotStart: Number(r.slot_start_ms),
    importKw: Number(r.import_kw),
    exportKw: Number(r.export_kw),
    importSlotKw: Number(r.import_slot_kw),
    exportSlotKw: Number(r.export_slot_kw),
    importLimitedBy: r.import_limited_by as LimitingFactor,
    exportLimitedBy: r.export_limited_by as LimitingFactor,
    baseKw: Number(r.base_kw),
    baseKwLow: Number(r.base_kw_low),
  }));
  return {
    slots,
    issuedAt: Number(rows[0]!.issued_at_ms),
    confidence: Number(rows[0]!.confidence),
    dataQuality: dataQualityTier(rows[0]!.data_quality),
    thermalStressProb: rows.map((r) => Number(r.thermal_stress_prob)),
    voltageStressProb: rows.map((r) =>
      r.voltage_stress_prob === null ? null : Number(r.voltage_stress_prob),
    ),
  };
}
