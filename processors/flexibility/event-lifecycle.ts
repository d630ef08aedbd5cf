import { SLOT_MS } from '../../core/time.js';
import type { FlexAmount, FlexEventCommand, FlexEventLifecycle } from '../../schemas/types.gen.js';
import {
  baselineMethod,
  type BaselineMethod,
  type MethodOverrides,
  type MethodologyName,
  METHODOLOGY_NAMES,
} from './baseline.js';
import { targetKwh } from './delivered.js';

/**
 * The lifecycle of flexibility events, driven by event time (docs/methods/flexibility-events.md). Pure: the
 * commands and clock ticks of gridstream.events in, lifecycle steps and work to do out; no I/O and no clock.
 * Every input comes from one log partition in one order, so a replay of it gives the same steps, with the
 * same sequence numbers and times.
 *
 * An event moves SCHEDULED → STARTED (the stream time reaches its start) → ENDED (its end), or CANCELLED
 * before it ends; then STATS_CALCULATION_STARTED → STATS_READY. Baselines are issued day-ahead (once the
 * stream time is within a day of the start) and, for a methodology with an in-day adjustment, again once its
 * window has closed; each issue is a BASELINES_READY step. Baselines and stats need the warehouse: the
 * processor asks for them as jobs, holds the event until the job's result comes back as an input, and only
 * then moves it on, so an event's steps come out in order.
 */

export type Direction = 'turn-down' | 'turn-up';
export type BaselineIssue = 'day-ahead' | 'adjusted';
export type EventStatus =
  'SCHEDULED' | 'STARTED' | 'ENDED' | 'CANCELLED' | 'STATS_CALCULATION_STARTED' | 'STATS_READY';

/** The event as it stands (what each step carries). */
export interface FlexEvent {
  eventId: string;
  tenant: string;
  source: string;
  assetIds: string[];
  direction: Direction;
  startMs: number;
  endMs: number;
  target: FlexAmount | null;
  method: BaselineMethod;
  status: EventStatus;
  /** The last step's sequence (1: SCHEDULED). */
  sequence: number;
  baselineIssue: BaselineIssue | null;
  stats: StatsSummary | null;
  /** The time of its last step: a step is never earlier than the one before it. */
  atMs: number;
}

export interface StatsSummary {
  deliveredKwh: number;
  shareWithData: number;
  dataQuality: string;
  /** Assets without a baseline or data in some period, if any. */
  reason: string | null;
}

export type Job =
  | { kind: 'baselines'; event: FlexEvent; issue: BaselineIssue; asOfMs: number }
  | { kind: 'stats'; event: FlexEvent; asOfMs: number };

export type LifecycleInput =
  | { type: 'command'; command: FlexEventCommand }
  | { type: 'baselines-done'; eventId: string; issue: BaselineIssue; asOfMs: number; reason: string | null }
  | { type: 'stats-done'; eventId: string; asOfMs: number; summary: StatsSummary };

export interface LifecycleConfig {
  /** The methodology of an event that names none. */
  defaultMethodology: MethodologyName;
  /**
   * How long before the end the day-ahead baselines are issued, ms: a day, so the same periods of the day
   * before (which a same-period-yesterday baseline reads) are over, and the issue comes before the start.
   */
  dayAheadMs: number;
  /** How long after the end the stats are computed (late readings still counted), ms. */
  statsDelayMs: number;
}

export const DEFAULT_LIFECYCLE_CONFIG: LifecycleConfig = {
  defaultMethodology: 'high-4-of-5',
  dayAheadMs: 24 * 3_600_000,
  statsDelayMs: 0,
};

export interface LifecycleState {
  /** The stream time reached: the newest tick. */
  clockMs: number;
  events: Map<string, FlexEvent>;
  /** Events waiting for a job's result: they move on only once it comes. */
  waiting: Set<string>;
}

