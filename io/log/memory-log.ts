import { Journal, type JournalFile, type JournalOptions } from './journal.js';
import { partitionFor } from './partitioner.js';
import {
  REPLAY_BATCH_RECORDS,
  highestOffsets,
  isOwnGroup,
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

/**
 * The in-process log of embedded mode: Kafka's semantics (partitions, per-key order, offsets, consumer
 * groups). Records are held in memory until every group subscribed to their topic has committed them (until
 * the first group subscribes, for it);
 * producers wait while a partition's uncommitted backlog is full, so a slow consumer slows ingest instead of
 * growing memory without bound. Given a directory, the log is durable (journal.ts): a send resolves, and
 * consumers see its records, only once they are on disk, and a restarted log holds every record some group
 * had not committed, and the groups' offsets.
 */
export interface MemoryLogOptions {
  /** Uncommitted records a partition may hold before producers wait. */
  maxBacklogPerPartition?: number;
  /** Where the log keeps its records and offsets; unset = memory only. */
  dir?: string;
  /** The files' settings (segment size, how often offsets are written), with `dir`. */
  journal?: JournalOptions;
  /**
   * With `dir`: the consumer groups whose offsets found on disk are kept. Another group's (one no longer
   * used) would hold its topics' records for ever, and producers would wait once its backlog is full.
   */
  groups?: readonly string[];
}

interface Partition {
  /** Offset of records[0]. */
  base: number;
  records: LogRecord[];
  /** End of what consumers may read: records below it are on disk (all of them, for a log in memory). */
  durable: number;
  /** Its files, for a log with a directory. */
  file: JournalFile | undefined;
  /**
   * Lowest committed offset among the groups subscribed to the topic (Infinity: none), cached because every
   * append asks for it; undefined once a commit or a new subscription may have changed it.
   */
  floor: number | undefined;
}

interface Topic {
  spec: TopicSpec;
  partitions: Partition[];
}

interface Group {
  committed: Map<string, number>;
  members: MemoryConsumer[];
  topics: Set<string>;
}

const tpId = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class MemoryLog implements Log {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<string, Topic>();
  private readonly groups = new Map<string, Group>();
  private dataWaiters = new Set<() => void>();
  private wakeScheduled = false;
  private spaceWaiters = new Set<() => void>();
  private readonly maxBacklog: number;
  private readonly journal: Journal | null;
  private closed = false;

  constructor(options: MemoryLogOptions = {}) {
    this.maxBacklog = options.maxBacklogPerPartition ?? 50_000;
    this.journal = options.dir
      ? new Journal(
          options.dir,
          (topic, partition, end) => {
            const p = this.topics.get(topic)?.partitions[partition];
            if (p && p.durable < end) p.durable = end;
            this.wake();
          },
          options.journal,
        )
      : null;
    // Groups that committed before a restart still hold back the records they have not read.
    for (const [name, stored] of Object.entries(this.journal?.storedGroups() ?? {})) {
      if (options.groups && !options.groups.includes(name)) {
        console.error(
          `in-process log: dropping the offsets of consumer group ${name}, which nothing uses now`,
        );
        this.journal!.forgetGroup(name);
        continue;
      }
      const group: Group = {
        committed: new Map(Object.entries(stored.committed)),
        members: [],
        topics: new Set(stored.topics),
      };
      this.groups.set(name, group);
      this.keepGroup(name, group);
    }
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    for (const spec of specs) {
      const existing = this.topics.get(spec.name);
      if (existing) {
        if (existing.spec.partitions !== spec.partitions)
          throw new Error(
            `topic ${spec.name} exists with ${existing.spec.partitions} partitions, not ${spec.partitions}`,
          );
        continue;
      }
      const onDisk = this.journal?.partitionsOnDisk(spec.name) ?? 0;
      if (onDisk > spec.partitions)
        throw new Error(
          `the log in ${this.journal!.dir} has ${onDisk} partitions of ${spec.name}, not ${spec.partitions}: keep the partition count, or start from an empty data directory`,
        );
      const topic: Topic = { spec, partitions: [] };
      for (let partition = 0; partition < spec.partitions; partition++) {
        const loaded = this.journal?.load(spec.name, partition) ?? { base: 0, records: [], file: undefined };
        const records = loaded.records.map((r, k) => ({
          topic: spec.name,
          partition,
          offset: loaded.base + k,
          key: r.key,
          value: r.value,
          timestamp: r.timestamp,
        }));
        const end = loaded.base + records.length;
        topic.partitions.push({
          base: loaded.base,
          records,
          durable: end,
          floor: undefined,
          file: loaded.file,
        });
        // An offset past what the files hold (they were cut at a torn record) would skip the next records.
        for (const [name, group] of this.groups) {
          const committed = group.committed.get(tpId(spec.name, partition));
          if (committed !== undefined && committed > end) {
            console.error(
              `in-process log: ${name} had committed ${spec.name}[${partition}] to ${committed}, past its end ${end}`,
            );
            group.committed.set(tpId(spec.name, partition), end);
          }
        }
      }
      this.topics.set(spec.name, topic);
      for (let partition = 0; partition < spec.partitions; partition++) this.trim(spec.name, partition);
    }
  }

  producer(): LogProducer {
    return {
      send: (topic, records) => this.append(topic, records),
      flush: async () => {},
      close: async () => {},
    };
  }

  consumer(options: ConsumerOptions): LogConsumer {
    for (const topic of options.topics) this.topic(topic);
    let group = this.groups.get(options.group);
    if (!group) {
      group = { committed: new Map(), members: [], topics: new Set() };
      this.groups.set(options.group, group);
    }
    for (const topic of options.topics) {
      group.topics.add(topic);
      for (const p of this.topic(topic).partitions) p.floor = undefined;
    }
    // A group is on disk from its first subscription: its topics' records are kept for it from then on.
    this.keepGroup(options.group, group);
    const member = new MemoryConsumer(this, options.group, group, options);
    group.members.push(member);
    this.rebalance(group);
    return member;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const resolve of [...this.dataWaiters]) resolve();
    for (const resolve of this.spaceWaiters) resolve();
    await this.journal?.close();
  }

  async *replay(
    topic: string,
    partition: number,
    untilOffset: number,
    lookbackMs: number,
  ): AsyncGenerator<ReplayBatch> {
    const p = this.topic(topic).partitions[partition]!;
    // Taken at once (references to records the log holds anyway): the log may release them meanwhile.
    const held = p.records.slice(0, Math.max(0, untilOffset - p.base));
    const last = held.at(-1);
    if (!last) return;
    const from = last.timestamp - lookbackMs;
    for (let at = 0; at < held.length; at += REPLAY_BATCH_RECORDS) {
      const records = held.slice(at, at + REPLAY_BATCH_RECORDS).filter((r) => r.timestamp >= from);
      if (records.length > 0) yield { records, lastTimestamp: last.timestamp };
    }
  }

  committedOffset(group: Group, tp: TopicPartition): number {
    return group.committed.get(tpId(tp.topic, tp.partition)) ?? 0;
  }

  /** Durable records in a partition from `offset` on, at most `max`. */
  read(topic: string, partition: number, offset: number, max: number): LogRecord[] {
    const p = this.topic(topic).partitions[partition]!;
    const start = Math.max(offset - p.base, 0);
    return p.records.slice(start, Math.min(start + max, p.durable - p.base));
  }

  /** The end of what consumers can read (Kafka's high watermark). */
  endOffset(topic: string, partition: number): number {
    return this.topic(topic).partitions[partition]!.durable;
  }

  /** The first offset the log still holds. */
  startOffset(topic: string, partition: number): number {
    return this.topic(topic).partitions[partition]!.base;
  }

  partitionsOf(topic: string): number {
    return this.topic(topic).spec.partitions;
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** Resolves on the next append (or close), or after `ms`. */
  waitForData(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.dataWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.dataWaiters.add(done);
    });
  }

  commit(groupName: string, group: Group, records: LogRecord[]): void {
    for (const record of highestOffsets(records).values()) {
      const id = tpId(record.topic, record.partition);
      const next = record.offset + 1;
      if ((group.committed.get(id) ?? 0) < next) {
        group.committed.set(id, next);
        this.topic(record.topic).partitions[record.partition]!.floor = undefined;
      }
      this.trim(record.topic, record.partition);
    }
    if (!isOwnGroup(groupName)) this.journal?.offsetsChanged();
    for (const resolve of [...this.spaceWaiters]) resolve();
  }

  /** A group of this process alone starts afresh under a new name: its offsets are not kept. */
  private keepGroup(name: string, group: Group): void {
    if (!this.journal || isOwnGroup(name)) return;
    this.journal.keepGroup(name, () => ({
      topics: [...group.topics],
      committed: Object.fromEntries(group.committed),
    }));
  }

  leave(group: Group, member: MemoryConsumer): void {
    group.members = group.members.filter((m) => m !== member);
    this.rebalance(group);
  }

  private topic(name: string): Topic {
    const topic = this.topics.get(name);
    if (!topic) throw new Error(`unknown topic ${name}: create it with ensureTopics first`);
    return topic;
  }

  private async append(topicName: string, records: ProduceRecord[]): Promise<void> {
    const topic = this.topic(topicName);
    const now = Date.now();
    for (const record of records) {
      if (this.closed) throw new Error('log is closed');
      const partition = partitionFor(record.key, topic.spec.partitions);
      const p = topic.partitions[partition]!;
      while (!this.closed && this.backlog(topic, partition) >= this.maxBacklog) await this.waitForSpace();
      if (this.closed) throw new Error('log is closed');
      const appended: LogRecord = {
        topic: topicName,
        partition,
        offset: p.base + p.records.length,
        key: record.key,
        value: record.value,
        timestamp: now,
      };
      // The journal first: a record it refuses (after a failed write) is not in the log at all.
      if (p.file) this.journal!.append(p.file, appended.offset, appended);
      p.records.push(appended);
      if (!this.journal) p.durable = p.base + p.records.length;
    }
    if (this.journal) await this.journal.sync();
    else this.wake();
  }

  /** Wakes waiting consumers once per event-loop turn, however many appends the turn made. */
  private wake(): void {
    if (this.wakeScheduled || this.dataWaiters.size === 0) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      for (const resolve of [...this.dataWaiters]) resolve();
    });
  }

  private waitForSpace(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.spaceWaiters.delete(done);
        resolve();
      };
      this.spaceWaiters.add(done);
    });
  }

  /** Uncommitted records of the slowest subscribed group (or all the partition holds, before any subscribes). */
  private backlog(topic: Topic, partition: number): number {
    // Reference data (topology) is kept whole and loaded in one go: a load is never held back.
    if (topic.spec.compacted) return 0;
    return Math.max(0, topic.partitions[partition]!.durable - this.floor(topic.spec.name, partition));
  }

  /**
   * Lowest committed offset among the groups subscribed to the topic. Before any group subscribes, the
   * partition's first offset: its records are kept for the first group (unlike Kafka, a group that subscribes
   * after every earlier one committed a record does not get it).
   */
  private floor(topicName: string, partition: number): number {
    const p = this.topic(topicName).partitions[partition]!;
    if (p.floor === undefined) {
      let floor = Number.POSITIVE_INFINITY;
      for (const group of this.groups.values()) {
        if (group.topics.has(topicName))
          floor = Math.min(floor, group.committed.get(tpId(topicName, partition)) ?? 0);
      }
      p.floor = floor;
    }
    return p.floor === Number.POSITIVE_INFINITY ? p.base : p.floor;
  }

  /**
   * Drops records every subscribed group has committed. Compacted topics (reference data such as topology)
   * are kept whole, since a late member must be able to read the latest value of every key.
   */
  private trim(topicName: string, partition: number): void {
    const topic = this.topic(topicName);
    if (topic.spec.compacted) return;
    const p = topic.partitions[partition]!;
    const low = Math.min(p.durable, this.floor(topicName, partition));
    const drop = low - p.base;
    if (drop > 0) {
      p.records.splice(0, drop);
      p.base = low;
      if (p.file) this.journal!.release(p.file, low);
    }
  }

  /** Spreads the group's partitions over its members, round robin. */
  private rebalance(group: Group): void {
    group.members.forEach((member, index) => {
      const assigned: TopicPartition[] = [];
      for (const topic of member.topics) {
        for (let partition = 0; partition < this.partitionsOf(topic); partition++) {
          if (partition % group.members.length === index) assigned.push({ topic, partition });
        }
      }
      member.reassign(assigned);
    });
  }
}

