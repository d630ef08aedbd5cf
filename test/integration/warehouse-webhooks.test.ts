import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlDir } from '../../core/paths.js';
import { migrate } from '../../io/warehouse/migrate.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { SLOT_MS, slotStart } from '../../core/time.js';
import { dtStressRow } from '../../io/warehouse/rows.js';
import { TABLES } from '../../io/warehouse/tables.js';
import {
  activeSubscriptions,
  deliveriesOf,
  deliveryKey,
  deliveryProgress,
  logAttempts,
  pendingRetries,
  stressAlertStates,
  saveSubscription,
  subscriptionSecret,
  subscriptionsOf,
  type DeliveryAttempt,
} from '../../io/webhooks/store.js';
import {
  ENGINE_LABELS,
  ENGINES,
  openTestWarehouse,
  type TestWarehouse,
} from '../support/clickhouse-server.js';
import { stressRow } from '../support/records.js';

/**
 * The webhook tables (sql/014_webhooks.sql) and queries (sql/queries/webhook_*.sql) on both engines, Debian's
 * 18.16 server included: subscriptions by tenant with their newest change, the delivery log, the retries a
 * restarted sender resumes.
 */
const NOW = Date.now();

const attempt = (over: Partial<DeliveryAttempt>): DeliveryAttempt => ({
  tenant: 'default',
  subscription_id: 'sub-1',
  event_id: 'e-1',
  event_type: 'STRESS.ALERT',
  attempt: 1,
  outcome: 'delivered',
  http_status: 200,
  error: '',
  duration_ms: 12,
  attempted_ms: NOW - 60_000,
  next_attempt_ms: 0,
  url: 'https://hooks.example/a',
  body: '{"event_id":"e-1"}',
  ...over,
});

