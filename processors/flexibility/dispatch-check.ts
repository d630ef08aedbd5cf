import { slotStart } from '../../core/time.js';
import type { DispatchCheck, DispatchCommand, PowerAmount } from '../../schemas/types.gen.js';

export type { DispatchCheck };

/**
 * The operating-envelope row in force for a dispatch's delivery slot (dt_operating_envelopes): the newest issue
 * made at or before the dispatch time, else (a late check, the older issues merged away) the earliest after it.
 */
export interface EnvelopeInForce {
  issuedAt: number;
  importKw: number;
  exportKw: number;
  importLimitedBy: string;
  exportLimitedBy: string;
  /** As the warehouse spells it (ami-direct, ...). */
  dataQuality: string;
}

const KW_PER_UNIT: Partial<Record<PowerAmount['unit'], number>> = { W: 0.001, kW: 1, MW: 1000 };

/**
 * A power amount in kW (the decimal string read as a float: the check needs no exact decimals). An energy unit
 * (which ingest admits only for the state-of-charge imbalance) is an error.
 */
export function powerKw(power: PowerAmount): number {
  const factor = KW_PER_UNIT[power.unit];
  if (factor === undefined) throw new Error(`${power.unit} is not a unit of power`);
  return Number(power.amount) * factor;
}

/** The UTC quarter hour a dispatch is delivered in: the slot whose envelope it is checked against. */
export function deliverySlot(command: DispatchCommand): number {
  return slotStart(command.delivery_period_start);
}

/**
 * Checks a dispatch command against the operating envelope of the DT its asset sits behind (pure: the placement
 * and the envelope row are looked up by the caller). Target power is the asset's power toward the grid:
 * positive injects (export at the DT), negative withdraws (import); it is judged against the envelope's extra
 * export or import for the slot, the headroom that holds in every slot of the issue at the stated confidence.
 * `dtId` undefined: the asset is not in the topology; `envelope` undefined: no issue covers the slot at the
 * dispatch time.
 */
export function checkDispatch(
  command: DispatchCommand,
  dtId: string | undefined,
  envelope: EnvelopeInForce | undefined,
  checkedAt: number,
): DispatchCheck {
  const requested = powerKw(command.target_power);
  const base = {
    event_id: command.event_id,
    asset_id: command.asset_id,
    dispatch_time: command.dispatch_time,
    delivery_period_start: command.delivery_period_start,
    received_at: command.received_at,
    dt_id: dtId ?? null,
    requested_kw: requested,
    headroom_kw: null,
    limited_by: null,
    envelope_issued_at: null,
    data_quality: null,
    checked_at: checkedAt,
  };
  if (dtId === undefined) return { ...base, verdict: 'unknown_asset' };
  if (envelope === undefined) return { ...base, verdict: 'no_envelope' };
  const exporting = requested > 0;
  const headroom = exporting ? envelope.exportKw : envelope.importKw;
  return {
    ...base,
    headroom_kw: headroom,
    limited_by: exporting ? envelope.exportLimitedBy : envelope.importLimitedBy,
    envelope_issued_at: envelope.issuedAt,
    data_quality: envelope.dataQuality,
    verdict: Math.abs(requested) <= headroom + 1e-9 ? 'within' : 'exceeds',
  };
}
