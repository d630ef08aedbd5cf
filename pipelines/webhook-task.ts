import PQueue from 'p-queue';
import { decode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import type { Log, LogRecord } from '../io/log/log.js';
import { nextAttemptDelay, sendWebhook, webhookBody } from '../io/webhooks/send.js';
import {
  activeSubscriptions,
  deliveryKey,
  deliveryProgress,
  logAttempts,
  pendingRetries,
  stressAlertStates,
  type ActiveSubscription,
  type DeliveryAttempt,
} from '../io/webhooks/store.js';
import { tenantsOf } from '../io/warehouse/tenants.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import {
  initialAlertState,
  lifecycleOrder,
  stepAlerts,
  type AlertConfig,
  type AlertEvent,
  type AlertInput,
} from '../processors/alerts.js';
import { GROUPS, TOPICS } from './log-topics.js';
import { messageOf } from '../core/errors.js';
import { retry } from './runtime/retry.js';
import { startSinkTask, type SinkContext } from './runtime/sink-task.js';

export interface WebhookPolicy {
  /** Attempts per event and subscription, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt; each later one waits 4 × longer (nextAttemptDelay). */
  backoffMs: number;
  alerts: AlertConfig;
}

export interface WebhookTask {
  lag(): Promise<number>;
  /** Makes the next batch reload the subscriptions (after a change through this process's API). */
  refreshSubscriptions(): void;
  stop(): Promise<void>;
}

/** How often the subscriptions are reloaded from the warehouse (they change through any API instance). */
const SUBSCRIPTIONS_EVERY_MS = 2_000;
/** Deliveries in flight at once, across subscriptions. */
const CONCURRENCY = 16;
/** Deliveries due now (sending or waiting for a slot) above which no more records are read. */
const MAX_ACTIVE = 1000;

/**
 * Webhooks: the stress rows, impedance flags and dispatch checks the processors publish become
 * events (processors/alerts.ts), and each event is POSTed, signed, to every subscription of the DT's tenant
 * that asked for its type; a flexibility event's lifecycle steps go to their tenant's subscriptions, one
 * event's steps in sequence order (a step's first attempt waits for the previous step's first attempt).
 *
 * Nothing is lost: a batch's offsets are committed once each of its deliveries (event × subscription) is in the
 * delivery log (webhook_deliveries) as `queued`, with its body; the attempts then run apart from the log's
 * reading, so a receiver that does not answer holds up nobody else's events. A failed attempt that can be
 * retried is logged as `retrying` with the time of the next one, and retried from a timer with backoff; a
 * restarted sender resumes what the log holds as queued or retrying (webhook_pending_retries.sql), so a crash
 * loses none. Reading stops while MAX_ACTIVE deliveries are due (backpressure).
 *
 * After a crash or a rebalance the records since the last commit are read again, here or by another
 * instance: the delivery log, not this process's memory, says what was already done. An event is queued
 * for a subscription only if the log holds no row of that delivery (so it is sent at most once, unless its
 * attempts fail: those are retried by the policy), and a retry is made only if the log holds no later
 * attempt (another instance resuming the same delivery made it). webhook_deliveries is keyed by subscription,
 * event and attempt, so a row logged twice anyway (two instances between look-up and write) is one row.
 * The stress alerts' hysteresis (alerting until the probability falls below the re-arm bar) is rebuilt from
 * the stored stress rows for each DT first seen since the partitions were assigned, as of that DT's first
 * slot read, so a restarted or new owner of a DT neither alerts again for a DT still over the bar nor misses
 * a re-arm. What remains: a crash between an attempt and its log row sends that attempt again (receivers
 * de-duplicate on the event id), and a warehouse sink lagging behind this task can leave an alert out of the
 * rebuilt state (then that DT alerts once more).
 */