describe.each(ENGINES)('webhook tables on %s', (engine) => {
  let opened: TestWarehouse;
  let warehouse: Warehouse;
  const subscription = (id: string, tenant: string, created_ms: number) => ({
    tenant,
    id,
    url: `https://hooks.example/${id}`,
    event_types: ['STRESS.ALERT', 'DISPATCH.REJECTED'],
    description: `it's ${id}`,
    created_ms,
    secret: `whsec_${id}`,
  });

  beforeAll(async () => {
    opened = await openTestWarehouse(engine);
    warehouse = opened.warehouse;
    await migrate(warehouse);
    await saveSubscription(warehouse, subscription('sub-1', 'default', NOW - 3000), {
      at: NOW - 3000,
      deleted: false,
    });
    await saveSubscription(warehouse, subscription('sub-2', 'default', NOW - 2000), {
      at: NOW - 2000,
      deleted: false,
    });
    await saveSubscription(warehouse, subscription('sub-b', 'utility-b', NOW - 1000), {
      at: NOW - 1000,
      deleted: false,
    });
    // sub-2 deleted afterwards (a newer row, without its secret).
    await saveSubscription(
      warehouse,
      { ...subscription('sub-2', 'default', NOW - 2000), secret: '' },
      { at: NOW - 500, deleted: true },
    );
    await logAttempts(warehouse, [
      attempt({}),
      attempt({
        event_id: 'e-2',
        outcome: 'retrying',
        http_status: 503,
        error: 'HTTP 503',
        next_attempt_ms: NOW + 4000,
      }),
      attempt({
        event_id: 'e-3',
        outcome: 'retrying',
        http_status: 0,
        error: 'ECONNREFUSED',
        next_attempt_ms: NOW,
      }),
      attempt({ event_id: 'e-3', attempt: 2, attempted_ms: NOW - 30_000, body: '{"event_id":"e-3"}' }),
      attempt({
        tenant: 'utility-b',
        subscription_id: 'sub-b',
        event_id: 'e-9',
        outcome: 'failed',
        http_status: 410,
      }),
      // Queued just now, before its first attempt: not an attempt, but a delivery to resume.
      attempt({
        event_id: 'e-4',
        attempt: 0,
        outcome: 'queued',
        http_status: 0,
        attempted_ms: NOW,
        next_attempt_ms: NOW,
        body: '{"event_id":"e-4"}',
      }),
    ]);
  }, 120_000);
  afterAll(() => opened?.close());

  it(`lists a tenant's current subscriptions, oldest first, without deleted ones (${ENGINE_LABELS[engine]})`, async () => {
    expect(await subscriptionsOf(warehouse, 'default')).toEqual([
      {
        tenant: 'default',
        id: 'sub-1',
        url: 'https://hooks.example/sub-1',
        event_types: ['STRESS.ALERT', 'DISPATCH.REJECTED'],
        description: "it's sub-1",
        created_ms: NOW - 3000,
      },
    ]);
    expect((await subscriptionsOf(warehouse, 'utility-b')).map((s) => s.id)).toEqual(['sub-b']);
    expect(await subscriptionsOf(warehouse, "default' OR 1=1 --")).toEqual([]);
  });

  it('gives the sender every current subscription with its secret, and a secret by tenant and id', async () => {
    expect((await activeSubscriptions(warehouse)).map((s) => [s.tenant, s.id, s.secret])).toEqual([
      ['default', 'sub-1', 'whsec_sub-1'],
      ['utility-b', 'sub-b', 'whsec_sub-b'],
    ]);
    expect(await subscriptionSecret(warehouse, 'default', 'sub-1')).toEqual({
      secret: 'whsec_sub-1',
      previous_secret: '',
      previous_secret_expires_ms: 0,
    });
    expect(await subscriptionSecret(warehouse, 'utility-b', 'sub-1')).toBeUndefined();
    expect(await subscriptionSecret(warehouse, 'default', 'sub-2')).toBeUndefined();
  });

  it(`keeps a rotated secret's predecessor and its expiry with the newest row (${ENGINE_LABELS[engine]})`, async () => {
    const rotated = {
      ...subscription('sub-r', 'utility-r', NOW - 5000),
      secret: 'whsec_new',
      previous_secret: 'whsec_sub-r',
      previous_secret_expires_ms: NOW + 86_400_000,
    };
    await saveSubscription(warehouse, subscription('sub-r', 'utility-r', NOW - 5000), {
      at: NOW - 5000,
      deleted: false,
    });
    await saveSubscription(warehouse, rotated, { at: NOW - 4000, deleted: false });
    const secrets = {
      secret: 'whsec_new',
      previous_secret: 'whsec_sub-r',
      previous_secret_expires_ms: NOW + 86_400_000,
    };
    expect(await subscriptionSecret(warehouse, 'utility-r', 'sub-r')).toEqual(secrets);
    expect((await activeSubscriptions(warehouse)).find((s) => s.id === 'sub-r')).toMatchObject(secrets);
    // Another tenant asking for it gets nothing.
    expect(await subscriptionSecret(warehouse, 'default', 'sub-r')).toBeUndefined();
    // Deleted: gone, secrets and all.
    await saveSubscription(warehouse, { ...rotated, secret: '' }, { at: NOW - 3000, deleted: true });
    expect(await subscriptionSecret(warehouse, 'utility-r', 'sub-r')).toBeUndefined();
  });

  it('keeps the delivery log per subscription, newest attempt first, paged with a total, without queued rows', async () => {
    const { rows: log, total } = await deliveriesOf(warehouse, 'default', 'sub-1', { limit: 10, offset: 0 });
    expect(total).toBe(4);
    expect(log.map((d) => [d.event_id, d.attempt, d.outcome, d.http_status])).toEqual([
      ['e-3', 2, 'delivered', 200],
      ['e-1', 1, 'delivered', 200],
      ['e-2', 1, 'retrying', 503],
      ['e-3', 1, 'retrying', 0],
    ]);
    expect(log[2]).toMatchObject({ error: 'HTTP 503', next_attempt_ms: NOW + 4000, duration_ms: 12 });
    const page = await deliveriesOf(warehouse, 'default', 'sub-1', { limit: 2, offset: 1 });
    expect(page).toEqual({ rows: log.slice(1, 3), total: 4 });
    // Past the last page: no rows, the total all the same.
    expect(await deliveriesOf(warehouse, 'default', 'sub-1', { limit: 2, offset: 10 })).toEqual({
      rows: [],
      total: 4,
    });
    expect(await deliveriesOf(warehouse, 'utility-b', 'sub-1', { limit: 10, offset: 0 })).toEqual({
      rows: [],
      total: 0,
    });
  });

  it('finds the deliveries queued or whose last attempt asked for another, with the body to send', async () => {
    expect(await pendingRetries(warehouse)).toEqual([
      {
        tenant: 'default',
        subscription_id: 'sub-1',
        event_id: 'e-4',
        event_type: 'STRESS.ALERT',
        attempt: 0,
        due_ms: NOW,
        body: '{"event_id":"e-4"}',
      },
      {
        tenant: 'default',
        subscription_id: 'sub-1',
        event_id: 'e-2',
        event_type: 'STRESS.ALERT',
        attempt: 1,
        due_ms: NOW + 4000,
        body: '{"event_id":"e-1"}',
      },
    ]);
  });

  it('keeps a delivery logged twice (a replay) as one row, and tells the sender how far each delivery got', async () => {
    // The same queued row and first attempt written again later, as by a sender replaying the event.
    const queued = attempt({
      subscription_id: 'sub-dup',
      event_id: 'e-dup',
      attempt: 0,
      outcome: 'queued',
      http_status: 0,
    });
    const first = attempt({ subscription_id: 'sub-dup', event_id: 'e-dup' });
    await logAttempts(warehouse, [queued, first]);
    await logAttempts(warehouse, [
      { ...queued, attempted_ms: NOW - 1000 },
      { ...first, attempted_ms: NOW - 500 },
    ]);
    const { rows: log } = await deliveriesOf(warehouse, 'default', 'sub-dup', { limit: 10, offset: 0 });
    expect(log.map((d) => [d.event_id, d.attempt, d.outcome])).toEqual([['e-dup', 1, 'delivered']]);

    const progress = await deliveryProgress(
      warehouse,
      ['sub-1', 'sub-b', 'sub-dup'],
      ['e-2', 'e-3', 'e-9', 'e-dup', 'e-new'],
    );
    expect(
      [...progress]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, p]) => [key, p.last_attempt, p.last_outcome]),
    ).toEqual([
      [deliveryKey('sub-1', 'e-2'), 1, 'retrying'],
      [deliveryKey('sub-1', 'e-3'), 2, 'delivered'],
      [deliveryKey('sub-b', 'e-9'), 1, 'failed'],
      [deliveryKey('sub-dup', 'e-dup'), 1, 'delivered'],
    ]);
    expect(await deliveryProgress(warehouse, [], ['e-1'])).toEqual(new Map());
  });

  it('rebuilds the stress-alert hysteresis of a DT from its stored stress rows, as of a slot', async () => {
    const slot = slotStart(NOW) - 10 * SLOT_MS;
    // dt-x thermal: alerts (0.8), stays over the re-arm bar (0.4), re-arms (0.1), alerts again (0.9), holds
    // (0.5). Voltage: no forecast, then only over the re-arm bar. dt-y: never over the alert bar.
    const thermal = [0.8, 0.4, 0.1, 0.9, 0.5];
    await warehouse.insert(
      'dt_stress',
      [
        ...thermal.map((p, k) =>
          stressRow('dt-x', slot + k * SLOT_MS, {
            thermal_stress_prob: p,
            voltage_stress_prob: k < 2 ? null : 0.45,
          }),
        ),
        stressRow('dt-y', slot, { thermal_stress_prob: 0.49, voltage_stress_prob: 0.2 }),
      ].map(dtStressRow),
    );
    const bars = { alert: 0.5, rearm: 0.3 };
    const at = async (k: number) =>
      await stressAlertStates(
        warehouse,
        ['dt-x', 'dt-y', 'dt-none'],
        [slot + k * SLOT_MS, slot + 5 * SLOT_MS, slot],
        bars,
      );
    expect(await at(0)).toEqual([{ dt_id: 'dt-y', thermal: false, voltage: false }]);
    const thermalAt = async (k: number) => (await at(k)).find((s) => s.dt_id === 'dt-x');
    // Before slot k: the rows of slots 0 .. k-1 in order.
    expect(await thermalAt(1)).toEqual({ dt_id: 'dt-x', thermal: true, voltage: false });
    expect(await thermalAt(2)).toEqual({ dt_id: 'dt-x', thermal: true, voltage: false });
    expect(await thermalAt(3)).toEqual({ dt_id: 'dt-x', thermal: false, voltage: false });
    expect(await thermalAt(4)).toEqual({ dt_id: 'dt-x', thermal: true, voltage: false });
    expect(await thermalAt(5)).toEqual({ dt_id: 'dt-x', thermal: true, voltage: false });
  });
});

