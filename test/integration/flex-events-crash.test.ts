import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../../io/warehouse/open.js';
import { createSimulation } from '../../simulator/model.js';
import { planSimulation, simulateTopology } from '../../simulator/command.js';
import {
  EVENT_TYPES,
  FLEX_END,
  FLEX_START,
  FLEX_SIM,
  FLEX_STEPS,
  flexAssetIds,
  flexEventRequest,
  flexOutcome,
  flexSimulation,
  runFlexScenario,
  until,
  type FlexOutcome,
} from '../support/flex-scenario.js';
import { startReceiver } from '../support/http-receiver.js';
import { freePort } from '../support/ports.js';
import { Publisher } from '../support/qos1-publisher.js';
import { startRole, urlOf, type RoleProcess } from '../support/role-process.js';
import {
  apiCall,
  startTestGridstream,
  TEST_API_KEY,
  TEST_MQTT_USERS,
  withTestMqttCredentials,
} from '../support/test-gridstream.js';

/**
 * The flexibility-event scenario (test/support/flex-scenario.ts) with `gridstream run` killed with -9 while the
 * event is going on (as soon as it is STARTED), restarted on the same data directory, and the rest of the
 * history published by a QoS 1 publisher that sends again what was not acknowledged. The event must come out as
 * the uninterrupted run's: every step once, every webhook at least once and in order, the same baselines and
 * the same delivered flexibility.
 */
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** The uninterrupted run, embedded in this process: what the interrupted one must equal. */
async function uninterrupted(): Promise<FlexOutcome> {
  const g = await startTestGridstream({ webhookAllow: '127.0.0.1' });
  try {
    const run = await runFlexScenario(g);
    await run.close();
    return await flexOutcome(g.edges.warehouse, run.eventId);
  } finally {
    await g.stop();
  }
}

