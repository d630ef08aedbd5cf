import { expect } from 'vitest';
import type { Gridstream } from '../../app/start-gridstream.js';
import { decode } from '../../core/codec.js';
import type { LogConsumer } from '../../io/log/log.js';
import { TOPICS } from '../../pipelines/log-topics.js';
import { ALERT_EVENT_TYPES } from '../../processors/alerts.js';
import type { FlexEventLifecycle } from '../../schemas/types.gen.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { simulateTopology, type SimulateOptions } from '../../simulator/command.js';
import { startReceiver } from './http-receiver.js';
import { apiCall, simulateInto } from './test-gridstream.js';

const H = 3_600_000;

/**
 * A flexibility event on simulated batteries, end to end: 2 DTs × 20 households at 15-minute readings, half
 * with a battery; eight days of history from Wednesday 2026-07-01; on Wednesday 2026-07-08, 19:00–21:00 IST,
 * the batteries behind dt-0001 discharge 3 kW each (turn-down). The event is created through the API before
 * the readings flow; the simulator makes the batteries respond, so the truth is known: 3 kW × 2 h per asset.
 */
export const FLEX_SIM = { seed: 11, transformers: 2, meters: 20, batteryShare: 0.5, intervalS: 900 };
export const FLEX_START = Date.UTC(2026, 6, 8, 13, 30);
export const FLEX_END = FLEX_START + 2 * H;
export const FLEX_KW = 3;
const SIM_START = Date.UTC(2026, 6, 1);
const SIM_END = FLEX_END + 3 * H;

export const EVENT_TYPES = ALERT_EVENT_TYPES.filter((t) => t.startsWith('EVENT.'));

/** The steps an uncancelled high-4-of-5 event goes through, in order. */
export const FLEX_STEPS = [
  'SCHEDULED',
  'BASELINES_READY',
  'BASELINES_READY',
  'STARTED',
  'ENDED',
  'STATS_CALCULATION_STARTED',
  'STATS_READY',
];

/** The batteries behind dt-0001: the event's assets. */
export function flexAssetIds(topology = simulateTopology(FLEX_SIM)): string[] {
  return (topology.assets ?? []).filter((a) => a.dt_id === 'dt-0001').map((a) => a.asset_id);
}

/** The simulation the scenario publishes (simulateInto's options): the batteries respond to the event. */
export function flexSimulation(assetIds: string[]): Omit<SimulateOptions, 'mqttUrl'> {
  return {
    ...FLEX_SIM,
    start: SIM_START,
    end: SIM_END,
    now: SIM_END,
    flexEvents: [{ assetIds, direction: 'turn-down', startMs: FLEX_START, endMs: FLEX_END, kw: FLEX_KW }],
  };
}

/** The POST /v1/events body of the scenario's event. */
export function flexEventRequest(assetIds: string[]) {
  return {
    asset_ids: assetIds,
    direction: 'turn-down',
    start: new Date(FLEX_START).toISOString(),
    end: new Date(FLEX_END).toISOString(),
    target: { amount: FLEX_KW * assetIds.length, unit: 'kW' },
    baseline: { methodology: 'high-4-of-5' },
  };
}

/** What a run of the scenario stored for its event, without the event's id: what two runs can compare. */
export interface FlexOutcome {
  /** flex_events FINAL: each step's type, sequence, time, status and figures, in sequence order. */
  steps: Array<Record<string, unknown>>;
  /** flex_event_baselines FINAL, by issue, asset and period. */
  baselines: Array<Record<string, unknown>>;
  /** flex_event_stats FINAL, by asset and period. */
  stats: Array<Record<string, unknown>>;
}

export async function flexOutcome(warehouse: Warehouse, eventId: string): Promise<FlexOutcome> {
  const params = { id: eventId };
  return {
    steps: await warehouse.query(
      `SELECT step, sequence, at_ms, status, asset_ids, start_ms, end_ms, baseline_issue, delivered_kwh,
              target_kwh, share_with_data, data_quality, reason
       FROM flex_events FINAL WHERE event_id = {id:String} ORDER BY sequence`,
      params,
    ),
    baselines: await warehouse.query(
      `SELECT issue, asset_id, meter_id, period_start_ms, baseline_kw, unadjusted_kw, issued_at_ms, methodology,
              days_used, reason
       FROM flex_event_baselines FINAL WHERE event_id = {id:String} ORDER BY issue, asset_id, period_start_ms`,
      params,
    ),
    stats: await warehouse.query(
      `SELECT asset_id, meter_id, period_start_ms, baseline_kw, metered_kw, delivered_kw, delivered_kwh, readings,
              data_quality, computed_at_ms
       FROM flex_event_stats FINAL WHERE event_id = {id:String} ORDER BY asset_id, period_start_ms`,
      params,
    ),
  };
}

