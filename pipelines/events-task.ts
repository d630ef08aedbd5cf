import { decode, encode } from '../core/codec.js';
import { messageOf } from '../core/errors.js';
import type { Metrics } from '../core/metrics.js';
import { dateOfDay, localDayAndMinute, transformerTimeZone } from '../core/schedule.js';
import { slotStart, SLOT_MS } from '../core/time.js';
import type { Log, LogRecord, TopicPartition } from '../io/log/log.js';
import {
  insertBaselines,
  insertStats,
  insertSteps,
  openEvents,
  type BaselineRow,
  type StatsRow,
} from '../io/warehouse/flex-events.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import { computeBaseline } from '../processors/flexibility/baseline.js';
import { deliveredFlexibility, type MeteredPeriod } from '../processors/flexibility/delivered.js';
import { powerKw } from '../processors/flexibility/dispatch-check.js';
import {
  DEFAULT_LIFECYCLE_CONFIG,
  eventOfStep,
  eventPeriods,
  flexCommand,
  initialLifecycleState,
  resumeLifecycle,
  stepLifecycle,
  type FlexEvent,
  type Job,
  type LifecycleConfig,
  type LifecycleInput,
  type LifecycleOutputs,
  type LifecycleState,
  type StatsSummary,
} from '../processors/flexibility/event-lifecycle.js';
import type { DispatchCommand, FlexEventCommand, FlexEventLifecycle } from '../schemas/types.gen.js';
import { GROUPS, TOPICS } from './log-topics.js';
import { startSinkTask, type SinkContext, type SinkTask } from './runtime/sink-task.js';

export type EventsTask = SinkTask;

export interface EventsTaskOptions {
  log: Log;
  warehouse: Warehouse;
  metrics: Metrics;
  config?: LifecycleConfig;
  /** GRIDSTREAM_TIMEZONE: the zone of DTs whose topology row names none. */
  timeZone?: string;
  /** How long a job waits for the warehouse to hold the readings it needs before it goes on without them. */
  readingsWaitMs?: number;
}

const DAY_MS = 24 * 3_600_000;

/**
 * Flexibility events (docs/methods/flexibility-events.md). One task, group gridstream-events, reading three
 * topics:
 * - gridstream.envelopes: the stream's clock. The end of the newest slot whose envelope has closed is put on
 *   gridstream.events as a tick, so the ticks and the commands have one order, which a replay repeats;
 * - gridstream.dispatches: a dispatch command becomes a `schedule` (its event id, asset and period) or, for a
 *   cancel, a `cancel` on gridstream.events;
 * - gridstream.events (one partition): commands and ticks, fed to the pure lifecycle processor
 *   (processors/flexibility/event-lifecycle.ts). Its jobs (baselines, stats) are run here, from the warehouse,
 *   and their results fed back, so an event's steps come out in order.
 * Each batch's steps go on gridstream.event-lifecycle (for webhooks), then into flex_events, then the offsets
 * are committed. A restarted or new owner resumes from flex_events: a crash after the steps were sent and
 * before they were stored sends them again, the same steps with the same sequence numbers (webhooks and the
 * table keep one of each).
 */