describe('a flexibility event under kill -9 of embedded gridstream', () => {
  it('stores each step once, sends every webhook in order, and ends with the uninterrupted run’s baselines and stats', async () => {
    const expected = await uninterrupted();
    expect(expected.steps.map((s) => s.step)).toEqual(FLEX_STEPS);

    const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-flex-crash-'));
    dirs.push(dataDir);
    const port = await freePort();
    const receiver = await startReceiver();
    const env = {
      GRIDSTREAM_DATA_DIR: dataDir,
      GRIDSTREAM_MQTT_PORT: String(port),
      GRIDSTREAM_PARTITIONS: '4',
      GRIDSTREAM_API_KEYS: TEST_API_KEY,
      GRIDSTREAM_MQTT_USERS: TEST_MQTT_USERS,
      GRIDSTREAM_WEBHOOK_ALLOW: '127.0.0.1',
    };
    let gridstream: RoleProcess = await startRole('bridge,processor,api', env);
    let interrupted: FlexOutcome;
    try {
      let url = urlOf(gridstream);
      const topology = simulateTopology(FLEX_SIM);
      const assetIds = flexAssetIds(topology);
      expect((await apiCall(url, 'POST', '/v1/topology', topology)).ok).toBe(true);
      const subscribed = await apiCall(url, 'POST', '/v1/webhooks', {
        url: `${receiver.url}/events`,
        event_types: EVENT_TYPES,
      });
      expect(subscribed.status).toBe(201);
      const created = await apiCall(url, 'POST', '/v1/events', flexEventRequest(assetIds));
      expect([201, 202]).toContain(created.status);
      const eventId = ((await created.json()) as { id: string }).id;
      const status = async () => {
        const response = await apiCall(url, 'GET', `/v1/events/${eventId}`);
        return response.ok ? ((await response.json()) as { status: string }).status : null;
      };

      /** The first arrival of each of the event's webhooks (by webhook event id), in arrival order. */
      const firstArrivals = () => {
        const first = new Map<string, { type: string; sequence: unknown }>();
        for (const r of receiver.received.filter((r) => r.path === '/events')) {
          const w = JSON.parse(r.raw) as { type: string; event_id: string; data: Record<string, unknown> };
          if (w.data.event_id === eventId && !first.has(w.event_id))
            first.set(w.event_id, { type: w.type, sequence: w.data.sequence });
        }
        return first;
      };

      // The same messages simulateInto publishes; up to the event's end in the first life.
      const messages = [
        ...createSimulation(
          planSimulation({ ...flexSimulation(assetIds), mqttUrl: 'mqtt://unused' }),
        ).messages(),
      ];
      const started = messages.findIndex((m) => m.ts > FLEX_START);
      const cut = messages.findIndex((m) => m.ts > FLEX_END);
      expect(started).toBeGreaterThan(0);
      const publisher = new Publisher(withTestMqttCredentials(`mqtt://127.0.0.1:${port}`), messages);
      await publisher.connect();
      // Killed as soon as the event is STARTED, with messages in flight: the history up to the start goes
      // as fast as it can, the event's own a slot (one message per meter) every 200 ms until the kill.
      let killedAt: string | null = null;
      const killer = until(async () => {
        const now = await status().catch(() => null);
        if (now !== 'STARTED') return false;
        killedAt = now;
        gridstream.kill();
        return true;
      }, 300_000);
      await publisher.publish(0, started);
      const slot = FLEX_SIM.transformers * FLEX_SIM.meters;
      for (let k = started; k < cut && killedAt === null; k += slot) {
        await publisher.publish(k, Math.min(k + slot, cut));
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await killer;
      await publisher.close();
      await new Promise<void>((resolve) =>
        gridstream.child.exitCode !== null || gridstream.child.signalCode !== null
          ? resolve()
          : gridstream.child.once('exit', () => resolve()),
      );
      expect(killedAt).toBe('STARTED');
      const unacknowledged = cut - [...publisher.acked].filter((k) => k < cut).length;
      console.log(
        `flexibility event: killed at STARTED; ${unacknowledged} of the ${cut} messages up to the end not acknowledged`,
      );

      gridstream = await startRole('bridge,processor,api', env);
      url = urlOf(gridstream);
      await publisher.connect();
      await publisher.resend(cut);
      expect(publisher.resent).toBeGreaterThan(0);
      await publisher.publish(cut, messages.length);
      await publisher.close();
      expect(publisher.acked.size).toBe(messages.length);
      await until(async () => (await status()) === 'STATS_READY', 240_000);
      await until(async () => firstArrivals().size >= FLEX_STEPS.length, 60_000).catch(() => {});
      await gridstream.stop();
      expect(gridstream.child.exitCode, gridstream.output()).toBe(0);

      const warehouse = await openWarehouse({ dataDir });
      try {
        interrupted = await flexOutcome(warehouse, eventId);
      } finally {
        await warehouse.close();
      }

      // The webhooks: every step at least once; each one's first arrival in sequence order.
      const first = firstArrivals();
      expect([...first.values()].map((w) => w.type)).toEqual(FLEX_STEPS.map((s) => `EVENT.${s}`));
      expect([...first.values()].map((w) => w.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await receiver.close();
      if (gridstream.child.exitCode === null && gridstream.child.signalCode === null) gridstream.kill();
    }

    // Each step exactly once, sequence 1..7; the times of the steps that do not depend on batching as well.
    expect(interrupted.steps.map((s) => [s.step, s.sequence])).toEqual(
      FLEX_STEPS.map((step, k) => [step, k + 1]),
    );
    // Every step's figures and times, every stats row and every baseline row: exactly the uninterrupted run's
    // (the day-ahead issue is made as of when it was due, not of how the clock's ticks fell).
    expect(interrupted.steps).toEqual(expected.steps);
    expect(interrupted.stats).toEqual(expected.stats);
    expect(interrupted.baselines).toEqual(expected.baselines);
  }, 900_000);
});
