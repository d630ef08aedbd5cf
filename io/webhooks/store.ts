import { dateTime } from '../warehouse/rows.js';
import { TABLES } from '../warehouse/tables.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import type { SigningSecrets } from './signature.js';
import { runPage, runQuery } from '../warehouse/query.js';
import { queries } from '../warehouse/queries.gen.js';

/** Webhook subscriptions and the delivery log in the warehouse (sql/014_webhooks.sql says what each column is). */

export interface WebhookSubscription {
  tenant: string;
  id: string;
  url: string;
  event_types: string[];
  description: string;
  created_ms: number;
}

/** A subscription as the sender needs it, with the secrets it signs with. */
export interface ActiveSubscription extends SigningSecrets {
  tenant: string;
  id: string;
  url: string;
  event_types: string[];
}

/** queued: logged before its first attempt (attempt 0); the others are attempts' outcomes. */
export type DeliveryOutcome = 'queued' | 'delivered' | 'retrying' | 'failed';

export interface DeliveryAttempt {
  tenant: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  outcome: DeliveryOutcome;
  http_status: number;
  error: string;
  duration_ms: number;
  attempted_ms: number;
  /** 0 when no attempt follows. */
  next_attempt_ms: number;
  url: string;
  body: string;
}

/** A delivery queued or whose last attempt asked for another, as a restarted sender resumes it. */
export interface PendingRetry {
  tenant: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  due_ms: number;
  body: string;
}

/**
 * Records a subscription, or (`deleted`) its deletion, as a new row version; without a previous secret, the
 * row has none (a rotation's window ends with the next change that does not carry it).
 */
export async function saveSubscription(
  warehouse: Warehouse,
  subscription: WebhookSubscription & { secret: string } & Partial<SigningSecrets>,
  change: { at: number; deleted: boolean },
): Promise<void> {
  await warehouse.insert(TABLES.webhookSubscriptions, [
    {
      previous_secret: '',
      previous_secret_expires_ms: 0,
      ...subscription,
      version: change.at,
      deleted: change.deleted ? 1 : 0,
    },
  ]);
}

export async function subscriptionsOf(warehouse: Warehouse, tenant: string): Promise<WebhookSubscription[]> {
  const rows = await runQuery(warehouse, queries.webhook_subscriptions_of_tenant, { tenant });
  return rows.map((r) => ({ tenant, ...r }));
}

/** The secrets of a current subscription of the tenant, or undefined. */
export async function subscriptionSecret(
  warehouse: Warehouse,
  tenant: string,
  id: string,
): Promise<SigningSecrets | undefined> {
  const [row] = await runQuery(warehouse, queries.webhook_subscription_secret, { tenant, id });
  return row;
}

export async function activeSubscriptions(warehouse: Warehouse): Promise<ActiveSubscription[]> {
  return runQuery(warehouse, queries.webhook_subscriptions_active, {});
}

export async function logAttempts(warehouse: Warehouse, attempts: readonly DeliveryAttempt[]): Promise<void> {
  if (attempts.length === 0) return;
  await warehouse.insert(
    TABLES.webhookDeliveries,
    attempts.map((a) => ({ ...a, attempted_at: dateTime(a.attempted_ms) })),
  );
}

export async function pendingRetries(warehouse: Warehouse): Promise<PendingRetry[]> {
  const rows = await runQuery(warehouse, queries.webhook_pending_retries, {});
  return rows.map((r) => ({
    tenant: r.tenant,
    subscription_id: r.subscription_id,
    event_id: r.event_id,
    event_type: r.type,
    attempt: r.last_attempt,
    due_ms: r.due_ms,
    body: r.last_body,
  }));
}

/** A page of the delivery log of a subscription, newest attempt first, and how many attempts it holds. */
export async function deliveriesOf(
  warehouse: Warehouse,
  tenant: string,
  id: string,
  page: { limit: number; offset: number },
): Promise<{
  rows: Array<Omit<DeliveryAttempt, 'tenant' | 'subscription_id' | 'url' | 'body'>>;
  total: number;
}> {
  const { rows, total } = await runPage(warehouse, queries.webhook_deliveries_of_subscription, {
    tenant,
    id,
    limit: page.limit,
    offset: page.offset,
  });
  // The outcome column is a String the sender writes only DeliveryOutcome values into.
  return { rows: rows.map((r) => ({ ...r, outcome: r.outcome as DeliveryOutcome })), total };
}

/** How far the delivery log has got with a delivery: its newest attempt (0: queued) and that row's outcome. */
export interface DeliveryProgress {
  last_attempt: number;
  last_outcome: DeliveryOutcome;
}

/** The key of a delivery (subscription × event) in deliveryProgress's map. */
export const deliveryKey = (subscriptionId: string, eventId: string): string =>
  `${subscriptionId}\u0000${eventId}`;

/**
 * The delivery log's progress with the deliveries among `subscriptions` × `events` that it holds, by
 * deliveryKey; deliveries it does not hold are absent (sql/queries/webhook_delivery_progress.sql).
 */
export async function deliveryProgress(
  warehouse: Warehouse,
  subscriptions: readonly string[],
  events: readonly string[],
): Promise<Map<string, DeliveryProgress>> {
  const progress = new Map<string, DeliveryProgress>();
  if (subscriptions.length === 0 || events.length === 0) return progress;
  const rows = await runQuery(warehouse, queries.webhook_delivery_progress, {
    subscriptions: [...subscriptions],
    events: [...events],
  });
  for (const r of rows)
    progress.set(deliveryKey(r.subscription_id, r.event_id), {
      last_attempt: r.last_attempt,
      last_outcome: r.last_outcome as DeliveryOutcome,
    });
  return progress;
}

/** Where a DT's stress-alert hysteresis stands before a slot: whether each kind is alerting. */
export interface StressAlertState {
  dt_id: string;
  thermal: boolean;
  voltage: boolean;
}

/**
 * Each DT's stress-alert state as of the slot `before[i]` of `dts[i]`, rebuilt from the stored stress rows
 * (sql/queries/webhook_alert_state.sql): a kind is alerting when its newest slot at or over `alert` is newer
 * than its newest below `rearm`. DTs without earlier rows are absent (nothing alerting).
 */
export async function stressAlertStates(
  warehouse: Warehouse,
  dts: readonly string[],
  before: readonly number[],
  bars: { alert: number; rearm: number },
): Promise<StressAlertState[]> {
  if (dts.length === 0) return [];
  const rows = await runQuery(warehouse, queries.webhook_alert_state, {
    dts: [...dts],
    before: [...before],
    alert: bars.alert,
    rearm: bars.rearm,
  });
  return rows.map((r) => ({
    dt_id: r.dt_id,
    thermal: r.thermal_alert_ms > r.thermal_rearm_ms,
    voltage: r.voltage_alert_ms > r.voltage_rearm_ms,
  }));
}