export function initialLifecycleState(
  events: FlexEvent[] = [],
  clockMs = Number.NEGATIVE_INFINITY,
): LifecycleState {
  return { clockMs, events: new Map(events.map((e) => [e.eventId, e])), waiting: new Set() };
}

export interface LifecycleOutputs {
  steps: FlexEventLifecycle[];
  jobs: Job[];
}

const TERMINAL: ReadonlySet<EventStatus> = new Set(['CANCELLED', 'STATS_READY']);

/** The resolved methodology of a schedule command's `baseline` JSON; throws naming what is wrong. */
export function methodOf(baseline: string | null, config: LifecycleConfig): BaselineMethod {
  if (baseline === null) return baselineMethod(config.defaultMethodology);
  const { methodology, ...overrides } = JSON.parse(baseline) as { methodology?: unknown };
  if (typeof methodology !== 'string' || !(METHODOLOGY_NAMES as string[]).includes(methodology))
    throw new Error(`baseline.methodology must be one of ${METHODOLOGY_NAMES.join(', ')}`);
  return baselineMethod(methodology as MethodologyName, overrides);
}

/** A command for gridstream.events: `fields` over the empty command (no event, assets or window). */
export function flexCommand(
  command: FlexEventCommand['command'],
  atMs: number,
  fields: Partial<Omit<FlexEventCommand, 'command' | 'at_ms'>> = {},
): FlexEventCommand {
  return {
    event_id: '',
    tenant: null,
    source: null,
    asset_ids: [],
    direction: null,
    start_ms: null,
    end_ms: null,
    target: null,
    baseline: null,
    ...fields,
    command,
    at_ms: atMs,
  };
}

/** The event's 15-minute period starts. */
export function eventPeriods(event: Pick<FlexEvent, 'startMs' | 'endMs'>): number[] {
  const periods: number[] = [];
  for (let t = event.startMs; t < event.endMs; t += SLOT_MS) periods.push(t);
  return periods;
}

/**
 * The step record of an event as it stands, at `atMs` or, if that is earlier, its last step's time (which it
 * moves: `event` is the new state of the event, not yet shared).
 */
export function stepRecord(
  event: FlexEvent,
  type: FlexEventLifecycle['type'],
  atMs: number,
  reason: string | null = null,
): FlexEventLifecycle {
  event.atMs = Math.max(atMs, event.atMs);
  return {
    event_id: event.eventId,
    tenant: event.tenant,
    type,
    status: event.status,
    sequence: event.sequence,
    at_ms: event.atMs,
    source: event.source,
    asset_ids: event.assetIds,
    direction: event.direction,
    start_ms: event.startMs,
    end_ms: event.endMs,
    target: event.target,
    methodology: JSON.stringify(event.method),
    baseline_issue: event.baselineIssue,
    delivered_kwh: event.stats?.deliveredKwh ?? null,
    target_kwh: targetKwh(event.target, eventPeriods(event).length),
    share_with_data: event.stats?.shareWithData ?? null,
    data_quality: event.stats?.dataQuality ?? null,
    reason,
  };
}

/**
 * A step's methodology JSON as a whole, checked method: what the processor stored (name, kind and every
 * parameter) or a request's `{methodology, ...overrides}`; the default methodology's where it is neither.
 */
export function storedMethod(
  json: string,
  config: LifecycleConfig = DEFAULT_LIFECYCLE_CONFIG,
): BaselineMethod {
  try {
    const { name, methodology, kind: _kind, ...parameters } = JSON.parse(json) as Record<string, unknown>;
    const named = typeof name === 'string' ? name : methodology;
    if (typeof named !== 'string' || !(METHODOLOGY_NAMES as string[]).includes(named))
      return baselineMethod(config.defaultMethodology);
    const standard = baselineMethod(named as MethodologyName);
    return baselineMethod(
      named as MethodologyName,
      standard.kind === 'previous-day' ? {} : (parameters as MethodOverrides),
    );
  } catch {
    return baselineMethod(config.defaultMethodology);
  }
}

