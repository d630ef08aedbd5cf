import type { FlexEventLifecycle, FlexEventStep } from '../../schemas/types.gen.js';

const STATUS_AFTER: Record<FlexEventStep, string> = {
  SCHEDULED: 'SCHEDULED',
  BASELINES_READY: 'SCHEDULED',
  STARTED: 'STARTED',
  ENDED: 'ENDED',
  CANCELLED: 'CANCELLED',
  STATS_CALCULATION_STARTED: 'STATS_CALCULATION_STARTED',
  STATS_READY: 'STATS_READY',
};

/**
 * A lifecycle step of a one-hour turn-down event of asset bess-1 from `start`, as the events processor writes
 * it (the webhook tests read these; they do not need the processor).
 */
export function lifecycleStep(
  eventId: string,
  type: FlexEventStep,
  sequence: number,
  start: number,
  over: Partial<FlexEventLifecycle> = {},
): FlexEventLifecycle {
  return {
    event_id: eventId,
    tenant: 'default',
    type,
    status: STATUS_AFTER[type],
    sequence,
    at_ms: start - 3_600_000 + sequence * 60_000,
    source: 'api',
    asset_ids: ['bess-1'],
    direction: 'turn-down',
    start_ms: start,
    end_ms: start + 3_600_000,
    target: { amount: '50', unit: 'kW' },
    methodology: '{"methodology":"high-x-of-y","x":4,"y":5}',
    baseline_issue: null,
    delivered_kwh: null,
    target_kwh: 50,
    share_with_data: null,
    data_quality: null,
    reason: null,
    ...over,
  };
}
