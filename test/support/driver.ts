import type { PureProcessor } from '../../pipelines/keyed-stage.js';
import type {
  ConsumerOptions,
  Log,
  LogConsumer,
  LogProducer,
  LogRecord,
  ProduceRecord,
  TopicPartition,
  TopicSpec,
} from '../../io/log/log.js';
import { MemoryLog } from '../../io/log/memory-log.js';
import { ManualClock } from '../../pipelines/runtime/clock.js';
import { onCannotGoOn } from '../../pipelines/runtime/fatal.js';
import { MAX_PAUSE_MS } from '../../pipelines/runtime/retry.js';
import { startSinkTask, type SinkTaskOptions } from '../../pipelines/runtime/sink-task.js';
import { startStageTask, type StageTask, type StageTaskOptions } from '../../pipelines/stage-task.js';
import { TOPICS } from '../../pipelines/log-topics.js';

/**
 * A test driver for stage and sink tasks, after Kafka Streams' TopologyTestDriver: the tasks run for real (consumer
 * groups, rebalances, replay, commits, dead letters) on the in-process log (memory only), with a manual clock
 * for punctuation and retries. A test pipes records into input topics, advances time, reads output topics
 * and the groups' committed offsets, holds a topic's sends to see what waits for them, and starts a second
 * member of a group to force a rebalance. settle() returns once every running task has caught up: its
 * input read, its outputs accepted by the log, its offsets committed.
 */
export interface DriverOptions {
  /** The tasks' input and output topics; the dead-letter topic is added. */
  topics: TopicSpec[];
  /** The manual clock's start, epoch ms. */
  now?: number;
}

/** The options of a task run by the driver: the driver gives it the log and the clock. */
export type DriverTaskOptions<D> = Omit<StageTaskOptions<D>, 'log' | 'clock'>;

/** The options of a sink task run by the driver. */
export type DriverSinkOptions = Omit<SinkTaskOptions, 'log' | 'clock'>;

export interface Member {
  readonly name: string;
  readonly group: string;
  readonly task: Pick<StageTask, 'lag' | 'stop'>;
  /** Polls the member's consumer has started. */
  polls(): number;
  /** Stops the task (drains, punctuates a last time, commits) and leaves the group. */
  stop(): Promise<void>;
}

export interface Hold {
  /** Sends to the topic waiting for release(). */
  held(): number;
  /** Lets the held sends (and later ones) through. */
  release(): void;
}

/** Appended to wake pollers waiting for data (the in-process log wakes every waiter on any append). */
const TICK_TOPIC = 'driver.tick';

export class TestDriver {
  readonly clock: ManualClock;
  readonly memory = new MemoryLog();
  /** What the tasks are given: the memory log, with sends that can be held and polls that are counted. */
  readonly log: Log;
  /** Errors the tasks could not go on after (pipelines/runtime/fatal.ts); close() throws the first. */
  readonly fatal: Error[] = [];
  private readonly members: Array<{ member: Member; running: boolean }> = [];
  /** One consumer of each group a task has started, to ask for the group's committed offsets. */
  private readonly groups = new Map<string, LogConsumer>();
  private readonly holds = new Map<string, { gate: Promise<void>; release: () => void; held: number }>();
  private sending = 0;
  private closed = false;
  /** Counts the polls of the consumer being created (set while a task starts). */
  private pollCounter: { polls: number } | null = null;
  private readonly restoreFatal: () => void;

  private constructor(
    private readonly topics: TopicSpec[],
    now: number,
  ) {
    this.clock = new ManualClock(now);
    this.restoreFatal = onCannotGoOn((_, error) => this.fatal.push(error));
    const memory = this.memory;
    this.log = {
      kind: 'memory',
      ensureTopics: (specs) => memory.ensureTopics(specs),
      producer: () => this.producer(),
      consumer: (options) => this.consumer(options),
      replay: (topic, partition, until, lookbackMs) => memory.replay(topic, partition, until, lookbackMs),
      close: () => memory.close(),
    };
  }

  static async create(options: DriverOptions): Promise<TestDriver> {
    const topics = [...options.topics];
    if (!topics.some((t) => t.name === TOPICS.deadLetters.name))
      topics.push({ name: TOPICS.deadLetters.name, partitions: 1 });
    const driver = new TestDriver(topics, options.now ?? Date.UTC(2026, 6, 1));
    // Compacted: no group reads it, and a topic of the in-process log is otherwise held for its first group
    // (producers would wait once 50,000 nudges were held).
    await driver.memory.ensureTopics([...topics, { name: TICK_TOPIC, partitions: 1, compacted: true }]);
    // A group that never commits holds every record, as a topic's retention would on Kafka: replay and
    // read() see them all (the in-process log drops records every subscribed group has committed).
    for (const topic of topics)
      driver.memory.consumer({ group: `driver.holder.${topic.name}`, topics: [topic.name] });
    return driver;
  }