class MemoryConsumer implements LogConsumer {
  readonly topics: string[];
  private assigned: TopicPartition[] = [];
  private pending: { assigned: TopicPartition[] } | null = null;
  private readonly positions = new Map<string, number>();
  private cursor = 0;
  private closed = false;

  constructor(
    private readonly log: MemoryLog,
    private readonly groupName: string,
    private readonly group: Group,
    private readonly options: ConsumerOptions,
  ) {
    this.topics = options.topics;
  }

  /** Takes effect at the next poll, so callbacks run between polls as with Kafka. */
  reassign(assigned: TopicPartition[]): void {
    this.pending = { assigned };
  }

  async poll(max: number, waitMs: number): Promise<LogRecord[]> {
    if (this.closed) return [];
    await this.applyRebalance();
    const out = this.take(max);
    if (out.length === 0 && waitMs > 0 && !this.log.isClosed()) {
      await this.log.waitForData(waitMs);
      await this.applyRebalance();
      this.take(max, out);
    }
    const linger = this.options.lingerMs ?? 0;
    if (out.length > 0 && linger > 0) {
      const deadline = Date.now() + linger;
      while (out.length < max && Date.now() < deadline && !this.closed && !this.log.isClosed()) {
        await this.log.waitForData(deadline - Date.now());
        this.take(max, out);
      }
    }
    return out;
  }

