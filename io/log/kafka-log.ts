import kafkaJs from '@confluentinc/kafka-javascript';
import { ConfigError } from '../../core/config.js';
import {
  REPLAY_BATCH_RECORDS,
  type ConsumerOptions,
  type Log,
  type LogConsumer,
  type LogProducer,
  type LogRecord,
  type ProduceRecord,
  type ReplayBatch,
  type TopicPartition,
  type TopicSpec,
} from './log.js';

const { RdKafka } = kafkaJs;
type RdConsumer = InstanceType<typeof RdKafka.KafkaConsumer>;
type RdProducer = InstanceType<typeof RdKafka.Producer>;
type RdAdmin = ReturnType<typeof RdKafka.AdminClient.create>;

const ERR_ASSIGN_PARTITIONS = -175;
const ERR_REVOKE_PARTITIONS = -174;
const ERR_QUEUE_FULL = -184;
const ERR_TOPIC_ALREADY_EXISTS = 36;

/**
 * librdkafka's connection failures that retrying cannot cure: SASL authentication refused; TLS that failed
 * (the broker's certificate not trusted or for another host; or the client's refused by the broker, an
 * OpenSSL alert once the connection is up: "SSL routines::… alert bad certificate"); or a listener that wants
 * SASL or TLS the client does not speak: older librdkafka says "verify that security.protocol is correctly
 * configured", newer only that the broker closed the connection at its first request (ApiVersion), which a
 * TLS listener does to plaintext.
 */
const SECURITY_FAILURE =
  /authentication|SSL handshake|SSL routines|security\.protocol|Disconnected: .*in state APIVERSION_QUERY/i;
/** How long the first attempt at the cluster's metadata waits (each later one twice as long, 30 s in all). */
const FIRST_METADATA_ATTEMPT_MS = 2_000;

/**
 * The log on Apache Kafka, through librdkafka (@confluentinc/kafka-javascript):
 * - producer: idempotent, acks=all, Java-compatible murmur2 partitioning (the same function the in-process
 *   log uses, so `partitionFor` agrees with where a key's records are), send() resolves on delivery;
 * - consumer: a consumer-group member with manual offset commits and eager rebalancing, whose assignment
 *   callbacks run (and finish) before any record of a newly assigned partition is returned;
 * - topics: created with explicit partitions, retention and cleanup policy.
 */
export interface KafkaLogOptions {
  brokers: string;
  clientId?: string;
  /** Extra librdkafka properties for every client (e.g. security settings). */
  config?: Record<string, string | number | boolean>;
  /**
   * How long a consumer may go without polling before librdkafka takes it out of its group and its partitions
   * move (max.poll.interval.ms; GRIDSTREAM_KAFKA_MAX_POLL_INTERVAL_MS). Default librdkafka's own, 300 000. At
   * least the session timeout, 10 000.
   */
  maxPollIntervalMs?: number;
}

/** The consumers' session timeout: a member whose heartbeats stop for this long leaves its group. */
const SESSION_TIMEOUT_MS = 10_000;

function maxPollInterval(value: number | undefined): number | undefined {
  if (value !== undefined && !(Number.isInteger(value) && value >= SESSION_TIMEOUT_MS))
    throw new Error(
      `Kafka max.poll.interval.ms: ${value} is not a whole number of ms >= the session timeout (${SESSION_TIMEOUT_MS})`,
    );
  return value;
}

export class KafkaLog implements Log {
  readonly kind = 'kafka' as const;
  private readonly producers = new Set<KafkaProducer>();
  private readonly consumers = new Set<KafkaConsumer>();

  private readonly maxPollIntervalMs: number | undefined;

  constructor(private readonly options: KafkaLogOptions) {
    this.maxPollIntervalMs = maxPollInterval(options.maxPollIntervalMs);
  }

  private base(): Record<string, string | number | boolean> {
    return {
      'bootstrap.servers': this.options.brokers,
      'client.id': this.options.clientId ?? 'gridstream',
      ...this.options.config,
    };
  }