  /** Starts a stage task as a member of its group (a second member of a group makes the log rebalance it). */
  start<D>(name: string, options: DriverTaskOptions<D>): Member {
    return this.member(name, options.group, () =>
      startStageTask({ ...options, log: this.log, clock: this.clock }),
    );
  }

  /** Starts a sink task as a member of its group. */
  startSink(name: string, options: DriverSinkOptions): Member {
    return this.member(name, options.group, () =>
      startSinkTask({ ...options, log: this.log, clock: this.clock }),
    );
  }

  private member(name: string, group: string, start: () => Member['task']): Member {
    const counter = { polls: 0 };
    this.pollCounter = counter;
    let task: Member['task'];
    try {
      task = start();
    } finally {
      this.pollCounter = null;
    }
    const entry = {
      running: true,
      member: {
        name,
        group,
        task,
        polls: () => counter.polls,
        stop: async () => {
          entry.running = false;
          await task.stop();
        },
      },
    };
    this.members.push(entry);
    return entry.member;
  }

  /** Puts records on a topic (values as given, or JSON), without waiting for the tasks. */
  async send(topic: string, records: Array<{ key: string; value: unknown }>): Promise<void> {
    await this.memory.producer().send(
      topic,
      records.map((r) => ({
        key: r.key,
        value: Buffer.isBuffer(r.value) ? r.value : Buffer.from(JSON.stringify(r.value)),
      })),
    );
  }

  /** Puts records on a topic and waits until the tasks have processed them (settle). */
  async pipe(topic: string, records: Array<{ key: string; value: unknown }>): Promise<void> {
    await this.send(topic, records);
    await this.settle();
  }

  /** Moves the clock (punctuation, retry pauses) and waits until the tasks have caught up. */
  async advance(ms: number): Promise<void> {
    this.clock.advance(ms);
    await this.settle();
  }

