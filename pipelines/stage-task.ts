import {
  highestOffsets,
  type Log,
  type LogRecord,
  type ProduceRecord,
  type TopicPartition,
} from '../io/log/log.js';
import type { Replayed, Stage } from './keyed-stage.js';

/**
 * Where a task's input records themselves go besides its stages (e.g. the raw readings into the warehouse):
 * `add` takes a polled batch (and waits while the sink is full), `written` resolves once everything added
 * so far is durable.
 */
export interface RecordSink<D> {
  add(records: LogRecord[], values: ReadonlyArray<ReadonlyArray<D> | undefined>): Promise<void>;
  written(): Promise<void>;
  close(): Promise<void>;
}

export interface StageTaskOptions<D> {
  log: Log;
  group: string;
  inputTopic: string;
  /**
   * A record's values for the stages, in order (one record can carry several, e.g. an upload's readings);
   * undefined leaves it to the sink alone (e.g. undecodable, dead-lettered).
   */
  decode(record: LogRecord): ReadonlyArray<D> | undefined;
  stages: ReadonlyArray<Stage<D>>;
  sink?: RecordSink<D>;
  /** Called when the partitions owned here change (count), e.g. to export a metric. */
  onAssignment?(partitions: number): void;
  maxBatch?: number;
  /**
   * Polls wait up to this long for a fuller batch (the log's ConsumerOptions.lingerMs): for a busy input such
   * as the readings. Default none: a sparse input (envelopes, a burst at each slot close) is read as it comes,
   * and a waiting poll costs the broker nothing until then.
   */
  lingerMs?: number;
  /** Polled batches whose commit may be outstanding before polling waits (default 8). */
  maxInFlight?: number;
}

export interface StageTask {
  /** Records not yet read, plus records read whose offsets are not committed yet. */
  lag(): Promise<number>;
  /** Drains what is on the log, punctuates a last time, sends and writes the last outputs and commits them. */
  stop(): Promise<void>;
}

/**
 * Runs stages on one consumer of their input topic, the way Kafka Streams runs a processor topology: each
 * record is read and decoded once, then applied to every stage (and given to the sink) in offset order.
 * A batch's offsets are committed only after the outputs it caused are accepted by the log and its records
 * are durable in the sink, in poll order; polling goes on meanwhile, with at most `maxInFlight` batches
 * waiting. Partitions move between members of the consumer group; a partition's state in every stage is
 * rebuilt when it arrives (restore inputs, then one replay of the partition up to the committed offset)
 * and dropped when it leaves.
 */
