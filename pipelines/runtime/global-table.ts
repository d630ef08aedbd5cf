import type { Metrics } from '../../core/metrics.js';
import { ownGroup, type Log, type LogConsumer, type LogProducer, type LogRecord } from '../../io/log/log.js';
import { supervise } from './fatal.js';
import { messageOf } from '../../core/errors.js';
import { PoisonRecords } from './poison.js';
import { retry } from './retry.js';

/**
 * The one loop of a table every instance keeps whole (Kafka Streams' GlobalKTable): the topology, the
 * weather, the API's serving views. It reads its topics from the beginning in a consumer group of its own,
 * decodes each record and applies them a batch at a time, then commits. A record that fails to decode or to
 * apply is dead-lettered (runtime/poison.ts) and the table goes on without it: a compacted topic keeps a
 * corrupt record for good, and crashing on it would crash every restart. Reading and committing go through
 * the retry policy; the loop is supervised (runtime/fatal.ts).
 */
export interface GlobalTableOptions<V> {
  log: Log;
  /** For the consumer group's name and messages: "topology table", "weather table", ... */
  name: string;
  topics: string[];
  /** The record's value for `apply`; throws for a record the table cannot take. */
  decode(record: LogRecord): V;
  /** Takes a batch of decoded values in; throws if one of them cannot be taken (each is then tried alone). */
  apply(values: V[]): void;
  /** Called after every poll, with or without records (e.g. to evict by time). */
  afterPoll?(): void;
  /** Counts dead letters (gridstream_dead_letters_total{reason="processing_error"}). */
  metrics?: Pick<Metrics, 'deadLetters'>;
}

export class GlobalTable<V> {
  private consumer: LogConsumer | null = null;
  private producer: LogProducer | undefined;
  private running: Promise<void> | null = null;
  private stopped = false;
  private assigned = false;
  private isCaughtUp = false;
  private markCaughtUp: () => void = () => undefined;
  private readonly caught = new Promise<void>((resolve) => (this.markCaughtUp = resolve));

  constructor(private readonly options: GlobalTableOptions<V>) {}

  /** Starts reading once `after` has resolved (e.g. a seed from the warehouse); its failure is the loop's. */
  start(after: Promise<void> = Promise.resolve()): void {
    const { log, name } = this.options;
    const consumer = log.consumer({
      group: ownGroup(name.replaceAll(' ', '-')),
      topics: this.options.topics,
      fromBeginning: true,
      // Lag is known only once the partitions are assigned (Kafka reports 0 before).
      onAssigned: () => {
        this.assigned = true;
      },
    });
    this.consumer = consumer;
    const poison = new PoisonRecords({
      // Dead letters are rare: a producer is made only for the first.
      producer: () => (this.producer ??= log.producer()),
      stopping: () => this.stopped,
      metrics: this.options.metrics,
    });
    // On a stop nothing is lost: the table is rebuilt from its topics by the next start.
    this.running = supervise(
      name,
      after.then(() => this.loop(consumer, poison)),
      () => this.stopped,
    ).then(() => undefined);
  }

  /**
   * Resolves once the table has read its topics to their end (lag 0 after the assignment), so it holds what
   * was on them when this process started, or once the table stops (there is nothing more to wait for).
   */
  caughtUp(): Promise<void> {
    return this.caught;
  }

  isStopped(): boolean {
    return this.stopped;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.markCaughtUp();
    await this.running;
    await this.consumer?.close();
    await this.producer?.close();
  }

  private async loop(consumer: LogConsumer, poison: PoisonRecords): Promise<void> {
    const { name } = this.options;
    const stopping = { stopping: () => this.stopped };
    while (!this.stopped) {
      const records = await retry(`${name}: reading the log`, () => consumer.poll(10_000, 200), stopping);
      if (records.length > 0) {
        const dead = this.applyAll(records, poison);
        await Promise.all(dead);
        await retry(`${name}: committing`, () => consumer.commit(records), stopping);
      }
      try {
        this.options.afterPoll?.();
      } catch (error) {
        console.error(`${name}: ${(error as Error).stack ?? messageOf(error)}`);
      }
      if (!this.isCaughtUp && this.assigned && (await consumer.lag().catch(() => -1)) === 0) {
        this.isCaughtUp = true;
        this.markCaughtUp();
      }
    }
  }

  /** Decodes and applies a batch; the dead letters of what could not be taken. */
  private applyAll(records: LogRecord[], poison: PoisonRecords): Array<Promise<void>> {
    const { name } = this.options;
    const dead: Array<Promise<void>> = [];
    const taken: Array<{ record: LogRecord; value: V }> = [];
    for (const record of records)
      try {
        taken.push({ record, value: this.options.decode(record) });
      } catch (error) {
        dead.push(poison.deadLetter(record, `${name}: ${messageOf(error)}`));
      }
    try {
      this.options.apply(taken.map((t) => t.value));
    } catch {
      // One of them cannot be taken: each alone, so the others still are.
      for (const { record, value } of taken)
        try {
          this.options.apply([value]);
        } catch (error) {
          dead.push(poison.deadLetter(record, `${name}: ${messageOf(error)}`));
        }
    }
    return dead;
  }
}

/** Calls each listener, reporting (not throwing) a failure: a listener's fault is not the table's record's. */
export function notify<A>(name: string, listeners: ReadonlyArray<(arg: A) => void>, arg: A): void {
  for (const listener of listeners)
    try {
      listener(arg);
    } catch (error) {
      console.error(`${name}: a listener failed: ${(error as Error).stack ?? messageOf(error)}`);
    }
}
