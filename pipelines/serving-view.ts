import { decode, type LogSchemaName } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import { DAY_MS } from '../core/time.js';
import type { Log } from '../io/log/log.js';
import { runQuery, type Query } from '../io/warehouse/query.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import { supervise } from './runtime/fatal.js';
import { GlobalTable } from './runtime/global-table.js';
import { retry } from './runtime/retry.js';
import { TOPICS, type TopicId } from './log-topics.js';

/** Rows one warehouse query brings at most, about (tens of MB of JSON while parsed). */
const LOAD_ROWS = 10_000;
/** The first day's sample: one part in this many. */
const SAMPLE = 64;

/** An in-memory store the API answers from (serving/load-profile-store.ts, serving/impedance-store.ts). */
export interface ServingStore<T> {
  /** Takes in records in any order; the highest version of each key wins. */
  apply(records: readonly T[]): void;
  /** Drops what has fallen out of the window by `now`. */
  evict(now: number): void;
  /** The warehouse's history is in: the store may answer from now on. */
  markLoaded(): void;
}

type SchemaOf<Id extends TopicId> = (typeof TOPICS)[Id]['schema'] & LogSchemaName;

/** The parameters of a serving view's query: a time range, and one part (by a hash of the key) of it. */
export type RangePartParams = { from_ms: number; to_ms: number; buckets: number; bucket: number };

export interface ServingViewOptions<Id extends TopicId, T, R> {
  /** For messages: "load profiles", "impedance". */
  name: string;
  topic: Id;
  /** The query (sql/queries) reading the current versions with from_ms <= time < to_ms, and its rows as records. */
  query: Query<RangePartParams, R>;
  fromRow: (row: R) => T;
  /** UTC days before today the store keeps. */
  days: number;
  /** Called after each batch taken in (e.g. to update a gauge). */
  onApplied?: () => void;
  /** Counts the records dead-lettered as undecodable (gridstream_dead_letters_total{reason="processing_error"}). */
  metrics?: Pick<Metrics, 'deadLetters'>;
}

/**
 * Keeps one of the API's in-memory stores current, as Kafka Streams' interactive queries serve from a state
 * store: the store reads its topic whole in a consumer group of its own (every API instance holds every key),
 * and, at start, the warehouse's rows of its window a UTC day at a time, for the days the log no longer
 * keeps. The log is followed from before the warehouse is read, so nothing falls between the two; a record
 * seen twice changes nothing (the highest version wins).
 */
export class ServingView<Id extends TopicId, T, R> {
  private loading: Promise<void> | null = null;
  private stopped = false;
  private readonly table: GlobalTable<T>;

  constructor(
    log: Log,
    private readonly warehouse: Warehouse,
    readonly store: ServingStore<T>,
    private readonly options: ServingViewOptions<Id, T, R>,
  ) {
    const schema = TOPICS[options.topic].schema as SchemaOf<Id>;
    this.table = new GlobalTable<T>({
      log,
      name: `${options.name} view`,
      topics: [TOPICS[options.topic].name],
      // The topic's records carry at least what the store keeps (T is the record type or a Pick of it).
      decode: (record) => decode(schema, record.value) as T,
      apply: (records) => store.apply(records),
      afterPoll: () => {
        store.evict(Date.now());
        options.onApplied?.();
      },
      metrics: options.metrics,
    });
  }

  start(): void {
    // The log is followed from before the warehouse is read, so nothing falls between the two.
    this.table.start();
    this.loading = supervise(
      `${this.options.name} view (loading the warehouse)`,
      this.load(),
      () => this.stopped,
    ).then(() => undefined);
  }

  /**
   * The warehouse's rows of the window, a UTC day at a time, oldest first, each day in as many parts (by a hash
   * of the key) as keep a query to about LOAD_ROWS rows, so that a large fleet's rows are never all in memory
   * at once: a 1/64 sample of the first day sets the number of parts, the days read so far raise it.
   */
  private async load(): Promise<void> {
    const now = Date.now();
    const end = now - (now % DAY_MS) + DAY_MS;
    const start = end - (this.options.days + 1) * DAY_MS;
    const sample = await this.read(start, SAMPLE, 0);
    let buckets = Math.max(1, Math.ceil((sample * SAMPLE) / LOAD_ROWS));
    for (let from = start; from < end && !this.stopped; from += DAY_MS) {
      let rowsOfDay = 0;
      for (let bucket = 0; bucket < buckets && !this.stopped; bucket++)
        rowsOfDay += await this.read(from, buckets, bucket);
      buckets = Math.max(buckets, Math.ceil(rowsOfDay / LOAD_ROWS));
    }
    if (!this.stopped) this.store.markLoaded();
  }

  /** Reads one part of a day from the warehouse into the store (rows seen again change nothing); its rows. */
  private async read(from: number, buckets: number, bucket: number): Promise<number> {
    const rows = await retry(
      `${this.options.name}: reading the warehouse`,
      () =>
        runQuery(this.warehouse, this.options.query, {
          from_ms: from,
          to_ms: from + DAY_MS,
          buckets,
          bucket,
        }),
      { stopping: () => this.stopped },
    );
    this.store.apply(rows.map(this.options.fromRow));
    this.options.onApplied?.();
    return rows.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.table.stop(), this.loading]);
  }
}
