import { describe, expect, it } from 'vitest';
import {
  ALERT_EVENT_TYPES,
  DEFAULT_ALERT_CONFIG,
  initialAlertState,
  lifecycleOrder,
  stepAlerts,
  type AlertEvent,
  type AlertInput,
} from '../../processors/alerts.js';
import type { DispatchCheck, DtStress, ImpedanceFlag } from '../../schemas/types.gen.js';
import { lifecycleStep } from '../support/lifecycle.js';
import { stressRow } from '../support/records.js';

const T0 = Date.UTC(2026, 6, 1, 10);
const SLOT = 15 * 60_000;

/** A calm slot: no limit broken, low probabilities. */
const calm = (dt: string, k: number, over: Partial<DtStress> = {}): AlertInput => ({
  type: 'stress',
  row: stressRow(dt, T0 + k * SLOT, {
    thermal_exceeded: false,
    voltage_exceeded: false,
    thermal_stress_prob: 0.01,
    voltage_stress_prob: 0.02,
    ...over,
  }),
});

function run(inputs: AlertInput[]): AlertEvent[] {
  let state = initialAlertState();
  const events: AlertEvent[] = [];
  for (const input of inputs) {
    const step = stepAlerts(state, input, DEFAULT_ALERT_CONFIG);
    state = step.state;
    events.push(...step.outputs);
  }
  return events;
}

describe('alert events', () => {
  it('raises STRESS.ALERT when a probability reaches the bar, once, and again only after it re-armed', () => {
    const events = run([
      calm('dt-1', 0),
      calm('dt-1', 1, { thermal_stress_prob: 0.55 }),
      calm('dt-1', 2, { thermal_stress_prob: 0.9 }), // still alerting: nothing new
      calm('dt-1', 3, { thermal_stress_prob: 0.4 }), // below the bar but above re-arm: nothing
      calm('dt-1', 4, { thermal_stress_prob: 0.6 }), // not re-armed yet: nothing
      calm('dt-1', 5, { thermal_stress_prob: 0.1 }), // re-armed
      calm('dt-1', 6, { thermal_stress_prob: 0.7 }),
    ]);
    expect(events.map((e) => [e.type, e.id])).toEqual([
      ['STRESS.ALERT', `STRESS.ALERT:dt-1:${T0 + SLOT}:thermal`],
      ['STRESS.ALERT', `STRESS.ALERT:dt-1:${T0 + 6 * SLOT}:thermal`],
    ]);
    expect(events[0]).toMatchObject({
      dt_id: 'dt-1',
      occurred_at: T0 + SLOT,
      data: { kind: 'thermal', probability: 0.55, threshold: 0.5, slot_start: '2026-07-01T10:15:00.000Z' },
    });
  });

  it('alerts thermal and voltage separately, and each DT on its own', () => {
    const events = run([
      calm('dt-1', 0, { voltage_stress_prob: 0.8 }),
      calm('dt-2', 0, { thermal_stress_prob: 0.8 }),
      calm('dt-1', 1, { voltage_stress_prob: 0.8, thermal_stress_prob: 0.8 }),
      calm('dt-2', 1, { voltage_stress_prob: null, thermal_stress_prob: 0.9 }),
    ]);
    expect(events.map((e) => e.id)).toEqual([
      `STRESS.ALERT:dt-1:${T0}:voltage`,
      `STRESS.ALERT:dt-2:${T0}:thermal`,
      `STRESS.ALERT:dt-1:${T0 + SLOT}:thermal`,
    ]);
  });

  it('judges a slot once: a revision of a slot, or an older slot, raises nothing', () => {
    const events = run([
      calm('dt-1', 2),
      calm('dt-1', 2, { thermal_stress_prob: 0.9, thermal_exceeded: true }),
      calm('dt-1', 1, { thermal_stress_prob: 0.9, voltage_exceeded: true }),
    ]);
    expect(events).toEqual([]);
  });

  it('raises ENVELOPE.VIOLATION for each slot that broke a thermal or voltage limit', () => {
    const events = run([
      calm('dt-1', 0, { thermal_exceeded: true, load_factor: 1.62 }),
      calm('dt-1', 1),
      calm('dt-1', 2, { voltage_exceeded: true, v_max: 254.1 }),
    ]);
    expect(events.map((e) => [e.type, e.occurred_at])).toEqual([
      ['ENVELOPE.VIOLATION', T0],
      ['ENVELOPE.VIOLATION', T0 + 2 * SLOT],
    ]);
    expect(events[0]!.data).toMatchObject({
      thermal_exceeded: true,
      voltage_exceeded: false,
      load_factor: 1.62,
    });
    expect(events[1]!.data).toMatchObject({ thermal_exceeded: false, voltage_exceeded: true, v_max: 254.1 });
  });

  it('raises IMPEDANCE.ALERT for every flag, with the same id for the same flag', () => {
    const flag: ImpedanceFlag = {
      dt_id: 'dt-1',
      meter_id: 'm-7',
      leg: 2,
      day: Date.UTC(2026, 6, 1),
      kind: 'absolute',
      median_mohm: 912.5,
      reference_mohm: 800,
    };
    const events = run([
      { type: 'impedance-flag', flag },
      { type: 'impedance-flag', flag },
    ]);
    expect(events).toHaveLength(2);
    expect(events[0]!.id).toBe(events[1]!.id);
    expect(events[0]).toMatchObject({
      type: 'IMPEDANCE.ALERT',
      dt_id: 'dt-1',
      data: { meter_id: 'm-7', leg: 2, day: '2026-07-01', kind: 'absolute', median_mohm: 912.5 },
    });
  });

  it('raises DISPATCH.REJECTED for a check that exceeds its limits or falls in a locked period, and nothing for the other verdicts', () => {
    const check = (verdict: DispatchCheck['verdict'], event_id: string): AlertInput => ({
      type: 'dispatch-check',
      check: {
        event_id,
        asset_id: 'bess-1',
        dispatch_time: T0,
        delivery_period_start: T0 + SLOT,
        received_at: T0 + 1000,
        dt_id: 'dt-1',
        requested_kw: 1250,
        headroom_kw: 800,
        limited_by: 'hot_spot',
        envelope_issued_at: T0 - SLOT,
        data_quality: 'ami_direct',
        limit_kw: 600,
        limit_source: 'OPERATIONS',
        network_share: 1,
        verdict,
        checked_at: T0 + 2000,
      },
    });
    const events = run([
      check('within', 'e-1'),
      check('exceeds', 'e-2'),
      check('no_envelope', 'e-3'),
      check('unknown_asset', 'e-4'),
      check('locked', 'e-5'),
    ]);
    expect(events.map((e) => e.id)).toEqual(['DISPATCH.REJECTED:e-2:bess-1', 'DISPATCH.REJECTED:e-5:bess-1']);
    expect(events[0]).toMatchObject({
      id: 'DISPATCH.REJECTED:e-2:bess-1',
      type: 'DISPATCH.REJECTED',
      dt_id: 'dt-1',
      occurred_at: T0,
      data: {
        event_id: 'e-2',
        asset_id: 'bess-1',
        verdict: 'exceeds',
        requested_kw: 1250,
        limit_kw: 600,
        limit_source: 'OPERATIONS',
        network_share: 1,
        headroom_kw: 800,
        limited_by: 'hot_spot',
      },
    });
  });
});

