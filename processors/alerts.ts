import { iso } from '../core/time.js';
import type { DispatchCheck, DtStress, FlexEventLifecycle, ImpedanceFlag } from '../schemas/types.gen.js';

/**
 * Turns what the processors publish into the events webhooks carry. Pure: no clock, no I/O, so a
 * replay of the same records gives the same events with the same ids, and a receiver that has seen an id
 * can drop the copy (delivery is at least once).
 *
 * - STRESS.ALERT: a DT's forecast thermal or voltage stress probability for a slot reaches
 *   `stressProbability` while that kind is not already alerting; it re-arms once the probability falls below
 *   `rearmProbability` (hysteresis, so a probability hovering at the bar does not alert every slot).
 * - ENVELOPE.VIOLATION: a DT's observed slot broke one of the limits its operating envelope keeps within:
 *   load factor, hot spot or top oil (thermal_exceeded) or a customer voltage outside the statutory band
 *   (voltage_exceeded). One event a violating slot.
 * - IMPEDANCE.ALERT: a meter leg's daily impedance median was flagged (each ImpedanceFlag).
 * - DISPATCH.REJECTED: a dispatch command asked for more than its asset's computed period limits allow
 *   (DispatchCheck verdict `exceeds`: beyond a stored source's limit or the asset's NETWORK share of its DT's
 *   operating envelope), or for a period some source locks (verdict `locked`).
 * - EVENT.<step>: a step of a flexibility event's lifecycle (each FlexEventLifecycle record), carrying the
 *   event as it stands; it goes to the subscriptions of the record's tenant (AlertEvent.tenant), not a DT's.
 *
 * Stress rows are judged once per DT and slot, in slot order: a revision of a slot already judged, or an
 * older slot, raises nothing (the first row of a slot decides). The webhook task rebuilds a DT's alerting flag
 * from its stored stress rows when its partition moves (pipelines/webhook-task.ts), so a restart does not
 * alert again for a DT still over the bar.
 */
export const ALERT_EVENT_TYPES = [
  'STRESS.ALERT',
  'ENVELOPE.VIOLATION',
  'IMPEDANCE.ALERT',
  'DISPATCH.REJECTED',
  'EVENT.SCHEDULED',
  'EVENT.BASELINES_READY',
  'EVENT.STARTED',
  'EVENT.ENDED',
  'EVENT.CANCELLED',
  'EVENT.STATS_CALCULATION_STARTED',
  'EVENT.STATS_READY',
] as const;
export type AlertEventType = (typeof ALERT_EVENT_TYPES)[number];

export interface AlertEvent {
  /** Deterministic: the same record always gives the same id. */
  id: string;
  type: AlertEventType;
  /** The DT the event is about: its tenant's subscriptions receive it (unless `tenant` is given). */
  dt_id?: string;
  /** The tenant whose subscriptions receive it, for an event that is not about one DT (EVENT.*). */
  tenant?: string;
  /** Event time, epoch ms: the slot, day or dispatch time the event is about. */
  occurred_at: number;
  /** The details a subscriber gets as `data` (plain JSON). */
  data: Record<string, unknown>;
}

export interface AlertConfig {
  stressProbability: number;
  rearmProbability: number;
}

export const DEFAULT_ALERT_CONFIG: AlertConfig = { stressProbability: 0.5, rearmProbability: 0.3 };

export type AlertInput =
  | { type: 'stress'; row: DtStress }
  | { type: 'impedance-flag'; flag: ImpedanceFlag }
  | { type: 'dispatch-check'; check: DispatchCheck }
  | { type: 'event-lifecycle'; record: FlexEventLifecycle };

interface DtAlertState {
  /** The newest slot judged. */
  lastSlot: number;
  thermal: boolean;
  voltage: boolean;
}

export interface AlertState {
  dts: Map<string, DtAlertState>;
}

export function initialAlertState(): AlertState {
  return { dts: new Map() };
}

/**
 * Applies one record; the state is updated in place and returned, a DT's entry replaced only once the record is
 * fully applied, so an input that throws leaves the state as it was.
 */
export function stepAlerts(
  state: AlertState,
  input: AlertInput,
  config: AlertConfig = DEFAULT_ALERT_CONFIG,
): { state: AlertState; outputs: AlertEvent[] } {
  switch (input.type) {
    case 'stress':
      return { state, outputs: stressEvents(state, input.row, config) };
    case 'impedance-flag':
      return { state, outputs: [impedanceEvent(input.flag)] };
    case 'dispatch-check':
      return { state, outputs: REJECTED.has(input.check.verdict) ? [dispatchEvent(input.check)] : [] };
    case 'event-lifecycle':
      return { state, outputs: [lifecycleEvent(input.record)] };
  }
}

