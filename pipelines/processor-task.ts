import type { Log, LogRecord, ProduceRecord, TopicPartition } from '../io/log/log.js';
import { partitionFor } from '../io/log/partitioner.js';

/**
 * Runs a pure keyed processor on the log, the way Kafka Streams runs a processor topology: one state per
 * input partition (so one DT's state lives in one place), records applied in offset order, a periodic
 * punctuation, and offsets committed only after the outputs they caused have been accepted by the log.
 * Partitions move between members of the consumer group; a partition's state is rebuilt by `restore` when
 * it arrives and dropped when it leaves.
 */
export interface PureProcessor<S, I, O> {
  readonly name: string;
  init(): S;
  step(state: S, input: I): { state: S; outputs: O[] };
}

export interface ProcessorTaskOptions<S, I, O> {
  log: Log;
  group: string;
  inputTopic: string;
  partitions: number;
  processor: PureProcessor<S, I, O>;
  /** Turns a log record into the processor's input. */
  toInput(record: LogRecord): I;
  /** The punctuation input, and how often (wall clock) to send it. */
  punctuation: { input: I; everyMs: number };
  /** Turns outputs into records per log topic. */
  route(outputs: O[]): Map<string, ProduceRecord[]>;
  /** How far back (record time) a partition arriving here replays its input topic before its committed offset. */
  replayLookbackMs: number;
  /** Inputs that rebuild a partition's state when it is assigned here (e.g. recent data from the warehouse). */
  restore?(partition: number): Promise<I[]>;
  /** Called when the partitions owned here change (count), e.g. to export a metric. */
  onAssignment?(partitions: number): void;
  /** Called after each applied batch, e.g. to export metrics. */
  observe?(states: ReadonlyMap<number, S>, records: number): void;
  maxBatch?: number;
}

export interface ProcessorTask<I> {
  /** Feeds a side input (e.g. topology) to the state of the partition owning `key`, if it is here. */
  inject(key: string, input: I): void;
  /** Records read but whose outputs are not yet on the log, plus records not yet read. */
  lag(): Promise<number>;
  /** Drains what is on the log, punctuates a last time, produces the last outputs and commits them. */
  stop(): Promise<void>;
}

export function startProcessorTask<S, I, O>(options: ProcessorTaskOptions<S, I, O>): ProcessorTask<I> {
  const { log, processor } = options;
  const states = new Map<number, S>();
  let pending: O[] = [];
  let stopping = false;
  let failure: Error | null = null;

  const apply = (partition: number, input: I) => {
    const state = states.get(partition);
    if (state === undefined) return;
    const step = processor.step(state, input);
    states.set(partition, step.state);
    if (step.outputs.length) pending.push(...step.outputs);
  };

  const consumer = log.consumer({
    group: options.group,
    topics: [options.inputTopic],
    fromBeginning: true,
    lingerMs: 20,
    onAssigned: async (tps: TopicPartition[]) => {
      for (const tp of tps) {
        states.set(tp.partition, processor.init());
        // State is rebuilt from the restore inputs (e.g. the warehouse's recent data) and a replay of the
        // partition up to the group's committed offset. What that emits is kept, not dropped: the warehouse
        // can hold readings past the committed offset (its sink runs on its own), and a slot they close here
        // would otherwise never be written. Re-emitting a slot already written is harmless (same version).
        // A warehouse or broker that is away during a rebalance is waited for: a partition is only processed
        // once its state is whole.
        const inputs = await untilDone(`restore ${tp.topic}[${tp.partition}]`, async () => {
          const committed = await consumer.committed(tp);
          const replayed = await log.replay(tp.topic, tp.partition, committed, options.replayLookbackMs);
          return [...((await options.restore?.(tp.partition)) ?? []), ...replayed.map(options.toInput)];
        });
        for (const input of inputs) apply(tp.partition, input);
      }
      options.onAssignment?.(states.size);
    },
    onRevoked: async (tps: TopicPartition[]) => {
      for (const { partition } of tps) states.delete(partition);
      options.onAssignment?.(states.size);
    },
  });

  const producer = log.producer();
  // Outputs are routed once, then sent until the log takes them; input offsets are committed only after.
  const unsent: Array<[string, ProduceRecord[]]> = [];
  let uncommitted: LogRecord[] = [];
  const flushOutputs = async () => {
    if (pending.length) {
      unsent.push(...options.route(pending));
      pending = [];
    }
    while (unsent.length) {
      const [topic, records] = unsent[0]!;
      await producer.send(topic, records);
      unsent.shift();
    }
  };

  const loop = async () => {
    let lastPunctuation = Date.now();
    let failures = 0;
    for (;;) {
      let polled = 0;
      try {
        const records = await consumer.poll(options.maxBatch ?? 5_000, 100);
        polled = records.length;
        for (const record of records) apply(record.partition, options.toInput(record));
        uncommitted = uncommitted.concat(records);
        const now = Date.now();
        if (stopping || now - lastPunctuation >= options.punctuation.everyMs) {
          for (const partition of states.keys()) apply(partition, options.punctuation.input);
          lastPunctuation = now;
        }
        await flushOutputs();
        if (uncommitted.length) {
          await consumer.commit(uncommitted);
          uncommitted = [];
        }
        options.observe?.(states, records.length);
        failures = 0;
      } catch (error) {
        // A log or broker that is away is waited for: state, unsent outputs and uncommitted offsets are kept.
        failures++;
        if (failures === 1 || failures % 30 === 0)
          console.error(`processor ${processor.name}: ${(error as Error).message} (retrying, ${failures})`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 200 * failures)));
        if (stopping && failures > 50) throw error;
        continue;
      }
      if (stopping && polled === 0 && unsent.length === 0) break;
    }
  };
  const running = loop().catch((error: Error) => {
    failure = error;
    console.error(`processor ${processor.name} stopped: ${error.stack ?? error.message}`);
  });

  return {
    inject(key, input) {
      apply(partitionFor(key, options.partitions), input);
    },
    lag: async () => (await consumer.lag()) + pending.length,
    async stop() {
      stopping = true;
      await running;
      await consumer.close();
      await producer.close();
      if (failure) throw failure;
    },
  };
}

/** Runs `attempt` until it succeeds, with a growing pause (capped at 5 s), reporting failures now and then. */
async function untilDone<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await attempt();
    } catch (error) {
      if (failures === 1 || failures % 30 === 0)
        console.error(`${what}: ${(error as Error).message} (retrying, ${failures})`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 200 * failures)));
    }
  }
}