describe.each(ENGINES)('the delivery log of an installation made before it was keyed, on %s', (engine) => {
  it(`moves its rows to the keyed table, a row logged twice kept once (${ENGINE_LABELS[engine]})`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'gridstream-webhook-deliveries-'));
    const opened = await openTestWarehouse(engine);
    try {
      const before = join(root, 'sql');
      cpSync(sqlDir, before, { recursive: true });
      rmSync(join(before, '016_webhook_delivery_identity.sql'));
      await migrate(opened.warehouse, { dir: before });
      // The bug: a replayed event queued (and attempted) again, logged as new rows of a plain MergeTree.
      const queued = attempt({ attempt: 0, outcome: 'queued', http_status: 0 });
      await logAttempts(opened.warehouse, [queued, attempt({}), { ...queued, attempted_ms: NOW - 1000 }]);
      expect((await migrate(opened.warehouse)).applied).toEqual(['016_webhook_delivery_identity.sql']);
      const [rows] = await opened.warehouse.query<{ n: string }>(
        'SELECT count() AS n FROM webhook_deliveries FINAL',
      );
      expect(Number(rows!.n)).toBe(2);
      const { rows: log } = await deliveriesOf(opened.warehouse, 'default', 'sub-1', {
        limit: 10,
        offset: 0,
      });
      expect(log.map((d) => [d.event_id, d.attempt, d.outcome])).toEqual([['e-1', 1, 'delivered']]);
    } finally {
      await opened.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});