export function startEventsTask(options: EventsTaskOptions): EventsTask {
  const { log, warehouse } = options;
  const config = options.config ?? DEFAULT_LIFECYCLE_CONFIG;
  const readingsWaitMs = options.readingsWaitMs ?? 60_000;
  const producer = log.producer();
  let state: LifecycleState | null = null;
  /** The newest tick this instance put on the log. */
  let lastTick = Number.NEGATIVE_INFINITY;
  let stopping = false;

  const restore = async (): Promise<LifecycleOutputs> => {
    const open = await openEvents(warehouse);
    state = initialLifecycleState(open.steps.map(eventOfStep), open.clockMs ?? Number.NEGATIVE_INFINITY);
    return resumeLifecycle(state, config);
  };

  /** The tick a batch's envelopes make: the end of the newest slot among them, if newer than the last. */
  const tickOf = (records: LogRecord[]): FlexEventCommand | null => {
    let newest = Number.NEGATIVE_INFINITY;
    for (const record of records) {
      if (record.topic !== TOPICS.envelopes.name) continue;
      try {
        newest = Math.max(newest, decode('DtEnvelope', record.value).slot_start + SLOT_MS);
      } catch {
        // The warehouse sink dead-letters an undecodable envelope.
      }
    }
    if (!(newest > lastTick)) return null;
    lastTick = newest;
    return flexCommand('tick', newest, { source: 'clock' });
  };

  /** The commands a batch's dispatch commands make; the tenant is their asset's DT's. */
  const commandsOfDispatches = async (
    records: LogRecord[],
    context: SinkContext,
  ): Promise<FlexEventCommand[]> => {
    const dispatches: Array<{ record: LogRecord; command: DispatchCommand }> = [];
    for (const record of records) {
      if (record.topic !== TOPICS.dispatches.name) continue;
      try {
        dispatches.push({ record, command: decode('DispatchCommand', record.value) });
      } catch {
        // Dead-lettered by the warehouse sink.
      }
    }
    if (dispatches.length === 0) return [];
    const assets = await context.retry('looking up dispatch assets', () =>
      runQuery(warehouse, queries.event_assets, {
        asset_ids: [...new Set(dispatches.map((d) => d.command.asset_id))],
      }),
    );
    const tenantOf = new Map(assets.map((a) => [a.asset_id, a.tenant ?? 'default']));
    const commands: FlexEventCommand[] = [];
    for (const { record, command } of dispatches) {
      const tenant = tenantOf.get(command.asset_id);
      // An asset the topology does not place belongs to no event (its dispatch check says unknown_asset).
      if (tenant === undefined) continue;
      try {
        commands.push(commandOfDispatch(command, tenant));
      } catch (error) {
        context.deadLetter(record, messageOf(error));
      }
    }
    return commands;
  };

  const handle = async (records: LogRecord[], context: SinkContext) => {
    const produced: FlexEventCommand[] = [];
    const tick = tickOf(records);
    produced.push(...(await commandsOfDispatches(records, context)));
    if (tick) produced.push(tick);
    if (produced.length > 0)
      await context.retry('sending event commands', () =>
        producer.send(
          TOPICS.events.name,
          produced.map((c) => ({
            key: c.command === 'tick' ? 'clock' : c.event_id,
            value: encode('FlexEventCommand', c),
          })),
        ),
      );

    const inputs: LifecycleInput[] = [];
    for (const record of records) {
      if (record.topic !== TOPICS.events.name) continue;
      try {
        inputs.push({ type: 'command', command: decode('FlexEventCommand', record.value) });
      } catch (error) {
        context.deadLetter(record, messageOf(error));
      }
    }
    // Only the holder of the events partition keeps the lifecycle; the others only relay and tick.
    if (!ownsEvents || (inputs.length === 0 && state !== null)) return;
    let steps: FlexEventLifecycle[] = [];
    if (state === null) await run(await context.retry('restoring events', restore), steps, context);
    for (const input of inputs) {
      const step = stepLifecycle(state!, input, config);
      await run(step.outputs, steps, context);
    }
    if (steps.length === 0) return;
    // A step re-issued in the same batch (an event widened by a dispatch command) goes out once, as it ends up.
    const newest = new Map(steps.map((s, k) => [`${s.event_id}\n${s.sequence}`, k]));
    steps = steps.filter((s, k) => newest.get(`${s.event_id}\n${s.sequence}`) === k);
    await context.retry('sending event steps', () =>
      producer.send(
        TOPICS.eventLifecycle.name,
        steps.map((s) => ({ key: s.event_id, value: encode('FlexEventLifecycle', s) })),
      ),
    );
    await context.retry('storing event steps', () => insertSteps(warehouse, steps));
  };

  /** Collects the steps and runs each job, feeding its result back (and what that causes), in order. */
  const run = async (outputs: LifecycleOutputs, steps: FlexEventLifecycle[], context: SinkContext) => {
    steps.push(...outputs.steps);
    for (const job of outputs.jobs) {
      const result = await context.retry(`${job.kind} of event ${job.event.eventId}`, () => runJob(job));
      const step = stepLifecycle(state!, result, config);
      await run(step.outputs, steps, context);
    }
  };

  const runJob = async (job: Job): Promise<LifecycleInput> => {
    const places = await runQuery(warehouse, queries.event_assets, { asset_ids: job.event.assetIds });
    await readingsIn(
      [...new Set(places.map((p) => p.dt_id))],
      job.kind === 'stats' ? job.event.endMs : job.asOfMs,
    );
    const assets = places.map((p) => ({
      assetId: p.asset_id,
      meterId: p.meter_id,
      timeZone: transformerTimeZone(
        { timezone: p.timezone, latitude: p.latitude ?? 0, longitude: p.longitude ?? 0 },
        options.timeZone,
      ),
    }));
    const missing = job.event.assetIds.filter((a) => !places.some((p) => p.asset_id === a));
    if (job.kind === 'baselines') {
      const rows = await baselinesOf(job.event, assets, job.issue, job.asOfMs);
      await insertBaselines(warehouse, rows);
      const without = [
        ...new Set(rows.filter((r) => r.baseline_kw === null).map((r) => r.asset_id)),
        ...missing,
      ];
      return {
        type: 'baselines-done',
        eventId: job.event.eventId,
        issue: job.issue,
        asOfMs: job.asOfMs,
        reason: without.length === 0 ? null : `no baseline for ${without.join(', ')}`,
      };
    }
    const { rows, summary } = await statsOf(job.event, assets, job.asOfMs, missing);
    await insertStats(warehouse, rows);
    return { type: 'stats-done', eventId: job.event.eventId, asOfMs: job.asOfMs, summary };
  };

  /**
   * Waits until the warehouse holds readings of every DT up to `throughMs` (the readings table is written
   * alongside the envelopes that moved the clock, a moment apart), at most readingsWaitMs: a DT whose meters
   * stopped reporting does not hold the event up for ever; what is missing shows in the stats' data quality.
   */
  const readingsIn = async (dtIds: string[], throughMs: number) => {
    if (dtIds.length === 0) return;
    const deadline = Date.now() + readingsWaitMs;
    for (;;) {
      const rows = await runQuery(warehouse, queries.dts_readings_through, {
        dt_ids: dtIds,
        from_ms: throughMs - SLOT_MS,
      });
      if (rows.length === dtIds.length && rows.every((r) => r.through_ms >= throughMs - 60_000)) return;
      if (Date.now() >= deadline || stopping) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  const meteredOf = async (meterIds: string[], fromMs: number, toMs: number) => {
    const byMeter = new Map<string, Map<number, MeteredPeriod>>();
    if (meterIds.length === 0) return byMeter;
    const rows = await runQuery(warehouse, queries.meter_period_means, {
      meter_ids: meterIds,
      from_ms: fromMs,
      to_ms: toMs,
    });
    for (const r of rows) {
      let periods = byMeter.get(r.meter_id);
      if (!periods) byMeter.set(r.meter_id, (periods = new Map()));
      periods.set(r.period_ms, { kw: r.p_kw, readings: r.readings });
    }
    return byMeter;
  };

  type Placed = { assetId: string; meterId: string | null; timeZone: string };

  const baselinesOf = async (
    event: FlexEvent,
    assets: Placed[],
    issue: 'day-ahead' | 'adjusted',
    asOfMs: number,
  ): Promise<BaselineRow[]> => {
    const method = event.method;
    const lookbackDays = method.kind === 'like-days' ? method.lookbackDays : 1;
    const fromMs = event.startMs - (lookbackDays + 2) * DAY_MS;
    const meterIds = [...new Set(assets.flatMap((a) => (a.meterId ? [a.meterId] : [])))];
    const history = await meteredOf(meterIds, fromMs, asOfMs);
    const earlier = await runQuery(warehouse, queries.asset_event_windows, {
      asset_ids: event.assetIds,
      from_ms: fromMs,
      to_ms: event.startMs,
    });
    const rows: BaselineRow[] = [];
    const periods = eventPeriods(event);
    for (const asset of assets) {
      const base = {
        event_id: event.eventId,
        issue,
        asset_id: asset.assetId,
        meter_id: asset.meterId,
        issued_at_ms: asOfMs,
        methodology: method.name,
      };
      if (asset.meterId === null) {
        for (const p of periods)
          rows.push({
            ...base,
            period_start_ms: p,
            baseline_kw: null,
            unadjusted_kw: null,
            days_used: [],
            reason: 'the asset has no meter',
          });
        continue;
      }
      const slots = new Map<number, number>();
      for (const [start, m] of history.get(asset.meterId) ?? []) slots.set(start, m.kw);
      const excludedDays = earlier
        .filter((e) => e.event_id !== event.eventId && e.asset_ids.includes(asset.assetId))
        .flatMap((e) => [localDate(e.start_ms, asset.timeZone), localDate(e.end_ms - 1, asset.timeZone)]);
      // A baseline is computed for the periods of one local day: an event across midnight is two.
      for (const dayPeriods of byLocalDay(periods, asset.timeZone)) {
        const baseline = computeBaseline(method, {
          history: slots,
          periods: dayPeriods,
          timeZone: asset.timeZone,
          excludedDays,
          asOf: asOfMs,
        });
        for (const p of dayPeriods) {
          const period = baseline.available ? baseline.periods.find((b) => b.slotStart === p) : undefined;
          rows.push({
            ...base,
            period_start_ms: p,
            baseline_kw: period?.kw ?? null,
            unadjusted_kw: period?.unadjustedKw ?? null,
            days_used: baseline.available ? baseline.daysUsed : [],
            reason: baseline.available ? null : baseline.reason,
          });
        }
      }
    }
    return rows;
  };

  const statsOf = async (
    event: FlexEvent,
    assets: Placed[],
    asOfMs: number,
    missing: string[],
  ): Promise<{ rows: StatsRow[]; summary: StatsSummary }> => {
    const meterIds = [...new Set(assets.flatMap((a) => (a.meterId ? [a.meterId] : [])))];
    const metered = await meteredOf(meterIds, event.startMs, event.endMs);
    const issue = event.baselineIssue ?? 'day-ahead';
    const baselines = await runQuery(warehouse, queries.event_baselines_issue, {
      event_id: event.eventId,
      issue,
    });
    const baselineOf = new Map<string, Map<number, number>>();
    for (const b of baselines) {
      if (b.baseline_kw === null) continue;
      let periods = baselineOf.get(b.asset_id);
      if (!periods) baselineOf.set(b.asset_id, (periods = new Map()));
      periods.set(b.period_start_ms, b.baseline_kw);
    }
    const delivered = deliveredFlexibility({
      direction: event.direction,
      periods: eventPeriods(event),
      target: event.target,
      assets: [
        ...assets.map((a) => ({
          assetId: a.assetId,
          meterId: a.meterId,
          baselineKw: baselineOf.get(a.assetId) ?? null,
          metered: (a.meterId ? metered.get(a.meterId) : undefined) ?? new Map<number, MeteredPeriod>(),
        })),
        // Assets the topology no longer places: no meter, no data; counted against the share with data.
        ...missing.map((assetId) => ({ assetId, meterId: null, baselineKw: null, metered: new Map() })),
      ],
    });
    const rows: StatsRow[] = delivered.periods.map((p) => ({
      event_id: event.eventId,
      asset_id: p.assetId,
      meter_id: p.meterId,
      period_start_ms: p.periodStart,
      baseline_kw: p.baselineKw,
      metered_kw: p.meteredKw,
      delivered_kw: p.deliveredKw,
      delivered_kwh: p.deliveredKwh,
      readings: p.readings,
      data_quality: p.dataQuality,
      computed_at_ms: asOfMs,
    }));
    return {
      rows,
      summary: {
        deliveredKwh: delivered.deliveredKwh,
        shareWithData: delivered.shareWithData,
        dataQuality: delivered.dataQuality,
        reason:
          delivered.assetsWithout.length === 0
            ? null
            : `without a baseline or a reading in some period: ${delivered.assetsWithout.join(', ')}`,
      },
    };
  };

  /** Whether this instance holds the events partition (eager rebalances: revoked whole, then assigned). */
  let ownsEvents = false;
  const holdsEvents = (partitions: TopicPartition[]) =>
    partitions.some((p) => p.topic === TOPICS.events.name);
  const assigned = (partitions: TopicPartition[]) => {
    // The events partition came here: resume from the warehouse, as of what the last holder stored.
    if (holdsEvents(partitions)) {
      ownsEvents = true;
      state = null;
    }
  };
  const revoked = (partitions: TopicPartition[]) => {
    if (holdsEvents(partitions)) {
      ownsEvents = false;
      state = null;
    }
  };

  return startSinkTask({
    log,
    group: GROUPS.events,
    topics: [TOPICS.envelopes.name, TOPICS.dispatches.name, TOPICS.events.name],
    maxBatch: 500,
    metrics: options.metrics,
    onAssigned: assigned,
    onRevoked: revoked,
    onStopping: () => {
      stopping = true;
    },
    handle,
    close: () => producer.close(),
  });
}

/**
 * A dispatch command as an event command: a cancel cancels its event; otherwise it schedules (or adds its
 * asset and period to) the event of its id: one 15-minute period, turn-down when the asset injects (positive
 * target: discharging, export) and turn-up when it withdraws, the target its power.
 */
export function commandOfDispatch(command: DispatchCommand, tenant: string): FlexEventCommand {
  const cancel = (command as { action?: string | null }).action === 'cancel';
  if (cancel)
    return flexCommand('cancel', command.dispatch_time, {
      event_id: command.event_id,
      tenant,
      source: 'dispatch',
      asset_ids: [command.asset_id],
    });
  const kw = powerKw(command.target_power);
  const start = slotStart(command.delivery_period_start);
  return flexCommand('schedule', command.dispatch_time, {
    event_id: command.event_id,
    tenant,
    source: 'dispatch',
    asset_ids: [command.asset_id],
    direction: kw >= 0 ? 'turn-down' : 'turn-up',
    start_ms: start,
    end_ms: start + SLOT_MS,
    target: { amount: String(Math.abs(kw)), unit: 'kW' },
  });
}

function localDate(ms: number, timeZone: string): string {
  return dateOfDay(localDayAndMinute(ms, timeZone).day);
}

function byLocalDay(periods: number[], timeZone: string): number[][] {
  const days = new Map<string, number[]>();
  for (const p of periods) {
    const date = localDate(p, timeZone);
    const list = days.get(date);
    if (list) list.push(p);
    else days.set(date, [p]);
  }
  return [...days.values()];
}