  /**
   * Reads the cluster's metadata through a client of its own, within 30 s. A failure to authenticate or to set
   * up TLS fails it at once with librdkafka's reason: librdkafka would retry those until the timeout, and they
   * are settings to fix, not a broker to wait for. The wait is made of attempts, each by a client that ends
   * with its attempt: a metadata request holds one of libuv's few worker threads until it is answered or times
   * out, and a process stopping on a refusal would otherwise wait for it. The first is short (where a refusal
   * shows), later ones twice as long as the one before, so a slow broker still gets a long one.
   */
  private async metadata(what: string): Promise<kafkaJs.RdKafka.Metadata> {
    const deadline = Date.now() + 30_000;
    for (let attemptMs = FIRST_METADATA_ATTEMPT_MS; ; attemptMs *= 2) {
      const started = Date.now();
      const timeoutMs = Math.max(100, Math.min(attemptMs, deadline - started));
      const attempt = await this.metadataAttempt(timeoutMs);
      if (attempt.metadata) return attempt.metadata;
      // An attempt that failed before its time was up was answered (refused): final, as a single connect was.
      const answered = Date.now() - started < timeoutMs - 50;
      if (attempt.security || answered || Date.now() >= deadline) {
        // A refused handshake is the settings' (or the listener's) doing: reported as such, without a stack.
        // A connection the broker closes at once is most often a listener that wants TLS or SASL the client
        // does not speak (librdkafka's message no longer says so): the message points at the settings too.
        const hint =
          attempt.security || /Disconnected/.test(attempt.failure)
            ? ' (check GRIDSTREAM_KAFKA_SECURITY_PROTOCOL and the GRIDSTREAM_KAFKA_SASL_* and GRIDSTREAM_KAFKA_SSL_* settings against the listener)'
            : '';
        const message = `Kafka ${this.options.brokers}: cannot ${what}: ${attempt.failure}${hint}`;
        throw attempt.security ? new ConfigError(message) : new Error(message);
      }
    }
  }

