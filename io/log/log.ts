/**
 * The log: an ordered, partitioned, replayable record stream, as Apache Kafka provides it. Processors and
 * sinks only see this interface, so the same pipeline runs on the in-process log (embedded mode) and on
 * Kafka (distributed mode). Records with the same key land in the same partition, in order.
 */

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Keep only the latest record per key (Kafka cleanup.policy=compact). */
  compacted?: boolean;
  retentionMs?: number;
}

export interface ProduceRecord {
  key: string;
  value: Buffer;
  /**
   * Event time of the record, epoch ms, for tools that show it. The log itself stamps records with their
   * append time (Kafka's LogAppendTime), which retention and replay go by; event time lives in the value.
   */
  timestamp?: number;
}

export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: Buffer;
  /** When the log appended the record, epoch ms. */
  timestamp: number;
}

/** A batch of a replay (Log.replay). */
export interface ReplayBatch {
  records: LogRecord[];
  /**
   * The timestamp of the replay's last record (the one before `untilOffset`), the same in every batch: the log
   * finds it before the first batch, so a reader with a shorter lookback knows where its suffix starts without
   * holding the replay to see its end.
   */
  lastTimestamp: number;
}

/** The most records a replay's batch holds (the records of one consume call of the Kafka reader). */
export const REPLAY_BATCH_RECORDS = 5_000;

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface ConsumerOptions {
  /** Consumer group: members share the partitions, and committed offsets are per group. */
  group: string;
  topics: string[];
  /** Where a group without a committed offset starts. */
  fromBeginning?: boolean;
  /**
   * Once a poll has records, how long it may wait for more before returning fewer than asked for (Kafka's
   * fetch.wait.max.ms with fetch.min.bytes): larger batches for consumers that pay per batch, such as a
   * warehouse sink. Default 0.
   */
  lingerMs?: number;
  /** Called when partitions are assigned to this member, before any of their records is returned. */
  onAssigned?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Called when partitions are taken away, after the last poll that returned their records. */
  onRevoked?: (partitions: TopicPartition[]) => void | Promise<void>;
}

export interface LogProducer {
  /** Resolves once the log has accepted the records (or waits while the log applies backpressure). */
  send(topic: string, records: ProduceRecord[]): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface LogConsumer {
  /** Up to `max` records, or an empty list after `waitMs` without data. Per partition, in offset order. */
  poll(max: number, waitMs: number): Promise<LogRecord[]>;
  /** Marks everything up to and including these records as processed for the group. */
  commit(records: LogRecord[]): Promise<void>;
  /** Records of the subscribed topics not yet returned to this consumer (0 when caught up). */
  lag(): Promise<number>;
  /** The group's committed offset of a partition: the next record to read (0 when nothing is committed). */
  committed(tp: TopicPartition): Promise<number>;
  close(): Promise<void>;
}

export interface Log {
  readonly kind: 'memory' | 'kafka';
  ensureTopics(specs: TopicSpec[]): Promise<void>;
  producer(): LogProducer;
  consumer(options: ConsumerOptions): LogConsumer;
  /**
   * Records of a partition before `untilOffset`, back to `lookbackMs` (by record timestamp) before the last of
   * them: what a processor replays to rebuild a partition's state up to its committed offset. Only what the
   * log still holds (the in-process log releases records every group has committed). Given in batches of at
   * most REPLAY_BATCH_RECORDS, in offset order, so a reader holds one batch at a time; nothing when there is
   * nothing to replay.
   */
  replay(
    topic: string,
    partition: number,
    untilOffset: number,
    lookbackMs: number,
  ): AsyncIterable<ReplayBatch>;
  close(): Promise<void>;
}

/** For each topic-partition among `records`, the highest offset seen: what a commit covers. */
export function highestOffsets(records: LogRecord[]): Map<string, LogRecord> {
  const last = new Map<string, LogRecord>();
  // A batch comes in runs of one partition: look the partition up only when the run changes.
  let run: LogRecord | undefined;
  let id = '';
  for (const record of records) {
    if (run === undefined || run.partition !== record.partition || run.topic !== record.topic) {
      id = `${record.topic}\u0000${record.partition}`;
      run = last.get(id);
    }
    if (run === undefined || run.offset < record.offset) {
      last.set(id, record);
      run = record;
    }
  }
  return last;
}

/**
 * A consumer group of this process alone, for a table every instance keeps whole (topology, weather): as its
 * only member the consumer reads every partition, and no other process shares its offsets.
 */
export function ownGroup(name: string): string {
  return `${OWN_GROUP_PREFIX}${name}-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
}

const OWN_GROUP_PREFIX = 'own.';

/** Whether a group is one of `ownGroup`'s: its next process reads under another name, so its offsets are not kept. */
export function isOwnGroup(group: string): boolean {
  return group.startsWith(OWN_GROUP_PREFIX);
}
