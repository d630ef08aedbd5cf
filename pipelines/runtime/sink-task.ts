import type { Metrics } from '../../core/metrics.js';
import type { Log, LogProducer, LogRecord, TopicPartition } from '../../io/log/log.js';
import { systemClock, type Clock } from './clock.js';
import { OrderedCommits } from './commits.js';
import { supervise } from './fatal.js';
import { PoisonRecords } from './poison.js';
import { retry } from './retry.js';

/** What a sink task's handler is given with each batch. */
export interface SinkContext {
  /** Runs I/O by the one retry policy: a service that is away is waited for while the task runs. */
  retry<T>(what: string, attempt: () => Promise<T>): Promise<T>;
  /** Dead-letters a record the handler cannot process (poison policy); the batch goes on without it. */
  deadLetter(record: LogRecord, reason: string): void;
  /** Holds the batch's commit until `durable` settles (e.g. its rows flushed); a rejection stops the task. */
  commitAfter(durable: Promise<unknown>): void;
}

export interface SinkTaskOptions {
  log: Log;
  /** The consumer group, also the task's name in reports. */
  group: string;
  topics: string[];
  /**
   * The side effect of a batch: called once per batch, in poll order. It retries its own I/O through
   * `context.retry` (so work done before a failure is not done twice), dead-letters the records it cannot
   * process, and hands what must be durable before the commit to `context.commitAfter`. An error it throws
   * means the task cannot go on.
   */
  handle(records: LogRecord[], context: SinkContext): Promise<void>;
  maxBatch: number;
  /** How long an empty poll waits (default 100 ms). */
  pollWaitMs?: number;
  /** The log's ConsumerOptions.lingerMs: how long a poll with records waits for a fuller batch. */
  lingerMs?: number;
  /** Batches whose commit may be outstanding before polling waits (default 1: each batch commits before the next poll). */
  maxInFlight?: number;
  /** Waited for before the first poll (e.g. resuming work a previous run left in a store). */
  start?(context: Pick<SinkContext, 'retry'>): Promise<void>;
  /** Waited for before each poll: backpressure from work the handler started and still runs. */
  ready?(): Promise<void>;
  /** After each batch is handled, with the records not yet committed (e.g. for a metric). */
  afterBatch?(uncommitted: number): void;
  onAssigned?(partitions: TopicPartition[]): void | Promise<void>;
  onRevoked?(partitions: TopicPartition[]): void | Promise<void>;
  /** Called as the stop begins (e.g. to cancel timers), before the task drains. */
  onStopping?(): void;
  /** Called once the loop has ended and every commit is done, before the consumer closes. */
  close?(): Promise<void>;
  /** Work of the handler still running, counted in lag() (e.g. deliveries in flight). */
  extraLag?(): number;
  metrics?: Pick<Metrics, 'deadLetters'>;
  clock?: Clock;
}

export interface SinkTask {
  /** Records not yet read, records read and not committed, and the handler's own work in flight. */
  lag(): Promise<number>;
  /** Reads what is on the log to its end, handles it, commits, and closes. */
  stop(): Promise<void>;
}

/**
 * The sink task, one of the runtime's kinds of task (with the stage task and the global table): poll → side
 * effect → commit, like a Kafka Connect sink. The warehouse sink, the webhook sender and the dispatch checks
 * are sink tasks. Offsets are committed in poll order, each batch once its side effect is durable and its dead
 * letters are on the log (OrderedCommits), so nothing is committed that was neither done nor dead-lettered.
 * A failure while running means the task cannot go on (pipelines/runtime/fatal.ts); one while stopping (a
 * service still away) is thrown by stop().
 */
export function startSinkTask(options: SinkTaskOptions): SinkTask {
  const { log, group } = options;
  const clock = options.clock ?? systemClock;
  let stopping = false;
  const service = { stopping: () => stopping, clock };
  const consumer = log.consumer({
    group,
    topics: options.topics,
    fromBeginning: true,
    lingerMs: options.lingerMs,
    onAssigned: options.onAssigned,
    onRevoked: options.onRevoked,
  });
  const commits = new OrderedCommits(consumer, group, service);
  // Dead letters are rare: a producer is made only for the first.
  let producer: LogProducer | undefined;
  const poison = new PoisonRecords({
    producer: () => (producer ??= log.producer()),
    stopping: () => stopping,
    metrics: options.metrics,
    clock,
  });
  const retryService = <T>(what: string, attempt: () => Promise<T>) =>
    retry(`${group}: ${what}`, attempt, service);

  const loop = async () => {
    await options.start?.({ retry: retryService });
    for (;;) {
      if (commits.failure) throw commits.failure;
      await options.ready?.();
      const records = await retryService('polling', () =>
        consumer.poll(options.maxBatch, options.pollWaitMs ?? 100),
      );
      if (records.length === 0) {
        if (stopping) break;
        continue;
      }
      const waits: Array<Promise<unknown>> = [];
      await options.handle(records, {
        retry: retryService,
        deadLetter: (record, reason) => waits.push(poison.deadLetter(record, `${group}: ${reason}`)),
        commitAfter: (durable) => {
          // Awaited by the commit, after the handler's later awaits: a rejection meanwhile is not unhandled.
          durable.catch(() => undefined);
          waits.push(durable);
        },
      });
      commits.after(records, waits);
      options.afterBatch?.(commits.uncommitted);
      await commits.atMost(options.maxInFlight ?? 1);
    }
    await commits.drain();
  };
  const running = supervise(`${group} (sink task)`, loop(), () => stopping);

  return {
    lag: async () => (await consumer.lag()) + commits.uncommitted + (options.extraLag?.() ?? 0),
    async stop() {
      stopping = true;
      options.onStopping?.();
      const failure = await running;
      await options.close?.();
      await consumer.close();
      await producer?.close();
      if (failure) throw failure;
    },
  };
}