  /**
   * One client's attempt at the metadata: the metadata, or why not. A security failure settles it as soon as
   * librdkafka logs it; the client still ends by itself within `timeoutMs`.
   */
  private metadataAttempt(
    timeoutMs: number,
  ): Promise<
    | { metadata: kafkaJs.RdKafka.Metadata; failure?: undefined; security?: undefined }
    | { metadata?: undefined; failure: string; security: boolean }
  > {
    return new Promise((resolve) => {
      const client = new RdKafka.Producer({ ...this.base(), event_cb: true } as never);
      let lastFailure: string | undefined;
      client.on('event.log', (log: { fac: string; message: string }) => {
        if (log.fac !== 'FAIL') return;
        lastFailure = log.message.replace(/^\[thrd:[^\]]*\]: /, '');
        if (SECURITY_FAILURE.test(lastFailure)) resolve({ failure: lastFailure, security: true });
      });
      // Reported through the log above and the connect callback; without a listener it would end the process.
      client.on('event.error', () => {});
      // A failed connect disconnects what it opened.
      client.connect({ timeout: timeoutMs }, (error, data) => {
        if (!error) {
          client.disconnect(() => {});
          return resolve({ metadata: data });
        }
        resolve({
          failure: lastFailure ? `${error.message}: ${lastFailure}` : error.message,
          security: lastFailure !== undefined && SECURITY_FAILURE.test(lastFailure),
        });
      });
    });
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    // First, so that a client that may not connect says why at once.
    await this.metadata('connect');
    const admin: RdAdmin = RdKafka.AdminClient.create(this.base() as never);
    try {
      for (const spec of specs) {
        const config: Record<string, string> = {
          'cleanup.policy': spec.compacted ? 'compact' : 'delete',
          // Retention and replay go by arrival: with the readings' own (event) times as record times, a
          // backfill of last month's data would fall outside the retention and be deleted at once.
          'message.timestamp.type': 'LogAppendTime',
        };
        if (spec.retentionMs !== undefined) config['retention.ms'] = String(spec.retentionMs);
        await new Promise<void>((resolve, reject) =>
          admin.createTopic(
            { topic: spec.name, num_partitions: spec.partitions, replication_factor: -1, config },
            30_000,
            (error) =>
              !error || error.code === ERR_TOPIC_ALREADY_EXISTS
                ? resolve()
                : reject(kafkaError(`create topic ${spec.name}`, error)),
          ),
        );
      }
      const metadata = await this.metadata('read topic metadata');
      for (const spec of specs) {
        const topic = metadata.topics.find((t) => t.name === spec.name);
        if (topic && topic.partitions.length !== spec.partitions)
          throw new Error(
            `topic ${spec.name} exists with ${topic.partitions.length} partitions, not ${spec.partitions}`,
          );
      }
    } finally {
      admin.disconnect();
    }
  }

  producer(): LogProducer {
    const producer = new KafkaProducer(this.base());
    this.producers.add(producer);
    return producer;
  }

  consumer(options: ConsumerOptions): LogConsumer {
    const base = this.base();
    if (this.maxPollIntervalMs !== undefined) base['max.poll.interval.ms'] = this.maxPollIntervalMs;
    const consumer = new KafkaConsumer(base, options, () => this.consumers.delete(consumer));
    this.consumers.add(consumer);
    return consumer;
  }

  async *replay(
    topic: string,
    partition: number,
    untilOffset: number,
    lookbackMs: number,
  ): AsyncGenerator<ReplayBatch> {
    if (untilOffset <= 0) return;
    const reader = new RdKafka.KafkaConsumer(
      {
        ...this.base(),
        'group.id': `gridstream-replay-${process.pid}-${Date.now()}`,
        'enable.auto.commit': false,
      } as never,
      { 'auto.offset.reset': 'earliest' } as never,
    );
    await new Promise<void>((resolve, reject) =>
      reader.connect({ timeout: 30_000 }, (error) =>
        error ? reject(kafkaError('connect a replay reader', error)) : resolve(),
      ),
    );
    try {
      /** The records of [from, stopAt), a consume call's worth at a time. */
      const read = async function* (from: number, stopAt: number): AsyncGenerator<LogRecord[]> {
        reader.assign([{ topic, partition, offset: from }]);
        reader.setDefaultConsumeTimeout(1000);
        let next = from;
        let idle = 0;
        while (next < stopAt && idle < 10) {
          const batch = await new Promise<kafkaJs.RdKafka.Message[]>((resolve, reject) =>
            reader.consume(REPLAY_BATCH_RECORDS, (error, messages) =>
              error ? reject(kafkaError('replay', error)) : resolve(messages),
            ),
          );
          idle = batch.length ? 0 : idle + 1;
          const out: LogRecord[] = [];
          for (const m of batch) if (m.offset < stopAt) out.push(toLogRecord(m));
          if (out.length > 0) {
            next = out.at(-1)!.offset + 1;
            yield out;
          }
        }
        reader.unassign();
      };
      // The last record before the committed offset dates the replay; the time index finds where to start.
      let last: LogRecord | undefined;
      for await (const [record] of read(untilOffset - 1, untilOffset)) last ??= record;
      if (!last) return;
      const start = await new Promise<number>((resolve, reject) =>
        reader.offsetsForTimes(
          [{ topic, partition, offset: last.timestamp - lookbackMs }],
          30_000,
          (error, offsets) =>
            error ? reject(kafkaError('find replay start', error)) : resolve(offsets[0]?.offset ?? 0),
        ),
      );
      for await (const records of read(start < 0 ? untilOffset - 1 : start, untilOffset))
        yield { records, lastTimestamp: last.timestamp };
    } finally {
      await new Promise<void>((resolve) => reader.disconnect(() => resolve()));
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.close()));
    await Promise.all([...this.producers].map((p) => p.close()));
  }
}

function toLogRecord(m: kafkaJs.RdKafka.Message): LogRecord {
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key: m.key === undefined || m.key === null ? '' : m.key.toString(),
    value: m.value ?? Buffer.alloc(0),
    timestamp: m.timestamp ?? 0,
  };
}

function kafkaError(what: string, error: { message: string; code?: number }): Error {
  return new Error(
    `Kafka: cannot ${what}: ${error.message}${error.code !== undefined ? ` (code ${error.code})` : ''}`,
  );
}

/** One send() call: its records are handed to librdkafka in order, and it settles once all are delivered. */
interface Send {
  topic: string;
  records: ProduceRecord[];
  /** Index of the next record to hand to librdkafka. */
  next: number;
  /** Records not yet reported delivered. */
  remaining: number;
  settled: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Sends keep their order: produce() enqueues synchronously in librdkafka, and when its queue is full the
 * rest wait in a FIFO drained as deliveries free room, so a later send never overtakes an earlier one.
 * A send is one promise however many records it has (the delivery reports count down), which keeps the
 * per-record cost of a busy producer low.
 */
class KafkaProducer implements LogProducer {
  private readonly producer: RdProducer;
  private readonly ready: Promise<void>;
  /** Sends with records not yet handed to librdkafka; the first may be partly handed over. */
  private readonly waiting: Send[] = [];
  private inFlight = 0;
  private closed = false;

