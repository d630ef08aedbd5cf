import { slotStart } from '../../core/time.js';
import type { DispatchCheck, DispatchCommand } from '../../schemas/types.gen.js';
import type { PeriodLimits } from './period-limits.js';
import { powerKw } from './units.js';

export type { DispatchCheck };
export { powerKw };

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

/** What the caller looked up for a dispatch: its asset's placement, the envelope and the period limits. */
export interface DispatchContext {
  /** The asset's DT; undefined when the topology does not place the asset. */
  dtId: string | undefined;
  /** The DT's envelope row in force for the delivery slot at the dispatch time; undefined without one. */
  envelope: EnvelopeInForce | undefined;
  /** The asset's share of its DT's headroom (processors/flexibility/network-share.ts); undefined unplaced. */
  share: number | undefined;
  /**
   * The asset's period limits for the delivery slot, its NETWORK source the share of `envelope`
   * (processors/flexibility/period-limits.ts); undefined when no source limits the period.
   */
  period: PeriodLimits | undefined;
}

/** The UTC quarter hour a dispatch is delivered in: the period whose limits it is checked against. */
export function deliverySlot(command: DispatchCommand): number {
  return slotStart(command.delivery_period_start);
}

/** Slack for a target read from a decimal string against a limit computed in floats. */
const EPSILON_KW = 1e-9;

/**
 * Checks a dispatch command against its asset's computed period limits for the delivery slot (pure: the
 * placement, envelope and limits are looked up by the caller). Target power is the asset's power toward the
 * grid: positive injects (export at the DT) and is judged against power_discharge, zero or negative withdraws
 * (import) and is judged against power_charge. A period some source locks is `locked`; a target beyond the
 * limit of its direction, whichever source binds, is `exceeds`. Otherwise the verdict says whether NETWORK took
 * part: `unknown_asset` (the asset is not placed) and `no_envelope` (no issue covers the slot at the dispatch
 * time) are not rejections, as the stored sources, the only ones known, allow the dispatch; else `within`.
 */
export function checkDispatch(
  command: DispatchCommand,
  { dtId, envelope, share, period }: DispatchContext,
  checkedAt: number,
): DispatchCheck {
  const requested = powerKw(command.target_power);
  const exporting = requested > 0;
  const field = exporting ? 'powerDischargeKw' : 'powerChargeKw';
  const computed = period?.computed;
  const lockedBy = computed?.values.tradingLocked === true ? computed.binding.tradingLocked : null;
  const limit = lockedBy === null ? (computed?.values[field] ?? null) : null;
  const check = {
    event_id: command.event_id,
    asset_id: command.asset_id,
    dispatch_time: command.dispatch_time,
    delivery_period_start: command.delivery_period_start,
    received_at: command.received_at,
    dt_id: dtId ?? null,
    requested_kw: requested,
    headroom_kw: envelope ? (exporting ? envelope.exportKw : envelope.importKw) : null,
    limited_by: envelope ? (exporting ? envelope.exportLimitedBy : envelope.importLimitedBy) : null,
    envelope_issued_at: envelope?.issuedAt ?? null,
    data_quality: envelope?.dataQuality ?? null,
    limit_kw: limit,
    limit_source: lockedBy ?? (limit === null ? null : (computed?.binding[field] ?? null)),
    network_share: dtId === undefined ? null : (share ?? null),
    checked_at: checkedAt,
  };
  const breached =
    limit !== null && (exporting ? requested > limit + EPSILON_KW : requested < limit - EPSILON_KW);
  const verdict: DispatchCheck['verdict'] =
    lockedBy !== null
      ? 'locked'
      : breached
        ? 'exceeds'
        : dtId === undefined
          ? 'unknown_asset'
          : envelope === undefined
            ? 'no_envelope'
            : 'within';
  return { ...check, verdict };
}
