import { encode } from '../../core/codec.js';
import type { Metrics } from '../../core/metrics.js';
import type { LogProducer, LogRecord } from '../../io/log/log.js';
import type { DeadLetter } from '../../schemas/types.gen.js';
import { TOPICS } from '../log-topics.js';
import type { Clock } from './clock.js';
import { retry } from './retry.js';

/**
 * The one poison-record policy. A log record that makes a task's decode, a stage's apply or a sink's add
 * throw would throw again however often it were retried, so it is not retried: it is dead-lettered to
 * gridstream.deadletters (with its bytes and where it was on the log) and the task goes on with the next one.
 * The caller waits for the dead letter to be accepted by the log before committing past the record, so no
 * record is ever neither processed nor dead-lettered. Sending the dead letter is the log's work, so it is
 * retried by the one retry policy (pipelines/runtime/retry.ts).
 */
export const PROCESSING_ERROR = 'processing_error';

/**
 * The dead letter of a record `where` (a stage or task name) could not process. Stamped with the record's log
 * time, not the wall clock: a replay of the same record makes the same dead letter, which the warehouse's
 * dead_letters table then keeps once (keyed by dead_letter_id: source, reason, key and bytes).
 */
export function deadLetterOf(record: LogRecord, reason: string): DeadLetter {
  return {
    received_at: record.timestamp,
    source_topic: record.topic,
    reason_code: PROCESSING_ERROR,
    reason,
    key: record.key,
    raw: record.value,
    source_partition: record.partition,
    source_offset: record.offset,
  };
}

export interface PoisonOptions {
  /** The producer dead letters go through, or a function making it at the first dead letter. */
  producer: LogProducer | (() => LogProducer);
  /** Whether the owner is stopping: then a dead letter the log will not take is given up on (retry policy). */
  stopping: () => boolean;
  /** Counted as gridstream_dead_letters_total{reason="processing_error"} when given. */
  metrics?: Pick<Metrics, 'deadLetters'>;
  /** Whose time the retry policy's pauses are (default the system clock). */
  clock?: Clock;
}

export class PoisonRecords {
  constructor(private readonly options: PoisonOptions) {}

  private producer(): LogProducer {
    const { producer } = this.options;
    return typeof producer === 'function' ? producer() : producer;
  }

  /**
   * Dead-letters `record` with `reason` ("<stage or task name>: <error message>"). The promise settles once
   * the log has accepted the dead letter; it rejects only if the retry policy gave up (while stopping), and
   * then the record must not be committed.
   */
  deadLetter(record: LogRecord, reason: string): Promise<void> {
    this.options.metrics?.deadLetters.inc({ reason: PROCESSING_ERROR });
    const where = `${record.topic}[${record.partition}]@${record.offset}`;
    console.error(`dead-lettering the record at ${where}: ${reason}`);
    const value = encode('DeadLetter', deadLetterOf(record, reason));
    const sending = retry(
      `sending the dead letter of ${where}`,
      () => this.producer().send(TOPICS.deadLetters.name, [{ key: record.key, value }]),
      { stopping: this.options.stopping, clock: this.options.clock },
    );
    // Marked handled here: the caller may await it only after other awaits, and a rejection meanwhile must not
    // count as unhandled (Node exits on one). Awaiting `sending` later still sees the rejection.
    sending.catch(() => undefined);
    return sending;
  }
}