  constructor(base: Record<string, string | number | boolean>) {
    this.producer = new RdKafka.Producer({
      ...base,
      'enable.idempotence': true,
      acks: 'all',
      partitioner: 'murmur2_random',
      // Records wait up to 20 ms for their batch to fill: fewer, larger produce requests and better compression,
      // which costs the broker (whose CPU goes mostly on per-request work) and this process less per record.
      // Longer saved the broker little and delayed every reading (and its PUBACK) by as much again.
      'linger.ms': 20,
      'compression.type': 'lz4',
      'queue.buffering.max.messages': 200_000,
      dr_cb: true,
    } as never);
    this.producer.on('delivery-report', (error, report) => {
      this.inFlight--;
      const send = report.opaque as Send;
      if (error) this.settle(send, kafkaError(`deliver to ${send.topic}`, error));
      else if (--send.remaining === 0) this.settle(send, null);
      if (this.waiting.length) this.drain();
    });
    this.ready = new Promise((resolve, reject) =>
      this.producer.connect({ timeout: 30_000 }, (error) => {
        if (error) return reject(kafkaError('connect the producer', error));
        // Delivery reports are served by polling, which only works once connected.
        this.producer.setPollInterval(5);
        resolve();
      }),
    );
    // Errors surface through delivery reports; the event keeps an unreachable broker from crashing the process.
    this.producer.on('event.error', (error) => console.error(`Kafka producer: ${error.message}`));
  }

  async send(topic: string, records: ProduceRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.ready;
    const delivered = new Promise<void>((resolve, reject) =>
      this.waiting.push({
        topic,
        records,
        next: 0,
        remaining: records.length,
        settled: false,
        resolve,
        reject,
      }),
    );
    this.drain();
    await delivered;
  }

  /** A send fails at its first failed record (as Promise.all would), and succeeds once all are delivered. */
  private settle(send: Send, error: Error | null): void {
    if (send.settled) return;
    send.settled = true;
    if (error) send.reject(error);
    else send.resolve();
  }

  private drain(): void {
    while (this.waiting.length) {
      const send = this.waiting[0]!;
      while (send.next < send.records.length) {
        const record = send.records[send.next]!;
        try {
          this.producer.produce(
            send.topic,
            null,
            record.value,
            record.key,
            record.timestamp ?? Date.now(),
            send,
          );
        } catch (error) {
          // Full queue: wait for deliveries to free room (drain runs again on each report).
          if ((error as { code?: number }).code === ERR_QUEUE_FULL && this.inFlight > 0) return;
          send.next++;
          this.settle(send, error as Error);
          continue;
        }
        send.next++;
        this.inFlight++;
      }
      this.waiting.shift();
    }
  }