  /**
   * Resolves once each running task has gone round its loop at least once since the call (so it has
   * punctuated by the clock as it is now), nothing is being sent, and its lag is 0: everything on its input
   * read, and committed. Throws after `timeoutMs` (e.g. while a held send keeps a commit back).
   */
  async settle(timeoutMs = 5_000): Promise<void> {
    const since = new Map(this.members.map(({ member }) => [member, member.polls()]));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.nudge();
      await new Promise((resolve) => setTimeout(resolve, 1));
      let settled = this.sending === 0;
      for (const { member, running } of this.members) {
        if (!settled) break;
        if (!running) continue;
        // Two polls started: the first returned after the call, and its iteration (punctuation included) ran.
        settled = member.polls() - (since.get(member) ?? 0) >= 2 && (await member.task.lag()) === 0;
      }
      if (settled) return;
      if (Date.now() > deadline)
        throw new Error(`the tasks did not settle in ${timeoutMs} ms (${this.state()})`);
    }
  }

  /** Waits until `condition` holds (checked every few ms), or throws after `timeoutMs`. */
  async until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${this.state()})`);
      this.nudge();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Waits until `member` has started `count` more polls: it goes on with its loop meanwhile. */
  async polls(member: Member, count: number): Promise<void> {
    const target = member.polls() + count;
    await this.until(() => member.polls() >= target, `${count} polls of ${member.name}`);
  }

  /** Holds every send to `topic` (outputs, dead letters) until release(). */
  hold(topic: string): Hold {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const entry = { gate, release, held: 0 };
    this.holds.set(topic, entry);
    return {
      held: () => entry.held,
      release: () => {
        if (this.holds.get(topic) === entry) this.holds.delete(topic);
        entry.release();
      },
    };
  }

  /**
   * Every record on a topic, partition by partition in offset order; with `from` (an earlier ends() of the
   * topic), only those appended since.
   */
  read(topic: string, from?: readonly number[]): LogRecord[] {
    const out: LogRecord[] = [];
    for (let p = 0; p < this.memory.partitionsOf(topic); p++)
      out.push(...this.memory.read(topic, p, from?.[p] ?? 0, Number.MAX_SAFE_INTEGER));
    return out;
  }

  /** The values of read(topic, from), parsed as JSON. */
  values<T>(topic: string, from?: readonly number[]): T[] {
    return this.read(topic, from).map((r) => JSON.parse(r.value.toString()) as T);
  }

  /** The group's committed offset of each partition of `topic` (0 where it committed nothing). */
  async committed(group: string, topic: string): Promise<number[]> {
    const consumer = this.groups.get(group);
    if (!consumer) throw new Error(`no task of group ${group} has started`);
    const out: number[] = [];
    for (let partition = 0; partition < this.memory.partitionsOf(topic); partition++)
      out.push(await consumer.committed({ topic, partition }));
    return out;
  }

  /** The end offset of each partition of `topic`. */
  ends(topic: string): number[] {
    return Array.from({ length: this.memory.partitionsOf(topic) }, (_, p) => this.memory.endOffset(topic, p));
  }

  /**
   * Stops the running tasks and the log; throws the first error a task could not go on after, or if the
   * tasks have not stopped within 5 s. A task retrying something while it stops pauses on the manual clock,
   * so the clock is moved on meanwhile.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const holdEntry of this.holds.values()) holdEntry.release();
    const pauses = setInterval(() => {
      if (this.clock.sleeping() > 0) this.clock.advance(MAX_PAUSE_MS);
    }, 5);
    let timer: NodeJS.Timeout | undefined;
    // A task that cannot rebuild a partition retries for ever, stopping or not: the test is told, not held.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the tasks did not stop in 5 s (${this.state()})`)), 5_000);
    });
    try {
      const stops = (async () => {
        for (const { member, running } of this.members) if (running) await member.stop();
      })();
      await Promise.race([stops, timeout]);
      await this.memory.close();
    } finally {
      clearTimeout(timer);
      clearInterval(pauses);
      this.restoreFatal();
    }
    if (this.fatal.length) throw this.fatal[0]!;
  }

  private producer(): LogProducer {
    const real = this.memory.producer();
    return {
      ...real,
      send: async (topic: string, records: ProduceRecord[]) => {
        this.sending++;
        try {
          const held = this.holds.get(topic);
          if (held) {
            held.held++;
            await held.gate;
          }
          await real.send(topic, records);
        } finally {
          this.sending--;
        }
      },
    };
  }

  private consumer(options: ConsumerOptions): LogConsumer {
    const real = this.memory.consumer(options);
    const counter = this.pollCounter ?? { polls: 0 };
    const consumer: LogConsumer = {
      poll: (max, waitMs) => {
        counter.polls++;
        return real.poll(max, waitMs);
      },
      commit: (records) => real.commit(records),
      lag: () => real.lag(),
      committed: (tp: TopicPartition) => real.committed(tp),
      close: () => real.close(),
    };
    if (!this.groups.has(options.group)) this.groups.set(options.group, consumer);
    return consumer;
  }

  /** Wakes the pollers now rather than at the end of their poll's wait. */
  private nudge(): void {
    void this.memory.producer().send(TICK_TOPIC, [{ key: 'tick', value: Buffer.alloc(0) }]);
  }

  private state(): string {
    const members = this.members.map(
      ({ member, running }) => `${member.name}: ${member.polls()} polls${running ? '' : ', stopped'}`,
    );
    return `${members.join('; ')}; sends in flight: ${this.sending}; topics: ${this.topics.map((t) => `${t.name} ${this.ends(t.name).join('/')}`).join(', ')}`;
  }
}

/** A count for `counter`: `n` more for `key`. */
export interface Count {
  key: string;
  n: number;
}
export type CountInput = Count | { tick: true };
/** A key's running total: sent on each count (`tick` false) and again for every key at each punctuation. */
export interface Total {
  key: string;
  total: number;
  tick: boolean;
  /** The member that sent it (set by the test's route). */
  by?: string;
}

/**
 * The tests' tiny pure processor: a running total per key, that throws on a count of `poison` (a processor bug
 * one record triggers).
 */
export function counter(poison: number): PureProcessor<ReadonlyMap<string, number>, CountInput, Total> {
  return {
    name: 'counter',
    init: () => new Map(),
    step(state, input) {
      if ('tick' in input)
        return { state, outputs: [...state].map(([key, total]) => ({ key, total, tick: true })) };
      if (input.n === poison) throw new Error(`cannot count ${input.n}`);
      const total = (state.get(input.key) ?? 0) + input.n;
      return {
        state: new Map(state).set(input.key, total),
        outputs: [{ key: input.key, total, tick: false }],
      };
    },
  };
}