function stressEvents(state: AlertState, row: DtStress, config: AlertConfig): AlertEvent[] {
  const before = state.dts.get(row.dt_id);
  if (before && row.slot_start <= before.lastSlot) return [];
  const dt: DtAlertState = {
    thermal: before?.thermal ?? false,
    voltage: before?.voltage ?? false,
    lastSlot: row.slot_start,
  };
  const events: AlertEvent[] = [];
  const slot = iso(row.slot_start);
  for (const kind of ['thermal', 'voltage'] as const) {
    const probability = kind === 'thermal' ? row.thermal_stress_prob : row.voltage_stress_prob;
    if (probability === null) continue;
    if (!dt[kind] && probability >= config.stressProbability) {
      dt[kind] = true;
      events.push({
        id: `STRESS.ALERT:${row.dt_id}:${row.slot_start}:${kind}`,
        type: 'STRESS.ALERT',
        dt_id: row.dt_id,
        occurred_at: row.slot_start,
        data: {
          dt_id: row.dt_id,
          slot_start: slot,
          kind,
          probability,
          threshold: config.stressProbability,
          forecast_lead_slots: row.forecast_lead_slots,
          load_factor: row.load_factor,
          hot_spot_c: row.hot_spot_c,
          v_min: row.v_min,
          v_max: row.v_max,
          data_quality: row.data_quality,
        },
      });
    } else if (dt[kind] && probability < config.rearmProbability) dt[kind] = false;
  }
  if (row.thermal_exceeded || row.voltage_exceeded)
    events.push({
      id: `ENVELOPE.VIOLATION:${row.dt_id}:${row.slot_start}`,
      type: 'ENVELOPE.VIOLATION',
      dt_id: row.dt_id,
      occurred_at: row.slot_start,
      data: {
        dt_id: row.dt_id,
        slot_start: slot,
        thermal_exceeded: row.thermal_exceeded,
        voltage_exceeded: row.voltage_exceeded,
        rated_kva: row.rated_kva,
        apparent_kva: row.apparent_kva,
        load_factor: row.load_factor,
        peak_hot_spot_c: row.peak_hot_spot_c,
        top_oil_c: row.top_oil_c,
        v_min: row.v_min,
        v_max: row.v_max,
        data_quality: row.data_quality,
      },
    });
  state.dts.set(row.dt_id, dt);
  return events;
}

function impedanceEvent(flag: ImpedanceFlag): AlertEvent {
  return {
    id: `IMPEDANCE.ALERT:${flag.dt_id}:${flag.meter_id}:${flag.leg}:${flag.day}:${flag.kind}`,
    type: 'IMPEDANCE.ALERT',
    dt_id: flag.dt_id,
    occurred_at: flag.day,
    data: {
      dt_id: flag.dt_id,
      meter_id: flag.meter_id,
      leg: flag.leg,
      day: iso(flag.day).slice(0, 10),
      kind: flag.kind,
      median_mohm: flag.median_mohm,
      reference_mohm: flag.reference_mohm,
    },
  };
}

/** The verdicts that reject a dispatch. */
const REJECTED: ReadonlySet<DispatchCheck['verdict']> = new Set(['exceeds', 'locked']);

function dispatchEvent(check: DispatchCheck): AlertEvent {
  return {
    id: `DISPATCH.REJECTED:${check.event_id}:${check.asset_id}`,
    type: 'DISPATCH.REJECTED',
    // A stored source can reject a dispatch of an asset the topology does not place: its DT is unknown, and
    // so is a tenant to tell (the event reaches no subscription).
    dt_id: check.dt_id ?? '',
    occurred_at: check.dispatch_time,
    data: {
      event_id: check.event_id,
      asset_id: check.asset_id,
      dt_id: check.dt_id,
      dispatch_time: iso(check.dispatch_time),
      delivery_period_start: iso(check.delivery_period_start),
      verdict: check.verdict,
      requested_kw: check.requested_kw,
      limit_kw: check.limit_kw,
      limit_source: check.limit_source,
      network_share: check.network_share,
      headroom_kw: check.headroom_kw,
      limited_by: check.limited_by,
      envelope_issued_at: check.envelope_issued_at === null ? null : iso(check.envelope_issued_at),
      data_quality: check.data_quality,
    },
  };
}

/** The id of the webhook event of a lifecycle step: `EVENT.<TYPE>:<event id>:<sequence>`. */
export const lifecycleEventId = (record: Pick<FlexEventLifecycle, 'type' | 'event_id' | 'sequence'>) =>
  `EVENT.${record.type}:${record.event_id}:${record.sequence}`;

/**
 * The flexibility event and step sequence a webhook event id names (lifecycleEventId), or null for an event
 * of another kind: the webhook sender keeps one flexibility event's steps in order per subscription.
 */
export function lifecycleOrder(eventId: string): { event_id: string; sequence: number } | null {
  if (!eventId.startsWith('EVENT.')) return null;
  const first = eventId.indexOf(':');
  const last = eventId.lastIndexOf(':');
  const sequence = Number(eventId.slice(last + 1));
  if (first < 0 || last <= first || !Number.isInteger(sequence)) return null;
  return { event_id: eventId.slice(first + 1, last), sequence };
}

function lifecycleEvent(record: FlexEventLifecycle): AlertEvent {
  return {
    id: lifecycleEventId(record),
    type: `EVENT.${record.type}`,
    tenant: record.tenant,
    occurred_at: record.at_ms,
    data: {
      event_id: record.event_id,
      status: record.status,
      sequence: record.sequence,
      asset_ids: record.asset_ids,
      direction: record.direction,
      start: iso(record.start_ms),
      end: iso(record.end_ms),
      target: record.target,
      baseline_issue: record.baseline_issue,
      delivered_kwh: record.delivered_kwh,
      target_kwh: record.target_kwh,
      share_with_data: record.share_with_data,
      data_quality: record.data_quality,
      reason: record.reason,
    },
  };
}