  async flush(): Promise<void> {
    await this.ready;
    while (this.waiting.length || this.inFlight) {
      await new Promise<void>((resolve, reject) =>
        this.producer.flush(1000, (error) => (error && error.code !== -185 ? reject(error) : resolve())),
      );
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush().catch(() => {});
    await new Promise<void>((resolve) => this.producer.disconnect(() => resolve()));
  }
}

class KafkaConsumer implements LogConsumer {
  private readonly consumer: RdConsumer;
  private readonly ready: Promise<void>;
  private assigned: TopicPartition[] = [];
  /** The assigned partitions by topic: the ownership check of every record polled or committed. */
  private owned = new Map<string, Set<number>>();
  /** Assignment callbacks in progress: poll() returns nothing before they finish. */
  private rebalancing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    base: Record<string, string | number | boolean>,
    private readonly options: ConsumerOptions,
    private readonly onClose: () => void,
  ) {
    this.consumer = new RdKafka.KafkaConsumer(
      {
        ...base,
        'group.id': options.group,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'partition.assignment.strategy': 'range',
        'session.timeout.ms': SESSION_TIMEOUT_MS,
        'heartbeat.interval.ms': 1_000,
        // A lingering consumer lets the broker hold a fetch until it has this much (or the linger is over):
        // without it every fetch returns at the first new record, and a busy topic costs the broker and this
        // client a request per handful of records. Any other returns at the first record, and on a quiet
        // topic asks twice a second (librdkafka's default), not ten times: a processor has half a dozen such
        // members, and the broker's CPU goes mostly on per-request work.
        'fetch.wait.max.ms': Math.max(10, options.lingerMs ?? 500),
        'fetch.min.bytes': options.lingerMs ? 256 * 1024 : 1,
        // Memory: what librdkafka prefetches beyond the records handed out, per member (default 64 MiB), and
        // the most one fetch response may carry (default 50 MiB). A processor has several members; a few MiB
        // each still keeps a lingering (busy) member fed between fetches at tens of thousands of records a
        // second, and a quiet one needs less.
        'queued.max.messages.kbytes': (options.lingerMs ? 8 : 2) * 1024,
        'fetch.max.bytes': 4 * 1024 * 1024,
        rebalance_cb: (error: { code: number }, assignment: TopicPartition[]) =>
          this.rebalance(error.code, assignment),
      } as never,
      { 'auto.offset.reset': options.fromBeginning === false ? 'latest' : 'earliest' } as never,
    );
    // Return what has arrived once the first record is there, rather than waiting for each one.
    (
      this.consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(on: boolean): void }
    ).setDefaultIsTimeoutOnlyForFirstMessage(true);
    this.consumer.on('event.error', (error) =>
      console.error(`Kafka consumer ${options.group}: ${error.message}`),
    );
    this.ready = new Promise((resolve, reject) =>
      this.consumer.connect({ timeout: 30_000 }, (error) => {
        if (error) return reject(kafkaError(`connect consumer group ${options.group}`, error));
        this.consumer.subscribe(options.topics);
        resolve();
      }),
    );
  }

  private rebalance(code: number, assignment: TopicPartition[]): void {
    const tps = assignment.map(({ topic, partition }) => ({ topic, partition }));
    if (code === ERR_ASSIGN_PARTITIONS) {
      // Called from librdkafka's thread: a throw here is an uncaught exception that ends the process.
      if (!this.applyRebalance(() => this.consumer.assign(assignment))) return;
      this.setAssigned(tps);
      this.rebalancing = this.rebalancing.then(() => this.options.onAssigned?.(tps));
    } else if (code === ERR_REVOKE_PARTITIONS) {
      this.rebalancing = this.rebalancing.then(() => this.options.onRevoked?.(tps));
      this.applyRebalance(() => this.consumer.unassign());
      this.setAssigned([]);
    }
  }

  /**
   * Applies an assignment change; false if librdkafka refused it. It does ("Erroneous state") for a rebalance
   * that arrives while the consumer is closing or has been taken out of its group: the partitions then go to
   * the group's other members, and a member still running gets a new assignment when it rejoins.
   */
  private applyRebalance(change: () => void): boolean {
    try {
      change();
      return true;
    } catch (error) {
      if (!this.closed)
        console.error(
          `Kafka consumer ${this.options.group}: rebalance not applied: ${(error as Error).message}`,
        );
      return false;
    }
  }

  private setAssigned(tps: TopicPartition[]): void {
    this.assigned = tps;
    this.startOffsets.clear();
    this.owned = new Map();
    for (const { topic, partition } of tps) {
      let partitions = this.owned.get(topic);
      if (!partitions) this.owned.set(topic, (partitions = new Set()));
      partitions.add(partition);
    }
  }

  async poll(max: number, waitMs: number): Promise<LogRecord[]> {
    await this.ready;
    if (this.closed) return [];
    this.consumer.setDefaultConsumeTimeout(Math.max(1, waitMs));
    // librdkafka reconnects by itself: a consume error while a broker is away is reported and waited out.
    const messages = await new Promise<kafkaJs.RdKafka.Message[]>((resolve) =>
      this.consumer.consume(max, (error, batch) => {
        if (!error) return resolve(batch);
        console.error(`Kafka consumer ${this.options.group}: ${error.message} (retrying)`);
        setTimeout(() => resolve([]), 500);
      }),
    );
    await this.rebalancing;
    // Records of partitions revoked meanwhile are left to their new owner.
    const records: LogRecord[] = [];
    for (const m of messages) if (this.owned.get(m.topic)?.has(m.partition)) records.push(toLogRecord(m));
    return records;
  }