export interface FlexRun {
  eventId: string;
  assetIds: string[];
  /** The lifecycle records of the event on gridstream.event-lifecycle, in log order. */
  records: FlexEventLifecycle[];
  /** The EVENT.* webhooks the subscriber received, in arrival order. */
  webhooks: Array<{ type: string; event_id: string; data: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Runs the scenario on a started test gridstream (embedded or on Kafka; `webhookAllow: '127.0.0.1'`). */
export async function runFlexScenario(g: Gridstream): Promise<FlexRun> {
  const receiver = await startReceiver();
  // Subscribed before anything is written: the in-process log keeps a topic's records only for the groups it
  // knows of.
  const lifecycle = g.edges.log.consumer({
    group: `flex-scenario-${Date.now()}`,
    topics: [TOPICS.eventLifecycle.name],
    fromBeginning: true,
  });
  const topology = simulateTopology(FLEX_SIM);
  await g.pipeline.loadTopology(topology, 'flexibility events');
  const assetIds = flexAssetIds(topology);
  expect(assetIds.length).toBeGreaterThan(3);

  const subscription = await apiCall(g.url, 'POST', '/v1/webhooks', {
    url: `${receiver.url}/events`,
    event_types: EVENT_TYPES,
  });
  expect(subscription.status).toBe(201);

  const created = await apiCall(g.url, 'POST', '/v1/events', flexEventRequest(assetIds));
  expect([201, 202]).toContain(created.status);
  const eventId = ((await created.json()) as { id: string }).id;

  await simulateInto(g, flexSimulation(assetIds), 240_000);
  await until(async () => {
    const rows = await g.edges.warehouse.query<{ n: string }>(
      `SELECT count() AS n FROM flex_events WHERE event_id = {id:String} AND step = 'STATS_READY'`,
      { id: eventId },
    );
    return Number(rows[0]!.n) > 0;
  }, 120_000);
  await until(
    async () => receiver.received.filter((r) => r.path === '/events').length >= FLEX_STEPS.length,
    30_000,
  );

  const records = await lifecycleRecords(lifecycle, eventId);
  const webhooks = receiver.received
    .filter((r) => r.path === '/events')
    .map((r) => JSON.parse(r.raw) as { type: string; event_id: string; data: Record<string, unknown> })
    .filter((w) => w.data.event_id === eventId);
  return { eventId, assetIds, records, webhooks, close: () => receiver.close() };
}

/** Every record of the event on gridstream.event-lifecycle, in log order, by a group subscribed at the start. */
async function lifecycleRecords(consumer: LogConsumer, eventId: string): Promise<FlexEventLifecycle[]> {
  const records: FlexEventLifecycle[] = [];
  try {
    for (let empty = 0; empty < 5;) {
      const batch = await consumer.poll(500, 500);
      if (batch.length === 0) empty++;
      for (const r of batch) {
        const step = decode('FlexEventLifecycle', r.value);
        if (step.event_id === eventId) records.push(step);
      }
    }
  } finally {
    await consumer.close();
  }
  return records;
}

export async function until(done: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not done within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The checks both runs make: every step in order, on the log and as webhooks; baselines before the start; stats against the truth. */
export async function checkFlexRun(g: Gridstream, run: FlexRun, tolerance: number): Promise<void> {
  // Every step once (a replayed batch may put a step on the log twice: the same sequence, the same content).
  const bySequence = new Map(run.records.map((r) => [r.sequence, r]));
  const steps = [...bySequence.values()].sort((a, b) => a.sequence - b.sequence);
  expect(steps.map((s) => s.type)).toEqual(FLEX_STEPS);
  expect(steps.map((s) => s.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  expect(run.records.map((r) => r.sequence)).toEqual(
    [...run.records.map((r) => r.sequence)].sort((a, b) => a - b),
  );
  for (let k = 1; k < steps.length; k++) expect(steps[k]!.at_ms).toBeGreaterThanOrEqual(steps[k - 1]!.at_ms);
  expect(steps.find((s) => s.type === 'STARTED')!.at_ms).toBe(FLEX_START);
  expect(steps.find((s) => s.type === 'ENDED')!.at_ms).toBe(FLEX_END);

  // The webhooks: one per step, in sequence order.
  const seen = new Map<string, (typeof run.webhooks)[number]>();
  for (const w of run.webhooks) if (!seen.has(w.event_id)) seen.set(w.event_id, w);
  const webhooks = [...seen.values()];
  expect(webhooks.map((w) => w.type)).toEqual(FLEX_STEPS.map((s) => `EVENT.${s}`));
  expect(webhooks.map((w) => w.data.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7]);

  // Baselines: day-ahead and adjusted, both issued before the start, for every asset and period.
  const issues = await g.edges.warehouse.query<{ issue: string; issued: string; n: string; with: string }>(
    `SELECT issue, max(issued_at_ms) AS issued, count() AS n, countIf(baseline_kw IS NOT NULL) AS with
     FROM flex_event_baselines FINAL WHERE event_id = {id:String} GROUP BY issue ORDER BY issue`,
    { id: run.eventId },
  );
  expect(issues.map((i) => i.issue)).toEqual(['adjusted', 'day-ahead']);
  for (const i of issues) {
    expect(Number(i.issued)).toBeLessThan(FLEX_START);
    expect(Number(i.n)).toBe(run.assetIds.length * 8);
    expect(Number(i.with)).toBe(run.assetIds.length * 8);
  }

  // Stats: the delivered kWh against the truth, 3 kW × 2 h per battery.
  const truthKwh = FLEX_KW * 2 * run.assetIds.length;
  const ready = steps.at(-1)!;
  expect(ready.share_with_data).toBe(1);
  expect(ready.data_quality).toBe('ami_direct');
  expect(ready.target_kwh).toBeCloseTo(truthKwh, 9);
  const error = (ready.delivered_kwh! - truthKwh) / truthKwh;
  console.log(
    `flexibility event: delivered ${ready.delivered_kwh!.toFixed(2)} kWh against a true ${truthKwh} kWh (${(100 * error).toFixed(1)} %)`,
  );
  expect(Math.abs(error)).toBeLessThan(tolerance);
  const stats = await g.edges.warehouse.query<{ n: string; kwh: number }>(
    `SELECT count() AS n, sum(delivered_kwh) AS kwh FROM flex_event_stats FINAL WHERE event_id = {id:String}`,
    { id: run.eventId },
  );
  expect(Number(stats[0]!.n)).toBe(run.assetIds.length * 8);
  expect(stats[0]!.kwh).toBeCloseTo(ready.delivered_kwh!, 6);
}
