import { decode, type LogSchemaName } from '../core/codec.js';
import { DAY_MS } from '../core/time.js';
import type { Log, LogConsumer } from '../io/log/log.js';
import { sqlQuery } from '../io/warehouse/sql-files.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import { TOPICS, type TopicId } from './topics.js';
import { untilDone } from './until-done.js';

/** An in-memory store the API answers from (api/load-profile-store.ts, api/impedance-store.ts). */
export interface ServingStore<T> {
  /** Takes in records in any order; the highest version of each key wins. */
  apply(records: readonly T[]): void;
  /** Drops what has fallen out of the window by `now`. */
  evict(now: number): void;
  /** The warehouse's history is in: the store may answer from now on. */
  markLoaded(): void;
}

type SchemaOf<Id extends TopicId> = (typeof TOPICS)[Id]['schema'] & LogSchemaName;

export interface ServingViewOptions<Id extends TopicId, T> {
  /** For messages: "load profiles", "impedance". */
  name: string;
  topic: Id;
  /** The query (sql/queries) reading the current versions with from_ms <= time < to_ms, and its rows as records. */
  query: string;
  fromRow: (row: Record<string, unknown>) => T;
  /** UTC days before today the store keeps. */
  days: number;
  /** Called after each batch taken in (e.g. to update a gauge). */
  onApplied?: () => void;
}

/**
 * Keeps one of the API's in-memory stores current, as Kafka Streams' interactive queries serve from a state
 * store: the store reads its topic whole in a consumer group of its own (every API instance holds every key),
 * and, at start, the warehouse's rows of its window a UTC day at a time, for the days the log no longer
 * keeps. The log is followed from before the warehouse is read, so nothing falls between the two; a record
 * seen twice changes nothing (the highest version wins).
 */
export class ServingView<Id extends TopicId, T> {
  private consumer: LogConsumer | null = null;
  private running: Promise<void> | null = null;
  private loading: Promise<void> | null = null;
  private stopped = false;
  private undecodable = 0;

  constructor(
    private readonly log: Log,
    private readonly warehouse: Warehouse,
    readonly store: ServingStore<T>,
    private readonly options: ServingViewOptions<Id, T>,
  ) {}

  start(): void {
    const name = this.options.name.replaceAll(' ', '-');
    this.consumer = this.log.consumer({
      group: `${name}-view-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
      topics: [TOPICS[this.options.topic].name],
      fromBeginning: true,
    });
    this.running = this.follow(this.consumer);
    this.loading = this.load();
  }

  private async load(): Promise<void> {
    const now = Date.now();
    const end = now - (now % DAY_MS) + DAY_MS;
    for (let from = end - (this.options.days + 1) * DAY_MS; from < end && !this.stopped; from += DAY_MS) {
      const rows = await untilDone(
        () =>
          this.warehouse.query<Record<string, unknown>>(sqlQuery(this.options.query), {
            from_ms: from,
            to_ms: from + DAY_MS,
          }),
        () => this.stopped,
        (error) =>
          console.error(`${this.options.name}: reading the warehouse failed, retrying: ${error.message}`),
      );
      this.store.apply(rows.map(this.options.fromRow));
      this.options.onApplied?.();
    }
    if (!this.stopped) this.store.markLoaded();
  }

  private async follow(consumer: LogConsumer): Promise<void> {
    const schema = TOPICS[this.options.topic].schema as SchemaOf<Id>;
    while (!this.stopped) {
      const records = await untilDone(
        () => consumer.poll(10_000, 200),
        () => this.stopped,
        (error) => console.error(`${this.options.name}: reading the log failed, retrying: ${error.message}`),
      );
      this.store.evict(Date.now());
      const decoded: T[] = [];
      for (const record of records) {
        try {
          // The topic's records carry at least what the store keeps (T is the record type or a Pick of it).
          decoded.push(decode(schema, record.value) as T);
        } catch (error) {
          // The warehouse sink dead-letters such a record; the store just does without it.
          if (this.undecodable++ === 0)
            console.error(
              `${this.options.name}: skipping an undecodable record: ${(error as Error).message}`,
            );
        }
      }
      this.store.apply(decoded);
      this.options.onApplied?.();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([this.running, this.loading]);
    await this.consumer?.close();
  }
}