export function startStageTask<D>(options: StageTaskOptions<D>): StageTask {
  const { log, stages, sink } = options;
  const replayLookbackMs = Math.max(...stages.map((s) => s.replayLookbackMs));
  const owned = new Set<number>();
  let stopping = false;
  let failure: Error | null = null;

  const consumer = log.consumer({
    group: options.group,
    topics: [options.inputTopic],
    fromBeginning: true,
    lingerMs: options.lingerMs,
    onAssigned: async (tps: TopicPartition[]) => {
      for (const tp of tps) {
        // A warehouse or broker that is away during a rebalance is waited for: a partition is only processed
        // once its state is whole.
        const replayed = await untilDone(`replay ${tp.topic}[${tp.partition}]`, async () => {
          const committed = await consumer.committed(tp);
          const records = await log.replay(tp.topic, tp.partition, committed, replayLookbackMs);
          const out: Array<Replayed<D>> = [];
          for (const record of records)
            for (const value of options.decode(record) ?? [])
              out.push({ value, timestamp: record.timestamp });
          return out;
        });
        for (const stage of stages)
          await untilDone(`restore ${stage.name} ${tp.topic}[${tp.partition}]`, () =>
            stage.assign(tp.partition, replayed),
          );
      }
      for (const tp of tps) owned.add(tp.partition);
      options.onAssignment?.(owned.size);
    },
    onRevoked: async (tps: TopicPartition[]) => {
      for (const { partition } of tps) for (const stage of stages) stage.revoke(partition);
      for (const { partition } of tps) owned.delete(partition);
      options.onAssignment?.(owned.size);
    },
  });

  const producer = log.producer();
  /** Settles once every output taken so far is on the log (failed sends are retried until it takes them). */
  let sent: Promise<void> = Promise.resolve();
  const sendOutputs = (): Promise<void> => {
    const batches: Array<[string, ProduceRecord[]]> = [];
    for (const stage of stages) for (const batch of stage.takeOutputs()) batches.push(batch);
    if (batches.length === 0) return sent;
    // Handed to the producer now (it keeps their order); only a failed one waits for the ones before it.
    const attempts = batches.map(([topic, records]) =>
      producer.send(topic, records).then(
        () => null,
        () => [topic, records] as const,
      ),
    );
    const previous = sent;
    sent = (async () => {
      const failed = await Promise.all(attempts);
      await previous;
      for (const retry of failed)
        if (retry) await untilDone(`send to ${retry[0]}`, () => producer.send(retry[0], retry[1]));
    })();
    return sent;
  };

  const inFlight: Array<Promise<void>> = [];
  let uncommitted = 0;
  const commitAfter = (records: LogRecord[], outputs: Promise<void>, written: Promise<void>) => {
    const count = records.length;
    uncommitted += count;
    // Only the last record of each partition is kept for the commit: a batch held until its commit would
    // otherwise keep every record's value buffer alive past the young generation, and those buffers are
    // freed only by a full collection (hundreds of MB of resident memory waiting for one).
    const last = [...highestOffsets(records).values()];
    const previous = inFlight.at(-1) ?? Promise.resolve();
    const committed = Promise.all([outputs, written, previous]).then(async () => {
      await consumer.commit(last);
      uncommitted -= count;
    });
    inFlight.push(committed);
    // A failure here (a sink that gave up on close) leaves the offsets uncommitted: the records are read again.
    void committed
      .catch((error: Error) => {
        failure ??= error;
      })
      .finally(() => inFlight.splice(inFlight.indexOf(committed), 1));
  };

  const loop = async () => {
    let failures = 0;
    for (;;) {
      let polled = 0;
      try {
        const records = await consumer.poll(options.maxBatch ?? 5_000, 100);
        polled = records.length;
        const values = new Array<ReadonlyArray<D> | undefined>(records.length);
        for (let k = 0; k < records.length; k++) {
          const record = records[k]!;
          const decoded = options.decode(record);
          values[k] = decoded;
          if (decoded !== undefined)
            for (const value of decoded) for (const stage of stages) stage.apply(record.partition, value);
        }
        const now = Date.now();
        for (const stage of stages) stage.punctuate(now, stopping);
        const outputs = sendOutputs();
        if (records.length) {
          await sink?.add(records, values);
          commitAfter(records, outputs, sink?.written() ?? Promise.resolve());
        }
        for (const stage of stages) stage.afterBatch(records.length);
        if (inFlight.length >= (options.maxInFlight ?? 8)) await inFlight[0];
        failures = 0;
      } catch (error) {
        // A log that is away is waited for: state, unsent outputs and uncommitted offsets are kept.
        failures++;
        if (failures === 1 || failures % 30 === 0)
          console.error(`${options.group}: ${(error as Error).message} (retrying, ${failures})`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 200 * failures)));
        if (stopping && failures > 50) throw error;
        continue;
      }
      if (stopping && polled === 0) break;
    }
    await sent;
    await Promise.all(inFlight);
  };
  const running = loop().catch((error: Error) => {
    failure = error;
    console.error(`${options.group} stopped: ${error.stack ?? error.message}`);
  });

  return {
    lag: async () => (await consumer.lag()) + uncommitted,
    async stop() {
      stopping = true;
      await running;
      await sink?.close();
      await consumer.close();
      await producer.close();
      if (failure) throw failure;
    },
  };
}

/** Runs `attempt` until it succeeds, with a growing pause (capped at 5 s), reporting failures now and then. */
export async function untilDone<T>(what: string, attempt: () => Promise<T>): Promise<T> {
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