describe.each(ENGINES)('subscriptions made before secrets could be rotated, on %s', (engine) => {
  it(`read as never rotated once migration 018 ran (${ENGINE_LABELS[engine]})`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'gridstream-webhook-rotation-'));
    const opened = await openTestWarehouse(engine);
    try {
      const before = join(root, 'sql');
      cpSync(sqlDir, before, { recursive: true });
      rmSync(join(before, '018_webhook_secret_rotation.sql'));
      await migrate(opened.warehouse, { dir: before });
      // A row as an installation before 018 wrote it: no rotation columns.
      await opened.warehouse.insert(TABLES.webhookSubscriptions, [
        {
          tenant: 'default',
          id: 'sub-old',
          url: 'https://hooks.example/old',
          event_types: ['STRESS.ALERT'],
          description: '',
          secret: 'whsec_old',
          created_ms: NOW,
          version: NOW,
          deleted: 0,
        },
      ]);
      expect((await migrate(opened.warehouse)).applied).toEqual(['018_webhook_secret_rotation.sql']);
      expect(await subscriptionSecret(opened.warehouse, 'default', 'sub-old')).toEqual({
        secret: 'whsec_old',
        previous_secret: '',
        previous_secret_expires_ms: 0,
      });
    } finally {
      await opened.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
