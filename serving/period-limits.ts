import { SLOT_MS } from '../core/time.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries, type PeriodLimitsOfRangeRow } from '../io/warehouse/queries.gen.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { EnvelopeInForce } from '../processors/flexibility/dispatch-check.js';
import {
  headroomShares,
  type HeadroomSlot,
  type ShareBasis,
} from '../processors/flexibility/network-share.js';
import {
  networkSources,
  periodLimitsOf,
  type LimitSource,
  type LimitValues,
  type PeriodLimits,
  type SourceLimits,
} from '../processors/flexibility/period-limits.js';

/**
 * The computed period limits of assets, read from the warehouse: the stored sources (period_limits) and NETWORK,
 * the asset's share of its DT's operating-envelope headroom, put together by the pure
 * processors/flexibility/period-limits.ts. GET /v1/assets/period-limits takes NETWORK from each DT's newest
 * issue (`currentPeriodLimits`); the dispatch check from the issue in force at the dispatch time
 * (`dispatchPeriodLimits`). Here, below both api/ and pipelines/, so that the two compute them the same way.
 */

type Reader = Pick<Warehouse, 'query'>;

/** Where an asset sits: its DT and its share of the DT's headroom. */
export interface Placement {
  dtId: string;
  share: number;
  basis: ShareBasis;
}

/** A DT's headroom per slot from one envelope issue: what NETWORK shares. */
export interface Headroom {
  issuedAt: number;
  slots: HeadroomSlot[];
}

/** A stored row's limits (trading_locked is a nullable UInt8 there). */
export const limitValuesOf = (r: PeriodLimitsOfRangeRow): LimitValues => ({
  powerChargeKw: r.power_charge_kw,
  powerDischargeKw: r.power_discharge_kw,
  energyLowKwh: r.energy_low_kwh,
  energyHighKwh: r.energy_high_kwh,
  tradingLocked: r.trading_locked === null ? null : r.trading_locked === 1,
});

/**
 * The DT of each of `assets` the topology places, with its share of the DT's headroom among every asset behind
 * that DT (processors/flexibility/network-share.ts). Unplaced assets are absent.
 */
export async function placementsOf(
  warehouse: Reader,
  assets: readonly string[],
): Promise<Map<string, Placement>> {
  const placements = new Map<string, Placement>();
  if (assets.length === 0) return placements;
  const placed = await runQuery(warehouse, queries.asset_dts, { asset_ids: [...new Set(assets)] });
  const dts = [...new Set(placed.map((p) => p.dt_id))];
  const behind = dts.length ? await runQuery(warehouse, queries.dt_assets, { dts }) : [];
  const sharesOf = new Map(
    dts.map((dt) => [
      dt,
      headroomShares(
        behind.filter((b) => b.dt_id === dt).map((b) => ({ assetId: b.asset_id, nominalKw: b.nominal_kw })),
      ),
    ]),
  );
  for (const { asset_id, dt_id } of placed) {
    const shares = sharesOf.get(dt_id)!;
    const share = shares.share.get(asset_id);
    if (share !== undefined) placements.set(asset_id, { dtId: dt_id, share, basis: shares.basis });
  }
  return placements;
}

/** The stored sources' limits of `assets` for the periods starting in [fromMs, toMs). */
export async function storedSources(
  warehouse: Reader,
  assets: readonly string[],
  fromMs: number,
  toMs: number,
): Promise<SourceLimits[]> {
  if (assets.length === 0) return [];
  const rows = await runQuery(warehouse, queries.period_limits_of_range, {
    asset_ids: [...assets],
    from_ms: fromMs,
    to_ms: toMs,
  });
  return rows.map((r) => ({
    assetId: r.asset_id,
    startMs: r.start_ms,
    endMs: r.end_ms,
    source: r.source as LimitSource,
    values: limitValuesOf(r),
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
  }));
}