describe('alert state', () => {
  it("turns each lifecycle step into one EVENT.<step> for the event's tenant, with a deterministic id", () => {
    const id = '7f3e0c52-0000-4000-8000-000000000001';
    const steps = [
      lifecycleStep(id, 'SCHEDULED', 1, T0, { tenant: 'utility-b' }),
      lifecycleStep(id, 'BASELINES_READY', 2, T0, { tenant: 'utility-b', baseline_issue: 'day-ahead' }),
      lifecycleStep(id, 'STATS_READY', 7, T0, {
        tenant: 'utility-b',
        delivered_kwh: 47.5,
        share_with_data: 1,
        data_quality: 'ami_direct',
      }),
    ];
    const events = run(steps.map((record) => ({ type: 'event-lifecycle', record })));
    expect(events.map((e) => [e.type, e.id, e.tenant, e.dt_id, e.occurred_at])).toEqual([
      ['EVENT.SCHEDULED', `EVENT.SCHEDULED:${id}:1`, 'utility-b', undefined, steps[0]!.at_ms],
      ['EVENT.BASELINES_READY', `EVENT.BASELINES_READY:${id}:2`, 'utility-b', undefined, steps[1]!.at_ms],
      ['EVENT.STATS_READY', `EVENT.STATS_READY:${id}:7`, 'utility-b', undefined, steps[2]!.at_ms],
    ]);
    expect(events[2]!.data).toEqual({
      event_id: id,
      status: 'STATS_READY',
      sequence: 7,
      asset_ids: ['bess-1'],
      direction: 'turn-down',
      start: '2026-07-01T10:00:00.000Z',
      end: '2026-07-01T11:00:00.000Z',
      target: { amount: '50', unit: 'kW' },
      baseline_issue: null,
      delivered_kwh: 47.5,
      target_kwh: 50,
      share_with_data: 1,
      data_quality: 'ami_direct',
      reason: null,
    });
    // The same record gives the same event (a replay's copy is dropped by id), and every type is subscribable.
    expect(run([{ type: 'event-lifecycle', record: steps[0]! }])).toEqual([events[0]]);
    for (const e of events) expect(ALERT_EVENT_TYPES).toContain(e.type);
  });

  it('reads the flexibility event and sequence back from a lifecycle event id, and nothing from others', () => {
    expect(lifecycleOrder('EVENT.STARTED:ev:1:2:12')).toEqual({ event_id: 'ev:1:2', sequence: 12 });
    expect(lifecycleOrder('EVENT.ENDED:7f3e0c52-0000-4000-8000-000000000001:4')).toEqual({
      event_id: '7f3e0c52-0000-4000-8000-000000000001',
      sequence: 4,
    });
    expect(lifecycleOrder('DISPATCH.REJECTED:ev:bess-1')).toBeNull();
    expect(lifecycleOrder('EVENT.ENDED:ev:x')).toBeNull();
  });

  it('is left as it was by an input the rules throw on, so the task can dead-letter it and go on', () => {
    let state = initialAlertState();
    // dt-a alerting after slot 0.
    state = stepAlerts(state, calm('dt-a', 0, { thermal_stress_prob: 0.9 })).state;
    const before = structuredClone([...state.dts]);
    // A row whose slot is not a time: the rules throw half way through (rendering its slot).
    const broken = calm('dt-a', 1, { thermal_stress_prob: 0.1 });
    (broken as { row: DtStress }).row.slot_start = Number.NaN;
    expect(() => stepAlerts(state, broken)).toThrow();
    const unknown = calm('dt-new', 1);
    (unknown as { row: DtStress }).row.slot_start = Number.NaN;
    expect(() => stepAlerts(state, unknown)).toThrow();
    expect([...state.dts]).toEqual(before);
    // And it goes on from there: still alerting, so slot 2 at 0.9 raises nothing.
    expect(stepAlerts(state, calm('dt-a', 2, { thermal_stress_prob: 0.9 })).outputs).toEqual([]);
  });
});