/** The event a stored step describes (restoring the state from the warehouse). */
export function eventOfStep(step: FlexEventLifecycle): FlexEvent {
  return {
    eventId: step.event_id,
    tenant: step.tenant,
    source: step.source,
    assetIds: [...step.asset_ids],
    direction: step.direction as Direction,
    startMs: step.start_ms,
    endMs: step.end_ms,
    target: step.target,
    method: storedMethod(step.methodology),
    status: step.status as EventStatus,
    sequence: step.sequence,
    baselineIssue: step.baseline_issue as BaselineIssue | null,
    stats:
      step.delivered_kwh === null
        ? null
        : {
            deliveredKwh: step.delivered_kwh,
            shareWithData: step.share_with_data ?? 0,
            dataQuality: step.data_quality ?? 'none',
            reason: step.reason,
          },
    atMs: step.at_ms,
  };
}

/**
 * Applies one input. The state is changed in place (an event replaced only once its change is whole) and
 * returned with the steps and jobs the input causes, in order.
 */
export function stepLifecycle(
  state: LifecycleState,
  input: LifecycleInput,
  config: LifecycleConfig = DEFAULT_LIFECYCLE_CONFIG,
): { state: LifecycleState; outputs: LifecycleOutputs } {
  const out: LifecycleOutputs = { steps: [], jobs: [] };
  switch (input.type) {
    case 'command': {
      const c = input.command;
      if (c.command === 'tick') {
        if (c.at_ms <= state.clockMs) break;
        state.clockMs = c.at_ms;
        // In start order, then id: one order however the events were scheduled.
        const events = [...state.events.values()].sort(
          (a, b) => a.startMs - b.startMs || (a.eventId < b.eventId ? -1 : 1),
        );
        for (const event of events) advance(state, event.eventId, config, out);
      } else if (c.command === 'schedule') schedule(state, c, config, out);
      else cancel(state, c, out);
      break;
    }
    case 'baselines-done': {
      const event = state.events.get(input.eventId);
      if (!event || !state.waiting.has(input.eventId)) break;
      state.waiting.delete(input.eventId);
      if (TERMINAL.has(event.status)) break;
      const next = { ...event, baselineIssue: input.issue, sequence: event.sequence + 1 };
      state.events.set(next.eventId, next);
      out.steps.push(stepRecord(next, 'BASELINES_READY', input.asOfMs, input.reason));
      advance(state, next.eventId, config, out);
      break;
    }
    case 'stats-done': {
      const event = state.events.get(input.eventId);
      if (!event || !state.waiting.has(input.eventId)) break;
      state.waiting.delete(input.eventId);
      if (event.status !== 'STATS_CALCULATION_STARTED') break;
      const next: FlexEvent = {
        ...event,
        status: 'STATS_READY',
        sequence: event.sequence + 1,
        stats: input.summary,
      };
      state.events.set(next.eventId, next);
      out.steps.push(stepRecord(next, 'STATS_READY', input.asOfMs, input.summary.reason));
      // Done: nothing more will happen to it.
      state.events.delete(next.eventId);
      break;
    }
  }
  return { state, outputs: out };
}