/** The headroom of each of `dts`' newest operating-envelope issue (sql/queries/dt_envelope_newest_issues.sql). */
export async function newestHeadroom(
  warehouse: Reader,
  dts: readonly string[],
): Promise<Map<string, Headroom>> {
  const issues = new Map<string, Headroom>();
  if (dts.length === 0) return issues;
  for (const r of await runQuery(warehouse, queries.dt_envelope_newest_issues, { dts: [...new Set(dts)] })) {
    let issue = issues.get(r.dt_id);
    if (!issue) issues.set(r.dt_id, (issue = { issuedAt: r.issued_at_ms, slots: [] }));
    issue.slots.push({ slotStart: r.slot_start_ms, importKw: r.import_kw, exportKw: r.export_kw });
  }
  return issues;
}

/** The envelope row of a DT and slot in force at `atMs` (sql/queries/dispatch_envelope_in_force.sql). */
export async function envelopeInForce(
  warehouse: Reader,
  dtId: string,
  slotMs: number,
  atMs: number,
): Promise<EnvelopeInForce | undefined> {
  const [row] = await runQuery(warehouse, queries.dispatch_envelope_in_force, {
    dt_id: dtId,
    slot_ms: slotMs,
    at_ms: atMs,
  });
  if (!row) return undefined;
  return {
    issuedAt: row.issued_at_ms,
    importKw: row.import_kw,
    exportKw: row.export_kw,
    importLimitedBy: row.import_limited_by,
    exportLimitedBy: row.export_limited_by,
    dataQuality: row.data_quality,
  };
}

/**
 * Every period of `assets` starting in [fromMs, toMs) that some source limits, NETWORK taken from each DT's
 * newest envelope issue (it follows every new issue), with the assets' placements.
 */
export async function currentPeriodLimits(
  warehouse: Reader,
  assets: readonly string[],
  fromMs: number,
  toMs: number,
): Promise<{ placements: Map<string, Placement>; periods: PeriodLimits[] }> {
  const [stored, placements] = await Promise.all([
    storedSources(warehouse, assets, fromMs, toMs),
    placementsOf(warehouse, assets),
  ]);
  const issues = await newestHeadroom(
    warehouse,
    [...placements.values()].map((p) => p.dtId),
  );
  const network = [...placements].flatMap(([assetId, p]) => {
    const issue = issues.get(p.dtId);
    if (!issue) return [];
    return networkSources(assetId, { ...p, envelopeIssuedAt: issue.issuedAt }, issue.slots, fromMs, toMs);
  });
  return { placements, periods: periodLimitsOf([...stored, ...network]) };
}

/** What a dispatch is checked with: its asset's placement, the envelope in force and the period's limits. */
export interface DispatchLimits {
  placement: Placement | undefined;
  envelope: EnvelopeInForce | undefined;
  period: PeriodLimits | undefined;
}

/**
 * For each dispatch (an asset, the slot it is delivered in and the dispatch time), the asset's limits of that
 * period, NETWORK its share of the envelope row in force at the dispatch time. The placements and stored
 * sources are read once for all; the envelope once per dispatch (dispatches are few).
 */
export async function dispatchPeriodLimits(
  warehouse: Reader,
  dispatches: ReadonlyArray<{ assetId: string; slotMs: number; atMs: number }>,
): Promise<DispatchLimits[]> {
  if (dispatches.length === 0) return [];
  const assets = [...new Set(dispatches.map((d) => d.assetId))];
  const slots = dispatches.map((d) => d.slotMs);
  const [placements, stored] = await Promise.all([
    placementsOf(warehouse, assets),
    storedSources(warehouse, assets, Math.min(...slots), Math.max(...slots) + SLOT_MS),
  ]);
  const out: DispatchLimits[] = [];
  for (const { assetId, slotMs, atMs } of dispatches) {
    const placement = placements.get(assetId);
    const envelope = placement && (await envelopeInForce(warehouse, placement.dtId, slotMs, atMs));
    const own = stored.filter((s) => s.assetId === assetId && s.startMs === slotMs);
    const network =
      placement && envelope
        ? networkSources(
            assetId,
            { ...placement, envelopeIssuedAt: envelope.issuedAt },
            [{ slotStart: slotMs, importKw: envelope.importKw, exportKw: envelope.exportKw }],
            slotMs,
            slotMs + SLOT_MS,
          )
        : [];
    const [period] = periodLimitsOf([...own, ...network]);
    out.push({ placement, envelope, period });
  }
  return out;
}