  async commit(records: LogRecord[]): Promise<void> {
    this.log.commit(this.groupName, this.group, records);
  }

  async committed(tp: TopicPartition): Promise<number> {
    return this.log.committedOffset(this.group, tp);
  }

  async lag(): Promise<number> {
    let lag = 0;
    for (const tp of this.assigned) {
      lag +=
        this.log.endOffset(tp.topic, tp.partition) - (this.positions.get(tpId(tp.topic, tp.partition)) ?? 0);
    }
    return lag;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.assigned.length) await this.options.onRevoked?.(this.assigned);
    this.log.leave(this.group, this);
  }

  private async applyRebalance(): Promise<void> {
    if (!this.pending) return;
    const next = this.pending.assigned;
    this.pending = null;
    const key = (tp: TopicPartition) => tpId(tp.topic, tp.partition);
    const nextIds = new Set(next.map(key));
    const oldIds = new Set(this.assigned.map(key));
    const revoked = this.assigned.filter((tp) => !nextIds.has(key(tp)));
    const added = next.filter((tp) => !oldIds.has(key(tp)));
    if (revoked.length) await this.options.onRevoked?.(revoked);
    for (const tp of revoked) this.positions.delete(key(tp));
    for (const tp of added) {
      const committed = this.group.committed.get(key(tp));
      const start =
        committed ?? (this.options.fromBeginning === false ? this.log.endOffset(tp.topic, tp.partition) : 0);
      // Records below the log's start were committed by every group that reads them (Kafka's
      // auto.offset.reset=earliest for an offset the log no longer holds).
      this.positions.set(key(tp), Math.max(start, this.log.startOffset(tp.topic, tp.partition)));
    }
    this.assigned = next;
    if (added.length) await this.options.onAssigned?.(added);
  }

  /** Round robin over the assigned partitions so one busy partition cannot starve the others. */
  private take(max: number, out: LogRecord[] = []): LogRecord[] {
    const n = this.assigned.length;
    for (let visited = 0; visited < n && out.length < max; visited++) {
      const tp = this.assigned[(this.cursor + visited) % n]!;
      const id = tpId(tp.topic, tp.partition);
      const position = this.positions.get(id) ?? 0;
      const records = this.log.read(tp.topic, tp.partition, position, max - out.length);
      if (records.length) {
        this.positions.set(id, position + records.length);
        for (const record of records) out.push(record);
      }
    }
    this.cursor = n ? (this.cursor + 1) % n : 0;
    return out;
  }
}