export function startWebhookTask(options: {
  log: Log;
  warehouse: Warehouse;
  metrics: Metrics;
  policy: WebhookPolicy;
}): WebhookTask {
  const { log, warehouse, metrics, policy } = options;
  const queue = new PQueue({ concurrency: CONCURRENCY });
  const retryTimers = new Set<NodeJS.Timeout>();
  let alerts = initialAlertState();
  let subscriptions: ActiveSubscription[] = [];
  let loadedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | null = null;
  let stopping = false;
  /** Deliveries due now: their attempt is running or waiting for a slot in the queue. */
  let active = 0;

  /** Reloads the subscriptions when they are older than SUBSCRIPTIONS_EVERY_MS; one load at a time. */
  const loadSubscriptions = (): Promise<void> => {
    if (Date.now() - loadedAt < SUBSCRIPTIONS_EVERY_MS) return Promise.resolve();
    loading ??= activeSubscriptions(warehouse)
      .then((loaded) => {
        subscriptions = loaded;
        loadedAt = Date.now();
      })
      .finally(() => (loading = null));
    return loading;
  };

  const inputOf = (record: LogRecord): AlertInput | null => {
    try {
      switch (record.topic) {
        case TOPICS.stress.name:
          return { type: 'stress', row: decode('DtStress', record.value) };
        case TOPICS.impedanceFlags.name:
          return { type: 'impedance-flag', flag: decode('ImpedanceFlag', record.value) };
        case TOPICS.dispatchChecks.name:
          return { type: 'dispatch-check', check: decode('DispatchCheck', record.value) };
        case TOPICS.eventLifecycle.name:
          return { type: 'event-lifecycle', record: decode('FlexEventLifecycle', record.value) };
      }
    } catch {
      // Undecodable: the warehouse sink dead-letters it; there is no event in it.
    }
    return null;
  };

  /** One attempt; logs nothing itself: the caller logs the returned row (and schedules what it asks). */
  const attempt = async (
    subscription: ActiveSubscription,
    delivery: { event_id: string; event_type: string; attempt: number; body: string },
  ): Promise<DeliveryAttempt> => {
    const result = await queue.add(() =>
      sendWebhook({
        url: subscription.url,
        secrets: subscription,
        body: delivery.body,
        subscriptionId: subscription.id,
        eventId: delivery.event_id,
        attempt: delivery.attempt,
      }),
    );
    const attemptedMs = Date.now();
    const delay = result!.delivered ? null : nextAttemptDelay(delivery.attempt, result!, policy);
    const outcome = result!.delivered ? 'delivered' : delay === null ? 'failed' : 'retrying';
    metrics.webhookDeliveries.inc({ outcome });
    return {
      tenant: subscription.tenant,
      subscription_id: subscription.id,
      ...delivery,
      outcome,
      http_status: result!.httpStatus,
      error: result!.error,
      duration_ms: result!.durationMs,
      attempted_ms: attemptedMs,
      next_attempt_ms: delay === null ? 0 : attemptedMs + delay,
      url: subscription.url,
    };
  };

  /**
   * Writes attempt rows, retrying while the warehouse is away (the log is what makes retries durable), then
   * schedules the attempts they ask for; `consulted`: the log was looked at just before (deliver()).
   */
  const record = async (rows: DeliveryAttempt[], consulted = false) => {
    await retry('webhooks: logging delivery attempts', () => logAttempts(warehouse, rows), {
      stopping: () => stopping,
    });
    for (const row of rows)
      if (row.outcome === 'retrying' || row.outcome === 'queued') schedule(row, !consulted);
  };

  type Last = Pick<
    DeliveryAttempt,
    'subscription_id' | 'event_id' | 'event_type' | 'attempt' | 'next_attempt_ms' | 'body'
  >;

  /** The deliveries (and the attempt after which) this process has a next attempt scheduled for. */
  const scheduled = new Set<string>();

  /**
   * Per subscription and flexibility event, the first attempt of its newest step scheduled here: the next
   * step's first attempt waits for it, so a subscriber gets one event's steps in sequence order.
   */
  const inOrder = new Map<string, Promise<void>>();

  /**
   * Makes the next attempt of a delivery whose last log row is `last`, when it is due. `consult`: look in
   * the delivery log first, for an attempt made since by another sender (not needed for the first attempt of
   * an event this process has just queued after looking).
   */
  const schedule = (last: Last, consult = true) => {
    if (stopping) return;
    const id = `${deliveryKey(last.subscription_id, last.event_id)}\u0000${last.attempt}`;
    // Resumed from the log and also queued or retried here: one attempt, not two racing each other.
    if (scheduled.has(id)) return;
    scheduled.add(id);
    const order = last.attempt === 0 ? lifecycleOrder(last.event_id) : null;
    let run = () => void next(last, consult).finally(() => scheduled.delete(id));
    if (order) {
      // A first attempt of a lifecycle step: after the previous step's first attempt (made, or given up
      // on stopping) for this subscription. Retries are not held back: they may overtake a later step.
      const key = deliveryKey(last.subscription_id, order.event_id);
      const previous = inOrder.get(key) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      inOrder.set(key, mine);
      void mine.then(() => {
        if (inOrder.get(key) === mine) inOrder.delete(key);
      });
      run = () =>
        void previous
          // Stopping: left queued in the delivery log, the next start resumes it (in order, see start).
          .then(() => (stopping ? undefined : next(last, consult)))
          .finally(() => {
            scheduled.delete(id);
            release();
          });
    }
    const delay = last.next_attempt_ms - Date.now();
    if (delay <= 0) return run();
    const timer = setTimeout(() => {
      retryTimers.delete(timer);
      run();
    }, delay);
    retryTimers.add(timer);
  };

  const next = async (last: Last, consult: boolean) => {
    active++;
    try {
      await loadSubscriptions().catch(() => undefined);
      const subscription = subscriptions.find((s) => s.id === last.subscription_id);
      // Deleted since: the log's last word stays as it was, and nothing more is sent.
      if (!subscription) return;
      if (consult) {
        const done = (await deliveryProgress(warehouse, [last.subscription_id], [last.event_id])).get(
          deliveryKey(last.subscription_id, last.event_id),
        );
        // Another sender (an instance resuming the same log) made this attempt or a later one.
        if (done && done.last_attempt > last.attempt) return;
      }
      const row = await attempt(subscription, {
        event_id: last.event_id,
        event_type: last.event_type,
        attempt: last.attempt + 1,
        body: last.body,
      });
      await record([row]);
    } catch (error) {
      console.error(`webhooks: delivering ${last.event_id}: ${(error as Error).message}`);
    } finally {
      active--;
    }
  };

  /**
   * Gives each DT of the batch's stress rows that has no alert state yet (first seen since the partitions
   * were assigned) the state the stored stress rows before its first slot here leave it in: a DT over the bar
   * when the last owner stopped is still alerting, and alerts again only once it has re-armed.
   */
  const seedAlerts = async (inputs: ReadonlyArray<AlertInput | null>) => {
    const first = new Map<string, number>();
    for (const input of inputs)
      if (input?.type === 'stress' && !alerts.dts.has(input.row.dt_id)) {
        const slot = first.get(input.row.dt_id);
        if (slot === undefined || input.row.slot_start < slot)
          first.set(input.row.dt_id, input.row.slot_start);
      }
    if (first.size === 0) return;
    const states = await stressAlertStates(warehouse, [...first.keys()], [...first.values()], {
      alert: policy.alerts.stressProbability,
      rearm: policy.alerts.rearmProbability,
    });
    const alerting = new Map(states.map((s) => [s.dt_id, s]));
    for (const dt of first.keys()) {
      const state = alerting.get(dt);
      // No slot judged yet (lastSlot): every slot read from here is judged, as the records come.
      alerts.dts.set(dt, {
        lastSlot: Number.NEGATIVE_INFINITY,
        thermal: state?.thermal ?? false,
        voltage: state?.voltage ?? false,
      });
    }
  };

  const deliver = async (events: AlertEvent[]) => {
    if (events.length === 0) return;
    await loadSubscriptions();
    if (subscriptions.length === 0) return;
    // A DT the topology does not know belongs to no tenant: its events go to no subscription. An event
    // that names its tenant (a flexibility event's step) goes to that tenant's.
    const dts = events.flatMap((e) => (e.tenant === undefined && e.dt_id !== undefined ? [e.dt_id] : []));
    const owners = await tenantsOf(warehouse, dts);
    const now = Date.now();
    const queued: DeliveryAttempt[] = [];
    for (const event of events) {
      const tenant = event.tenant ?? (event.dt_id === undefined ? undefined : owners.get(event.dt_id));
      if (tenant === undefined) continue;
      for (const subscription of subscriptions)
        if (subscription.tenant === tenant && subscription.event_types.includes(event.type))
          queued.push({
            tenant,
            subscription_id: subscription.id,
            event_id: event.id,
            event_type: event.type,
            attempt: 0,
            outcome: 'queued',
            http_status: 0,
            error: '',
            duration_ms: 0,
            attempted_ms: now,
            next_attempt_ms: now,
            url: subscription.url,
            body: webhookBody(event, subscription.id),
          });
    }
    // What the delivery log already holds was queued before (by this instance before a crash, or by the
    // partition's last owner): it is delivered, given up, or resumed from the log; queuing it again would
    // send it twice.
    const logged = await deliveryProgress(
      warehouse,
      [...new Set(queued.map((q) => q.subscription_id))],
      [...new Set(queued.map((q) => q.event_id))],
    );
    const fresh = new Map<string, DeliveryAttempt>();
    for (const q of queued) {
      const key = deliveryKey(q.subscription_id, q.event_id);
      if (!logged.has(key) && !fresh.has(key)) fresh.set(key, q);
    }
    // Logged, then sent: the first attempts start as soon as the rows are in.
    await record([...fresh.values()], true);
  };

  /**
   * The batch's events. An input the alert rules throw on would throw on every retry: it is dead-lettered
   * and the batch goes on (the rules leave the state as it was for an input that throws).
   */
  const eventsOf = (
    records: LogRecord[],
    inputs: ReadonlyArray<AlertInput | null>,
    context: Pick<SinkContext, 'deadLetter'>,
  ) => {
    const events: AlertEvent[] = [];
    inputs.forEach((input, k) => {
      if (!input) return;
      try {
        const step = stepAlerts(alerts, input, policy.alerts);
        alerts = step.state;
        events.push(...step.outputs);
      } catch (error) {
        context.deadLetter(records[k]!, messageOf(error));
      }
    });
    return events;
  };

  const task = startSinkTask({
    log,
    group: GROUPS.webhooks,
    topics: [
      TOPICS.stress.name,
      TOPICS.impedanceFlags.name,
      TOPICS.dispatchChecks.name,
      TOPICS.eventLifecycle.name,
    ],
    maxBatch: 500,
    pollWaitMs: 200,
    metrics,
    // The alert state of the DTs of partitions this instance did not hold is another's (or stale): start
    // again, each DT's state rebuilt from the warehouse as its first record comes (seedAlerts).
    onAssigned: () => {
      alerts = initialAlertState();
    },
    // A restart picks up what the delivery log holds as queued or retrying. The retry policy gives up only
    // once stopping: then there is nothing left to resume.
    start: (context) =>
      context
        .retry('reading the pending retries', async () => {
          if (stopping) return;
          // A flexibility event's queued steps in sequence order: each waits for the one before (schedule).
          const pending = (await pendingRetries(warehouse)).sort(
            (a, b) =>
              (lifecycleOrder(a.event_id)?.sequence ?? 0) - (lifecycleOrder(b.event_id)?.sequence ?? 0),
          );
          for (const due of pending) schedule({ ...due, next_attempt_ms: due.due_ms });
        })
        .catch(() => undefined),
    // Backpressure: no more records are read while MAX_ACTIVE deliveries are due.
    ready: async () => {
      while (active >= MAX_ACTIVE && !stopping) await new Promise((resolve) => setTimeout(resolve, 50));
    },
    // The events once (the alert state moves on), the I/O until it works: a failed look-up (warehouse away)
    // is retried, and the batch is neither committed nor dropped meanwhile.
    handle: async (records, context) => {
      const inputs = records.map(inputOf);
      await context.retry('rebuilding the alert state', () => seedAlerts(inputs));
      const events = eventsOf(records, inputs, context);
      await context.retry('delivering', () => deliver(events));
    },
    extraLag: () => active,
    onStopping: () => {
      stopping = true;
      // Pending retries stay in the delivery log as `retrying`: the next start resumes them.
      for (const timer of retryTimers) clearTimeout(timer);
      retryTimers.clear();
    },
    close: async () => {
      while (active > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      await queue.onIdle();
    },
  });

  return {
    lag: () => task.lag(),
    refreshSubscriptions() {
      loadedAt = Number.NEGATIVE_INFINITY;
    },
    stop: () => task.stop(),
  };
}
