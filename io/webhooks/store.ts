import { dateTime64 } from '../warehouse/rows.js';
import { sqlQuery } from '../warehouse/sql-files.js';
import { TABLES } from '../warehouse/tables.js';
import type { Warehouse } from '../warehouse/warehouse.js';

/** Webhook subscriptions and the delivery log in the warehouse (sql/014_webhooks.sql says what each column is). */

export interface WebhookSubscription {
  tenant: string;
  id: string;
  url: string;
  event_types: string[];
  description: string;
  created_ms: number;
}

/** A subscription as the sender needs it. */
export interface ActiveSubscription {
  tenant: string;
  id: string;
  url: string;
  event_types: string[];
  secret: string;
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

/** Records a subscription, or (`deleted`) its deletion, as a new row version. */
export async function saveSubscription(
  warehouse: Warehouse,
  subscription: WebhookSubscription & { secret: string },
  change: { at: number; deleted: boolean },
): Promise<void> {
  await warehouse.insert(TABLES.webhookSubscriptions, [
    { ...subscription, version: change.at, deleted: change.deleted ? 1 : 0 },
  ]);
}

export async function subscriptionsOf(warehouse: Warehouse, tenant: string): Promise<WebhookSubscription[]> {
  const rows = await warehouse.query<Record<string, unknown>>(sqlQuery('webhook_subscriptions_of_tenant'), {
    tenant,
  });
  return rows.map((r) => ({
    tenant,
    id: String(r.id),
    url: String(r.url),
    event_types: (r.event_types as string[]).map(String),
    description: String(r.description),
    created_ms: Number(r.created_ms),
  }));
}

/** The secret of a current subscription of the tenant, or undefined. */
export async function subscriptionSecret(
  warehouse: Warehouse,
  tenant: string,
  id: string,
): Promise<string | undefined> {
  const [row] = await warehouse.query<{ secret: string }>(sqlQuery('webhook_subscription_secret'), {
    tenant,
    id,
  });
  return row?.secret;
}

export async function activeSubscriptions(warehouse: Warehouse): Promise<ActiveSubscription[]> {
  const rows = await warehouse.query<Record<string, unknown>>(sqlQuery('webhook_subscriptions_active'));
  return rows.map((r) => ({
    tenant: String(r.tenant),
    id: String(r.id),
    url: String(r.url),
    event_types: (r.event_types as string[]).map(String),
    secret: String(r.secret),
  }));
}

export async function logAttempts(warehouse: Warehouse, attempts: readonly DeliveryAttempt[]): Promise<void> {
  if (attempts.length === 0) return;
  await warehouse.insert(
    TABLES.webhookDeliveries,
    attempts.map((a) => ({ ...a, attempted_at: dateTime64(a.attempted_ms).slice(0, 19) })),
  );
}

export async function pendingRetries(warehouse: Warehouse): Promise<PendingRetry[]> {
  const rows = await warehouse.query<Record<string, unknown>>(sqlQuery('webhook_pending_retries'));
  return rows.map((r) => ({
    tenant: String(r.tenant),
    subscription_id: String(r.subscription_id),
    event_id: String(r.event_id),
    event_type: String(r.type),
    attempt: Number(r.last_attempt),
    due_ms: Number(r.due_ms),
    body: String(r.last_body),
  }));
}

export async function deliveriesOf(
  warehouse: Warehouse,
  tenant: string,
  id: string,
  page: { limit: number; offset: number },
): Promise<Array<Omit<DeliveryAttempt, 'tenant' | 'subscription_id' | 'url' | 'body'>>> {
  const rows = await warehouse.query<Record<string, unknown>>(
    sqlQuery('webhook_deliveries_of_subscription'),
    {
      tenant,
      id,
      ...page,
    },
  );
  return rows.map((r) => ({
    event_id: String(r.event_id),
    event_type: String(r.event_type),
    attempt: Number(r.attempt),
    outcome: String(r.outcome) as DeliveryOutcome,
    http_status: Number(r.http_status),
    error: String(r.error),
    duration_ms: Number(r.duration_ms),
    attempted_ms: Number(r.attempted_ms),
    next_attempt_ms: Number(r.next_attempt_ms),
  }));
}
