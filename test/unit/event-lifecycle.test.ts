import { describe, expect, it } from 'vitest';
import {
  eventOfStep,
  initialLifecycleState,
  resumeLifecycle,
  stepLifecycle,
  storedMethod,
  type LifecycleInput,
  type LifecycleOutputs,
  type LifecycleState,
} from '../../processors/flexibility/event-lifecycle.js';
import type { FlexEventCommand, FlexEventLifecycle } from '../../schemas/types.gen.js';
import { baselineMethod, METHODOLOGY_NAMES } from '../../processors/flexibility/baseline.js';

const H = 3_600_000;
const START = Date.UTC(2026, 5, 10, 18); // a Wednesday, 18:00 UTC
const END = START + 2 * H;

const base: FlexEventCommand = {
  command: 'schedule',
  event_id: 'ev-1',
  at_ms: START - 3 * 24 * H,
  tenant: 'acme',
  source: 'api',
  asset_ids: ['bess-1', 'bess-2'],
  direction: 'turn-down',
  start_ms: START,
  end_ms: END,
  target: { amount: '6', unit: 'kW' },
  baseline: null,
};
const tick = (at: number): LifecycleInput => ({
  type: 'command',
  command: { ...base, command: 'tick', event_id: '', tenant: null, source: 'clock', at_ms: at },
});
const schedule = (over: Partial<FlexEventCommand> = {}): LifecycleInput => ({
  type: 'command',
  command: { ...base, ...over },
});
const cancel = (at: number, over: Partial<FlexEventCommand> = {}): LifecycleInput => ({
  type: 'command',
  command: { ...base, command: 'cancel', at_ms: at, source: 'api', ...over },
});

/** Feeds inputs, answering each job as the events task would, and returns every step in order. */
function drive(inputs: LifecycleInput[], state: LifecycleState = initialLifecycleState()) {
  const steps: FlexEventLifecycle[] = [];
  const jobs: string[] = [];
  const run = (outputs: LifecycleOutputs) => {
    steps.push(...outputs.steps);
    for (const job of outputs.jobs) {
      jobs.push(job.kind === 'baselines' ? `baselines ${job.issue} @${job.asOfMs}` : `stats @${job.asOfMs}`);
      const result: LifecycleInput =
        job.kind === 'baselines'
          ? {
              type: 'baselines-done',
              eventId: job.event.eventId,
              issue: job.issue,
              asOfMs: job.asOfMs,
              reason: null,
            }
          : {
              type: 'stats-done',
              eventId: job.event.eventId,
              asOfMs: job.asOfMs,
              summary: { deliveredKwh: 11.5, shareWithData: 1, dataQuality: 'ami_direct', reason: null },
            };
      run(stepLifecycle(state, result).outputs);
    }
  };
  for (const input of inputs) run(stepLifecycle(state, input).outputs);
  return { steps, jobs, state };
}

const types = (steps: FlexEventLifecycle[]) => steps.map((s) => s.type);

