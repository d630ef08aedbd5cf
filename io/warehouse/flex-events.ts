import type { FlexEventLifecycle } from '../../schemas/types.gen.js';
import { runQuery } from './query.js';
import { queries } from './queries.gen.js';
import { TABLES } from './tables.js';
import type { Warehouse } from './warehouse.js';

/**
 * The flexibility events' tables (sql/026_flex_events.sql): their steps, the baselines issued and the stats.
 * The events task (pipelines/events-task.ts) writes them; the API reads them.
 */

// Types, not interfaces: rows for warehouse.insert are Record<string, unknown>.
export type BaselineRow = {
  event_id: string;
  issue: string;
  asset_id: string;
  meter_id: string | null;
  period_start_ms: number;
  baseline_kw: number | null;
  unadjusted_kw: number | null;
  issued_at_ms: number;
  methodology: string;
  days_used: string[];
  reason: string | null;
};

export type StatsRow = {
  event_id: string;
  asset_id: string;
  meter_id: string | null;
  period_start_ms: number;
  baseline_kw: number | null;
  metered_kw: number | null;
  delivered_kw: number | null;
  delivered_kwh: number | null;
  readings: number;
  data_quality: string;
  computed_at_ms: number;
};

export async function insertSteps(warehouse: Warehouse, steps: readonly FlexEventLifecycle[]): Promise<void> {
  if (steps.length === 0) return;
  await warehouse.insert(
    TABLES.flexEvents,
    steps.map((s) => ({
      event_id: s.event_id,
      tenant: s.tenant,
      step: s.type,
      status: s.status,
      sequence: s.sequence,
      at_ms: s.at_ms,
      source: s.source,
      asset_ids: s.asset_ids,
      direction: s.direction,
      start_ms: s.start_ms,
      end_ms: s.end_ms,
      target_amount: s.target?.amount ?? null,
      target_unit: s.target?.unit ?? null,
      methodology: s.methodology,
      baseline_issue: s.baseline_issue,
      delivered_kwh: s.delivered_kwh,
      target_kwh: s.target_kwh,
      share_with_data: s.share_with_data,
      data_quality: s.data_quality,
      reason: s.reason,
    })),
  );
}

export async function insertBaselines(warehouse: Warehouse, rows: readonly BaselineRow[]): Promise<void> {
  if (rows.length > 0) await warehouse.insert(TABLES.flexEventBaselines, [...rows]);
}

export async function insertStats(warehouse: Warehouse, rows: readonly StatsRow[]): Promise<void> {
  if (rows.length > 0) await warehouse.insert(TABLES.flexEventStats, [...rows]);
}

/** The newest step of every event still going on, as the step records they were, and the newest step time. */
export async function openEvents(
  warehouse: Warehouse,
): Promise<{ steps: FlexEventLifecycle[]; clockMs: number | null }> {
  const rows = await runQuery(warehouse, queries.flex_events_open, {});
  const [clock] = await runQuery(warehouse, queries.flex_events_clock, {});
  const steps = rows.map((r): FlexEventLifecycle => ({
    event_id: r.event_id,
    tenant: r.tenant,
    type: r.step as FlexEventLifecycle['type'],
    status: r.status,
    sequence: r.sequence,
    at_ms: r.at_ms,
    source: r.source,
    asset_ids: r.asset_ids,
    direction: r.direction,
    start_ms: r.start_ms,
    end_ms: r.end_ms,
    target:
      r.target_amount === null || r.target_unit === null
        ? null
        : { amount: r.target_amount, unit: r.target_unit },
    methodology: r.methodology,
    baseline_issue: r.baseline_issue,
    delivered_kwh: r.delivered_kwh,
    target_kwh: r.target_kwh,
    share_with_data: r.share_with_data,
    data_quality: r.data_quality,
    reason: r.reason,
  }));
  return { steps, clockMs: clock && clock.steps > 0 ? clock.at_ms : null };
}