  async commit(records: LogRecord[]): Promise<void> {
    // The highest offset per partition (as highestOffsets() finds it, without a string key per record).
    const highest = new Map<string, Map<number, number>>();
    for (const record of records) {
      let partitions = highest.get(record.topic);
      if (!partitions) highest.set(record.topic, (partitions = new Map()));
      const seen = partitions.get(record.partition);
      if (seen === undefined || seen < record.offset) partitions.set(record.partition, record.offset);
    }
    const offsets: Array<TopicPartition & { offset: number }> = [];
    for (const [topic, partitions] of highest)
      for (const [partition, offset] of partitions)
        // A partition revoked since these records were read is committed by its new owner.
        if (this.owned.get(topic)?.has(partition)) offsets.push({ topic, partition, offset: offset + 1 });
    if (offsets.length === 0 || this.closed) return;
    try {
      this.consumer.commit(offsets);
    } catch (error) {
      // At least once: an offset not committed means the records are read again, and writes are idempotent.
      console.error(`Kafka consumer ${this.options.group}: commit failed: ${(error as Error).message}`);
    }
  }

  async committed(tp: TopicPartition): Promise<number> {
    await this.ready;
    return new Promise((resolve, reject) =>
      this.consumer.committed([tp], 30_000, (error, offsets) =>
        error
          ? reject(kafkaError(`read committed offsets of ${this.options.group}`, error))
          : resolve(Math.max(0, offsets[0]?.offset ?? 0)),
      ),
    );
  }

  async lag(): Promise<number> {
    await this.ready;
    if (this.assigned.length === 0 || this.closed) return 0;
    // librdkafka refuses (Erroneous state) while the consumer is closing or out of its group: nothing to read.
    let positions: ReturnType<typeof this.consumer.position>;
    try {
      positions = this.consumer.position(this.assigned);
    } catch (error) {
      if (this.closed) return 0;
      throw error;
    }
    let lag = 0;
    for (const position of positions) {
      const high = this.cachedHighOffset(position) ?? (await this.queryHighOffset(position));
      // Nothing consumed from the partition since it was assigned: no position yet, so reading starts at the
      // committed offset (the whole partition without one), not at 0.
      const at = (position.offset ?? -1) >= 0 ? position.offset! : await this.committedOrZero(position);
      lag += Math.max(0, high - at);
    }
    return lag;
  }

  /**
   * The committed offset of an assigned partition that has no position yet, asked once per assignment: only
   * this member commits it, and only after consuming from it (when it has a position).
   */
  private readonly startOffsets = new Map<string, Promise<number>>();

  private committedOrZero(tp: TopicPartition): Promise<number> {
    const key = `${tp.topic}\u0000${tp.partition}`;
    let offset = this.startOffsets.get(key);
    if (!offset) {
      offset = new Promise<number>((resolve) =>
        this.consumer.committed([{ topic: tp.topic, partition: tp.partition }], 5_000, (error, offsets) =>
          resolve(error ? -1 : (offsets[0]?.offset ?? -1)),
        ),
      ).then((committed) => {
        // Not known (a failed request is asked again next time) or none committed: the partition from 0.
        if (committed < 0) this.startOffsets.delete(key);
        return Math.max(0, committed);
      });
      this.startOffsets.set(key, offset);
    }
    return offset;
  }

  /**
   * The high watermark librdkafka last saw in a fetch response for the partition (it fetches continuously,
   * so this is at most a fetch wait old), or undefined before the first one. Asking the broker instead costs
   * a request per partition and holds one of libuv's few worker threads, which the polls of every consumer in
   * the process need too.
   */
  private cachedHighOffset(tp: TopicPartition): number | undefined {
    try {
      const offsets = this.consumer.getWatermarkOffsets(tp.topic, tp.partition);
      return offsets.highOffset >= 0 ? offsets.highOffset : undefined;
    } catch {
      return undefined;
    }
  }

  private queryHighOffset(tp: TopicPartition): Promise<number> {
    return new Promise<number>((resolve) =>
      this.consumer.queryWatermarkOffsets(tp.topic, tp.partition, 5_000, (error, offsets) =>
        resolve(error ? 0 : offsets.highOffset),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ready.catch(() => {});
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()));
    await this.rebalancing.catch(() => {});
    this.onClose();
  }
}
