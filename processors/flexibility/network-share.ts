/**
 * The NETWORK period limit: each asset's share of its DT's operating-envelope headroom. The DT's extra import and
 * export for a slot (the newest issue's import_kw and export_kw) are shared among the assets the topology places
 * behind it, pro rata to their nominal power when every one has a nominal power, else equally (one asset without
 * a nominal power makes the shares of the others unknowable).
 */

export interface SharedAsset {
  assetId: string;
  /** Nominal (rated) power, kW, or null when the topology does not give it. */
  nominalKw: number | null;
}

export type ShareBasis = 'nominal_kw' | 'equal';

export interface Shares {
  basis: ShareBasis;
  /** Asset → its fraction of the DT's headroom (the fractions add up to 1). */
  share: Map<string, number>;
}

/** How the headroom of one DT is shared among `assets` (all behind that DT). */
export function headroomShares(assets: readonly SharedAsset[]): Shares {
  const share = new Map<string, number>();
  if (assets.length === 0) return { basis: 'equal', share };
  const total = assets.reduce((sum, a) => sum + (a.nominalKw ?? 0), 0);
  const proRata = total > 0 && assets.every((a) => a.nominalKw !== null && a.nominalKw > 0);
  for (const a of assets) share.set(a.assetId, proRata ? (a.nominalKw as number) / total : 1 / assets.length);
  return { basis: proRata ? 'nominal_kw' : 'equal', share };
}

/** A slot of a DT's operating envelope: its extra import and export, kW. */
export interface HeadroomSlot {
  slotStart: number;
  importKw: number;
  exportKw: number;
}

/** An asset's NETWORK limits for one slot, signed as the other sources' (power toward the grid positive). */
export interface NetworkLimit {
  slotStart: number;
  /** Import limit, kW, <= 0: the share of the DT's extra import (none when the DT has no import headroom). */
  powerChargeKw: number;
  /** Export limit, kW, >= 0: the share of the DT's extra export. */
  powerDischargeKw: number;
}

/** The NETWORK limits of an asset with `share` of its DT's headroom, for the slots in [fromMs, toMs). */
export function networkLimits(
  slots: readonly HeadroomSlot[],
  share: number,
  fromMs: number,
  toMs: number,
): NetworkLimit[] {
  // A negative headroom (the DT is over its limit already) allows the asset nothing in that direction: 0, not
  // a limit that would oblige it to move the other way.
  const zeroFloor = (kw: number) => Math.max(0, kw * share);
  return slots
    .filter((s) => s.slotStart >= fromMs && s.slotStart < toMs)
    .map((s) => ({
      slotStart: s.slotStart,
      powerChargeKw: -zeroFloor(s.importKw) || 0,
      powerDischargeKw: zeroFloor(s.exportKw),
    }));
}