function schedule(
  state: LifecycleState,
  c: FlexEventCommand,
  config: LifecycleConfig,
  out: LifecycleOutputs,
): void {
  if (c.start_ms === null || c.end_ms === null || c.direction === null || c.tenant === null) return;
  if (c.direction !== 'turn-down' && c.direction !== 'turn-up') return;
  if (c.start_ms % SLOT_MS !== 0 || c.end_ms % SLOT_MS !== 0 || c.end_ms <= c.start_ms) return;
  const known = state.events.get(c.event_id);
  if (known) {
    // A dispatch command of an event already scheduled adds its asset and period while the event has not
    // started (the platforms send one command per asset and period); anything else is a copy, ignored.
    if (known.status !== 'SCHEDULED' || c.source !== 'dispatch' || known.source !== 'dispatch') return;
    if (known.tenant !== c.tenant || known.direction !== c.direction) return;
    const newAssets = c.asset_ids.filter((a) => !known.assetIds.includes(a));
    const startMs = Math.min(known.startMs, c.start_ms);
    const endMs = Math.max(known.endMs, c.end_ms);
    if (newAssets.length === 0 && startMs === known.startMs && endMs === known.endMs) return;
    const widened: FlexEvent = {
      ...known,
      assetIds: [...known.assetIds, ...newAssets],
      startMs,
      endMs,
      target: newAssets.length > 0 ? addTargets(known.target, c.target) : known.target,
    };
    state.events.set(known.eventId, widened);
    // A job in flight carries the event on once its result comes (the events task runs each job first).
    if (state.waiting.has(known.eventId)) return;
    if (known.baselineIssue === null) {
      // The SCHEDULED step again, same sequence, as the event now stands: flex_events keeps the newer row, so
      // the API and a restarted task see the widened event (subscribers were sent the step already).
      out.steps.push(stepRecord(widened, 'SCHEDULED', widened.atMs));
    } else {
      // Baselines issued for the narrower event do not cover the new assets and periods: issued again.
      widened.baselineIssue = null;
      advance(state, known.eventId, config, out);
    }
    return;
  }
  let method: BaselineMethod;
  let reason: string | null = null;
  try {
    method = methodOf(c.baseline, config);
  } catch (error) {
    // The API checks the methodology; a command from elsewhere with a bad one gets the default, and says so.
    method = baselineMethod(config.defaultMethodology);
    reason = `baseline: ${(error as Error).message}; ${config.defaultMethodology} used`;
  }
  const event: FlexEvent = {
    eventId: c.event_id,
    tenant: c.tenant,
    source: c.source ?? 'api',
    assetIds: [...new Set(c.asset_ids)],
    direction: c.direction,
    startMs: c.start_ms,
    endMs: c.end_ms,
    target: c.target,
    method,
    status: 'SCHEDULED',
    sequence: 1,
    baselineIssue: null,
    stats: null,
    atMs: Number.NEGATIVE_INFINITY,
  };
  state.events.set(event.eventId, event);
  // Its time is the stream's when the command is read. Before any tick (commands read ahead of the readings,
  // as in a replay) the request's own time, but no later than when day-ahead baselines are due.
  const atMs = Number.isFinite(state.clockMs)
    ? state.clockMs
    : Math.min(c.at_ms, c.end_ms - config.dayAheadMs);
  out.steps.push(stepRecord(event, 'SCHEDULED', atMs, reason));
  advance(state, event.eventId, config, out);
}

/** The sum of two targets of the same unit; a mix of units keeps the first. */
function addTargets(a: FlexAmount | null, b: FlexAmount | null): FlexAmount | null {
  if (a === null) return b;
  if (b === null || a.unit !== b.unit) return a;
  return { amount: String(Number(a.amount) + Number(b.amount)), unit: a.unit };
}

function cancel(state: LifecycleState, c: FlexEventCommand, out: LifecycleOutputs): void {
  const event = state.events.get(c.event_id);
  if (!event || (event.status !== 'SCHEDULED' && event.status !== 'STARTED')) return;
  if (c.tenant !== null && c.tenant !== event.tenant) return;
  // A platform may cancel only on the dispatch topics of assets it may dispatch (the broker's ACL): the one
  // it names must be one of the event's, or any platform could cancel any event by its id.
  if (c.source === 'dispatch' && !c.asset_ids.some((a) => event.assetIds.includes(a))) return;
  const next: FlexEvent = { ...event, status: 'CANCELLED', sequence: event.sequence + 1 };
  state.waiting.delete(event.eventId);
  state.events.delete(event.eventId);
  out.steps.push(
    stepRecord(
      next,
      'CANCELLED',
      Number.isFinite(state.clockMs) ? state.clockMs : c.at_ms,
      `cancelled by ${c.source ?? 'api'}`,
    ),
  );
}

