import { highestOffsets, type LogConsumer, type LogRecord } from '../../io/log/log.js';
import { retry, type RetryOptions } from './retry.js';

/**
 * A task's commits, in poll order: a batch's offsets are committed once everything it waits for has settled
 * (its outputs accepted by the log, its rows durable, its dead letters sent) and the batches before it are
 * committed. A batch whose wait failed is never committed, nor is any after it: the task's loop sees
 * `failure` and stops (its records are read again by the next owner). Shared by every kind of task, so each
 * commits the same way.
 */
export class OrderedCommits {
  /** Records polled whose offsets are not committed yet. */
  uncommitted = 0;
  /** The first failure of a batch's wait or commit: nothing is committed after it. */
  failure: Error | null = null;
  private readonly inFlight: Array<Promise<void>> = [];

  constructor(
    private readonly consumer: LogConsumer,
    private readonly what: string,
    /** The one retry policy's options for the commit itself (a log that is away is waited for). */
    private readonly service: RetryOptions,
  ) {}

  /** Batches whose commit is outstanding. */
  get pending(): number {
    return this.inFlight.length;
  }

  /** Commits `records` once `waits` have all settled, after the batches before them. */
  after(records: LogRecord[], waits: ReadonlyArray<Promise<unknown>>): void {
    const count = records.length;
    if (count === 0) return;
    this.uncommitted += count;
    // Only the last record of each partition is kept for the commit: a batch held until its commit would
    // otherwise keep every record's value buffer alive past the young generation, and those buffers are
    // freed only by a full collection (hundreds of MB of resident memory waiting for one).
    const last = [...highestOffsets(records).values()];
    const previous = this.inFlight.at(-1) ?? Promise.resolve();
    const committed = Promise.all([...waits, previous]).then(async () => {
      // A batch before this one failed (and has left inFlight): nothing may be committed past it.
      if (this.failure) throw this.failure;
      await retry(`${this.what}: committing`, () => this.consumer.commit(last), this.service);
      this.uncommitted -= count;
    });
    this.inFlight.push(committed);
    // A failure leaves the offsets uncommitted: the records are read again. The task's loop goes no further.
    void committed
      .catch((error: Error) => {
        this.failure ??= error;
      })
      .finally(() => this.inFlight.splice(this.inFlight.indexOf(committed), 1));
  }

  /** Waits while `max` or more batches are outstanding (backpressure); throws a batch's failure. */
  async atMost(max: number): Promise<void> {
    while (this.inFlight.length >= max) await this.inFlight[0];
    if (this.failure) throw this.failure;
  }

  /** Waits for every outstanding commit; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    if (this.failure) throw this.failure;
  }
}