describe('flexibility event lifecycle', () => {
  it('goes SCHEDULED → day-ahead and adjusted BASELINES_READY → STARTED → ENDED → STATS_* as the stream time passes', () => {
    const { steps, jobs } = drive([
      tick(START - 3 * 24 * H),
      schedule(),
      tick(START - 25 * H),
      tick(START - 24 * H),
      tick(START - 22 * H),
      tick(START - 2 * H),
      tick(START - H),
      tick(START),
      tick(START + H),
      tick(END),
    ]);
    expect(types(steps)).toEqual([
      'SCHEDULED',
      'BASELINES_READY',
      'BASELINES_READY',
      'STARTED',
      'ENDED',
      'STATS_CALCULATION_STARTED',
      'STATS_READY',
    ]);
    expect(steps.map((s) => s.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(steps.map((s) => s.status)).toEqual([
      'SCHEDULED',
      'SCHEDULED',
      'SCHEDULED',
      'STARTED',
      'ENDED',
      'STATS_CALCULATION_STARTED',
      'STATS_READY',
    ]);
    expect(steps.map((s) => s.baseline_issue)).toEqual([
      null,
      'day-ahead',
      'adjusted',
      'adjusted',
      'adjusted',
      'adjusted',
      'adjusted',
    ]);
    // high-4-of-5's adjustment window closes an hour before the start.
    expect(jobs).toEqual([
      `baselines day-ahead @${START - 22 * H}`,
      `baselines adjusted @${START - H}`,
      `stats @${END}`,
    ]);
    expect(steps.map((s) => s.at_ms)).toEqual([
      START - 3 * 24 * H,
      START - 22 * H,
      START - H,
      START,
      END,
      END,
      END,
    ]);
    expect(steps.at(-1)).toMatchObject({ delivered_kwh: 11.5, target_kwh: 12, share_with_data: 1 });
    // Baselines are issued before the start.
    for (const s of steps.filter((s) => s.type === 'BASELINES_READY')) expect(s.at_ms).toBeLessThan(START);
  });

  it('gives the same steps, in the same order and at the same times, when one tick jumps past the whole event', () => {
    const stepwise = drive([schedule(), tick(START - 24 * H), tick(START - H), tick(START), tick(END)]);
    const jump = drive([schedule(), tick(END + H)]);
    expect(types(jump.steps)).toEqual(types(stepwise.steps));
    // The day-ahead issue is made as of when it was due, however the ticks fell.
    expect(jump.jobs[0]).toBe(`baselines day-ahead @${START - 22 * H}`);
    expect(jump.jobs[0]).toBe(stepwise.jobs[0]);
    expect(jump.steps.slice(2).map((s) => s.at_ms)).toEqual(stepwise.steps.slice(2).map((s) => s.at_ms));
  });

  it('replays to the same steps', () => {
    const inputs = [schedule(), tick(START - 24 * H), cancel(START - 2 * H, { event_id: 'nope' }), tick(END)];
    expect(drive(inputs).steps).toEqual(drive(inputs).steps);
  });

  it('issues day-ahead baselines only for a methodology without an in-day adjustment', () => {
    const { steps, jobs } = drive([
      schedule({ baseline: JSON.stringify({ methodology: 'same-period-yesterday' }) }),
      tick(END),
    ]);
    expect(types(steps)).toEqual([
      'SCHEDULED',
      'BASELINES_READY',
      'STARTED',
      'ENDED',
      'STATS_CALCULATION_STARTED',
      'STATS_READY',
    ]);
    expect(jobs.filter((j) => j.startsWith('baselines'))).toEqual([`baselines day-ahead @${END - 24 * H}`]);
  });

  it('cancels before the end and then does nothing more; a cancel after the end or of another tenant is ignored', () => {
    const cancelled = drive([
      schedule(),
      tick(START - 24 * H),
      tick(START + H),
      cancel(START + H),
      tick(END),
    ]);
    expect(types(cancelled.steps)).toEqual([
      'SCHEDULED',
      'BASELINES_READY',
      'BASELINES_READY',
      'STARTED',
      'CANCELLED',
    ]);
    expect(cancelled.steps.at(-1)).toMatchObject({ status: 'CANCELLED', sequence: 5, at_ms: START + H });
    expect(cancelled.state.events.size).toBe(0);

    const late = drive([schedule(), tick(END), cancel(END + H)]);
    expect(types(late.steps)).not.toContain('CANCELLED');
    const foreign = drive([schedule(), cancel(START - H, { tenant: 'other' }), tick(START)]);
    expect(types(foreign.steps)).not.toContain('CANCELLED');
    // A cancel over MQTT comes on an asset's dispatch topic: only one of the event's assets cancels it.
    const elsewhere = drive([schedule(), cancel(START - H, { source: 'dispatch', asset_ids: ['bess-9'] })]);
    expect(types(elsewhere.steps)).not.toContain('CANCELLED');
    const own = drive([schedule(), cancel(START - H, { source: 'dispatch', asset_ids: ['bess-2'] })]);
    expect(types(own.steps)).toContain('CANCELLED');
  });

  it('folds the dispatch commands of one event into it while it is scheduled: assets added, window widened, targets summed', () => {
    const dispatch = (asset: string, start: number, kw: string): LifecycleInput =>
      schedule({
        source: 'dispatch',
        asset_ids: [asset],
        start_ms: start,
        end_ms: start + 15 * 60_000,
        target: { amount: kw, unit: 'kW' },
      });
    const { steps, state } = drive([
      dispatch('bess-1', START, '3'),
      dispatch('bess-2', START + 15 * 60_000, '2.5'),
      dispatch('bess-2', START + 15 * 60_000, '2.5'), // a copy
    ]);
    // The widened event re-issues its SCHEDULED step, same sequence and time, so it is stored as it stands.
    expect(steps.map((s) => [s.type, s.sequence, s.asset_ids, s.end_ms, s.target?.amount])).toEqual([
      ['SCHEDULED', 1, ['bess-1'], START + 15 * 60_000, '3'],
      ['SCHEDULED', 1, ['bess-1', 'bess-2'], START + 30 * 60_000, '5.5'],
    ]);
    expect(steps[1]!.at_ms).toBe(steps[0]!.at_ms);
    const event = state.events.get('ev-1')!;
    expect(event.assetIds).toEqual(['bess-1', 'bess-2']);
    expect([event.startMs, event.endMs]).toEqual([START, START + 30 * 60_000]);
    expect(event.target).toEqual({ amount: '5.5', unit: 'kW' });

    // Widened after its day-ahead baselines: they are issued again, for the assets and periods it now has.
    const later = drive([
      dispatch('bess-1', START, '3'),
      tick(START - 2 * H),
      dispatch('bess-2', START, '2'),
    ]);
    // Due 24 h before the end of the one period.
    expect(later.jobs).toEqual([
      `baselines day-ahead @${START + 15 * 60_000 - 24 * H}`,
      `baselines day-ahead @${START + 15 * 60_000 - 24 * H}`,
    ]);
    expect(later.steps.map((s) => [s.type, s.sequence, s.asset_ids])).toEqual([
      ['SCHEDULED', 1, ['bess-1']],
      ['BASELINES_READY', 2, ['bess-1']],
      ['BASELINES_READY', 3, ['bess-1', 'bess-2']],
    ]);
  });

  it('cancels on a dispatch command only when it names one of the event’s assets', () => {
    const foreign = drive([schedule(), cancel(START - H, { source: 'dispatch', asset_ids: ['bess-9'] })]);
    expect(types(foreign.steps)).toEqual(['SCHEDULED']);
    const own = drive([schedule(), cancel(START - H, { source: 'dispatch', asset_ids: ['bess-2'] })]);
    expect(types(own.steps)).toEqual(['SCHEDULED', 'CANCELLED']);
  });

  it('ignores a second schedule of an event from the API and a schedule that is not whole', () => {
    const { steps, state } = drive([
      schedule(),
      schedule({ asset_ids: ['bess-9'] }),
      schedule({ event_id: 'ev-2', start_ms: START + 1 }),
      schedule({ event_id: 'ev-3', end_ms: START }),
    ]);
    expect(types(steps)).toEqual(['SCHEDULED']);
    expect(state.events.get('ev-1')!.assetIds).toEqual(['bess-1', 'bess-2']);
  });

  it('falls back to the default methodology, saying so, when a command names an unknown one', () => {
    const { steps } = drive([schedule({ baseline: JSON.stringify({ methodology: 'magic' }) })]);
    expect(JSON.parse(steps[0]!.methodology).name).toBe('high-4-of-5');
    expect(steps[0]!.reason).toMatch(/baseline\.methodology must be one of/);
  });

  it('resumes from stored steps: an event whose stats were being computed computes them again', () => {
    const { steps } = drive([schedule(), tick(END)]);
    const calculating = steps.find((s) => s.type === 'STATS_CALCULATION_STARTED')!;
    const state = initialLifecycleState([eventOfStep(calculating)], calculating.at_ms);
    const resumed = resumeLifecycle(state);
    expect(resumed.jobs.map((j) => j.kind)).toEqual(['stats']);
    const done = stepLifecycle(state, {
      type: 'stats-done',
      eventId: 'ev-1',
      asOfMs: END,
      summary: { deliveredKwh: 1, shareWithData: 0.5, dataQuality: 'ami_partial', reason: 'x' },
    });
    expect(done.outputs.steps.map((s) => [s.type, s.sequence])).toEqual([
      ['STATS_READY', calculating.sequence + 1],
    ]);
  });

  it('restores an event from its step exactly', () => {
    const { steps } = drive([schedule(), tick(START - H)]);
    const last = steps.at(-1)!;
    const event = eventOfStep(last);
    expect(event).toMatchObject({
      eventId: 'ev-1',
      tenant: 'acme',
      assetIds: ['bess-1', 'bess-2'],
      status: 'SCHEDULED',
      sequence: last.sequence,
      baselineIssue: 'adjusted',
      startMs: START,
      endMs: END,
    });
  });

  it('reads a stored methodology back whole, a request-shaped one resolved, anything else as the default', () => {
    for (const name of METHODOLOGY_NAMES) {
      const method = baselineMethod(name);
      expect(storedMethod(JSON.stringify(method))).toEqual(method);
    }
    const custom = baselineMethod('10-of-10', { weekday: { x: 3, y: 6 }, adjustment: null });
    expect(storedMethod(JSON.stringify(custom))).toEqual(custom);
    expect(storedMethod(JSON.stringify({ methodology: 'high-5-of-10', lookbackDays: 30 }))).toEqual(
      baselineMethod('high-5-of-10', { lookbackDays: 30 }),
    );
    expect(storedMethod('{"name":"high-4-of-5","kind":"like-days"}')).toEqual(baselineMethod('high-4-of-5'));
    expect(storedMethod('not json')).toEqual(baselineMethod('high-4-of-5'));
    expect(storedMethod('{"methodology":"magic"}')).toEqual(baselineMethod('high-4-of-5'));
  });

  it('never dates a step before the one before it, whatever clock the request came with', () => {
    // Scheduled (with the API's present) before the stream has any time, as when history is replayed.
    const replayed = drive([schedule({ at_ms: END + 90 * 24 * H }), tick(START - 24 * H), tick(END)]);
    const times = replayed.steps.map((s) => s.at_ms);
    expect(times[0]).toBe(END - 24 * H);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // Scheduled once the stream is past the start: dated at the stream time, and started no earlier.
    const late = drive([tick(START + H), schedule({ at_ms: 0 }), tick(END)]);
    expect(late.steps.map((s) => [s.type, s.at_ms]).slice(0, 4)).toEqual([
      ['SCHEDULED', START + H],
      ['BASELINES_READY', START + H],
      ['BASELINES_READY', START + H],
      ['STARTED', START + H],
    ]);
  });
});