/**
 * Moves an event on as far as the stream time allows, stopping at the first job (the event then waits for its
 * result). The order within one stream time: day-ahead baselines, adjusted baselines, STARTED, ENDED, stats.
 */
function advance(
  state: LifecycleState,
  eventId: string,
  config: LifecycleConfig,
  out: LifecycleOutputs,
): void {
  const clock = state.clockMs;
  for (;;) {
    const event = state.events.get(eventId);
    if (!event || state.waiting.has(eventId) || TERMINAL.has(event.status)) return;
    const window = event.method.kind === 'like-days' ? event.method.adjustment : null;
    const adjustedAt = window === null ? null : event.startMs - window.windowEndMinutes * 60_000;
    if (
      event.baselineIssue === null &&
      event.status === 'SCHEDULED' &&
      clock >= event.endMs - config.dayAheadMs
    ) {
      // As of when they are due (or, scheduled later, when the event was scheduled): an instant of the event's
      // own, not of how the clock's ticks fell; never with readings of the event itself.
      const asOfMs = Math.min(
        Math.max(event.endMs - config.dayAheadMs, event.atMs),
        adjustedAt ?? event.startMs,
        event.startMs,
      );
      state.waiting.add(eventId);
      out.jobs.push({ kind: 'baselines', event, issue: 'day-ahead', asOfMs });
      return;
    }
    if (
      adjustedAt !== null &&
      event.baselineIssue === 'day-ahead' &&
      event.status === 'SCHEDULED' &&
      clock >= adjustedAt
    ) {
      state.waiting.add(eventId);
      out.jobs.push({ kind: 'baselines', event, issue: 'adjusted', asOfMs: adjustedAt });
      return;
    }
    if (event.status === 'SCHEDULED' && clock >= event.startMs) {
      const next: FlexEvent = { ...event, status: 'STARTED', sequence: event.sequence + 1 };
      state.events.set(eventId, next);
      out.steps.push(stepRecord(next, 'STARTED', event.startMs));
      continue;
    }
    if (event.status === 'STARTED' && clock >= event.endMs) {
      const next: FlexEvent = { ...event, status: 'ENDED', sequence: event.sequence + 1 };
      state.events.set(eventId, next);
      out.steps.push(stepRecord(next, 'ENDED', event.endMs));
      continue;
    }
    if (event.status === 'ENDED' && clock >= event.endMs + config.statsDelayMs) {
      const next: FlexEvent = { ...event, status: 'STATS_CALCULATION_STARTED', sequence: event.sequence + 1 };
      state.events.set(eventId, next);
      out.steps.push(stepRecord(next, 'STATS_CALCULATION_STARTED', event.endMs + config.statsDelayMs));
      continue;
    }
    if (event.status === 'STATS_CALCULATION_STARTED') {
      // Also where a restarted task finds an event whose stats were being computed.
      state.waiting.add(eventId);
      out.jobs.push({ kind: 'stats', event, asOfMs: event.endMs + config.statsDelayMs });
      return;
    }
    return;
  }
}

/**
 * The jobs of events restored from the warehouse that wait for one (e.g. stats being computed when the last
 * owner stopped), and the steps the stream time already allows: called once after restoring.
 */
export function resumeLifecycle(
  state: LifecycleState,
  config: LifecycleConfig = DEFAULT_LIFECYCLE_CONFIG,
): LifecycleOutputs {
  const out: LifecycleOutputs = { steps: [], jobs: [] };
  const events = [...state.events.values()].sort(
    (a, b) => a.startMs - b.startMs || (a.eventId < b.eventId ? -1 : 1),
  );
  for (const event of events) advance(state, event.eventId, config, out);
  return out;
}
