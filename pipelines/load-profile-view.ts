import { envelopeOfRow } from '../api/load-profile-slot.js';
import type { LoadProfileStore } from '../api/load-profile-store.js';
import { decode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import { DAY_MS } from '../core/time.js';
import type { Log, LogConsumer } from '../io/log/log.js';
import { sqlQuery } from '../io/warehouse/sql-files.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { DtEnvelope } from '../schemas/types.gen.js';
import { TOPICS } from './topics.js';
import { untilDone } from './until-done.js';

/**
 * How much of the window one warehouse query reads at start: a UTC day (96,000 rows for 1,000 DTs), so that
 * each DT-day is rendered and compressed once.
 */
const LOAD_STEP_MS = DAY_MS;

/**
 * Keeps the API's in-memory load profiles (api/load-profile-store.ts) current, as Kafka Streams' interactive
 * queries serve from a state store: the store reads the envelopes topic whole in a consumer group of its own
 * (every API instance holds every DT), and, at start, the warehouse's envelopes of its window, for the days
 * the log no longer keeps. The log is followed from before the warehouse is read, so nothing falls between
 * the two; records seen twice change nothing (the highest version of a slot wins).
 */
export class LoadProfileView {
  private consumer: LogConsumer | null = null;
  private running: Promise<void> | null = null;
  private loading: Promise<void> | null = null;
  private stopped = false;
  private undecodable = 0;

  constructor(
    private readonly log: Log,
    private readonly warehouse: Warehouse,
    readonly store: LoadProfileStore,
    private readonly days: number,
    private readonly metrics: Metrics,
  ) {}

  start(): void {
    this.consumer = this.log.consumer({
      group: `load-profile-view-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
      topics: [TOPICS.envelopes.name],
      fromBeginning: true,
    });
    this.running = this.follow(this.consumer);
    this.loading = this.load();
  }

  /** The warehouse's envelopes of the window, a few hours at a time, oldest first. */
  private async load(): Promise<void> {
    const now = Date.now();
    const end = now - (now % DAY_MS) + DAY_MS;
    for (let from = end - (this.days + 1) * DAY_MS; from < end && !this.stopped; from += LOAD_STEP_MS) {
      const rows = await untilDone(
        () =>
          this.warehouse.query<Record<string, unknown>>(sqlQuery('envelopes_of_range'), {
            from_ms: from,
            to_ms: from + LOAD_STEP_MS,
          }),
        () => this.stopped,
        (error) => console.error(`load profiles: reading the warehouse failed, retrying: ${error.message}`),
      );
      this.store.apply(rows.map(envelopeOfRow));
      this.metrics.loadProfileBytes.set(this.store.bytes());
    }
    if (!this.stopped) this.store.markLoaded();
  }

  private async follow(consumer: LogConsumer): Promise<void> {
    while (!this.stopped) {
      const records = await untilDone(
        () => consumer.poll(10_000, 200),
        () => this.stopped,
        (error) => console.error(`load profiles: reading the log failed, retrying: ${error.message}`),
      );
      this.store.evict(Date.now());
      const envelopes: DtEnvelope[] = [];
      for (const record of records) {
        try {
          envelopes.push(decode('DtEnvelope', record.value));
        } catch (error) {
          // The warehouse sink dead-letters such a record; the profiles just do without it.
          if (this.undecodable++ === 0)
            console.error(
              `load profiles: skipping an undecodable envelope record: ${(error as Error).message}`,
            );
        }
      }
      this.store.apply(envelopes);
      this.metrics.loadProfileBytes.set(this.store.bytes());
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([this.running, this.loading]);
    await this.consumer?.close();
  }
}
