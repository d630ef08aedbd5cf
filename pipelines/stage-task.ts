import { type Log, type LogRecord, type ProduceRecord, type TopicPartition } from '../io/log/log.js';
import type { Metrics } from '../core/metrics.js';
import type { Replayed, Stage } from './keyed-stage.js';
import { systemClock, type Clock } from './runtime/clock.js';
import { OrderedCommits } from './runtime/commits.js';
import { supervise } from './runtime/fatal.js';
import { messageOf } from '../core/errors.js';
import { PoisonRecords } from './runtime/poison.js';
import { reportsFailure } from '../core/backoff.js';
import { retry } from './runtime/retry.js';

/**
 * Where a task's input records themselves go besides its stages (e.g. the raw readings into the warehouse).
 * The sink is given each record as soon as it is decoded and applied to the stages, and makes what it keeps of
 * it (e.g. the encoded rows) then: nothing decoded outlives its record (a batch's decoded values held until
 * the batch's end outlive the young generation's collections and are promoted, which is most of what the
 * garbage collector then pays for). `submit` hands over a batch's records and `written` resolves once
 * everything submitted so far is durable.
 */
export interface RecordSink<D> {
  /** Waited for before each batch is decoded (e.g. to learn a table's column types): `add` is synchronous. */
  prepare?(): Promise<void>;
  /**
   * Takes one record's values (undefined: it did not decode, for the sink to decide), in offset order. Throws
   * only for a record it cannot take, and then keeps nothing of it: the record alone is dead-lettered.
   */
  add(record: LogRecord, values: ReadonlyArray<D> | undefined): void;
  /**
   * Hands over what was added since the last call, waiting while the sink is full (a service that is away is
   * waited for here or in `written`). A rejection means the sink cannot go on, and so the task.
   */
  submit(): Promise<void>;
  written(): Promise<void>;
  /** Like `written`, but now: a batch still filling is cut (before a stage loads what the sink wrote). */
  flush?(): Promise<void>;
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
  /** Counts the records dead-lettered as poison (gridstream_dead_letters_total{reason="processing_error"}). */
  metrics?: Pick<Metrics, 'deadLetters'>;
  /** The time punctuation goes by and retries pause on (default the system clock; tests drive a manual one). */
  clock?: Clock;
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
 * and dropped when it leaves. Two kinds of failure are kept apart: the log's (poll, commit, send) are retried
 * by the one retry policy (pipelines/runtime/retry.ts), state and offsets kept meanwhile; a record that makes
 * decode, a stage or the sink throw is poison (pipelines/runtime/poison.ts): dead-lettered, and the task goes
 * on with the next record.
 */
export function startStageTask<D>(options: StageTaskOptions<D>): StageTask {
  const { log, stages, sink, group } = options;
  const clock = options.clock ?? systemClock;
  const replayLookbackMs = Math.max(...stages.map((s) => s.replayLookbackMs));
  const owned = new Set<number>();
  let stopping = false;
  /** Failures of the log or a service (poll, commit, send) are retried; given up on only once stopping. */
  const service = { stopping: () => stopping, clock };

  const consumer = log.consumer({
    group,
    topics: [options.inputTopic],
    fromBeginning: true,
    lingerMs: options.lingerMs,
    onAssigned: async (tps: TopicPartition[]) => {
      // Every partition's committed offset first, where the consumer starts reading it: a rebuild takes its
      // time (the restore's pieces, the replay's batches), and a member that had the partition may commit on
      // meanwhile; replaying up to that later offset would apply the records between twice.
      const offsets = await Promise.all(tps.map((tp) => consumer.committed(tp).catch(() => undefined)));
      for (const [k, tp] of tps.entries()) {
        // A warehouse or broker that is away during a rebalance is waited for (never given up on): a
        // partition is only processed once its state is whole.
        await retry(
          `${group}: restoring ${tp.topic}[${tp.partition}]`,
          async () => {
            const committed = offsets[k] ?? (await consumer.committed(tp));
            // Every stage restores, then the replay is read once, a batch at a time, and each batch applied to
            // every stage: a stage's state depends only on its own inputs, in the order each gets them, which is
            // an assign from the restore and then the replay as before, without the replay held whole. A failure
            // anywhere starts the partition's rebuild again (assign starts each state anew).
            for (const stage of stages) await stage.assign(tp.partition);
            let replayed = false;
            for await (const batch of log.replay(tp.topic, tp.partition, committed, replayLookbackMs)) {
              replayed = true;
              const out: Array<Replayed<D>> = [];
              for (const record of batch.records) {
                let values: ReadonlyArray<D> | undefined;
                try {
                  values = options.decode(record);
                } catch {
                  // Dead-lettered when it was first read (it is before the committed offset): left out again.
                  continue;
                }
                for (const value of values ?? []) out.push({ value, timestamp: record.timestamp });
              }
              for (const stage of stages) stage.replay(tp.partition, out, batch.lastTimestamp);
            }
            for (const stage of stages) await stage.assigned(tp.partition, replayed);
          },
          { clock },
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
  const poison = new PoisonRecords({ producer, stopping: () => stopping, metrics: options.metrics, clock });
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
      for (const again of failed)
        if (again)
          await retry(`${group}: sending to ${again[0]}`, () => producer.send(again[0], again[1]), service);
    })();
    // Awaited by the commit of its batch, later than now: a rejection (only once stopping) is not unhandled.
    sent.catch(() => undefined);
    return sent;
  };

  const commits = new OrderedCommits(consumer, group, service);

  /** Failures of a stage's punctuate or afterBatch: not a record's, so reported (now and then), not dead-lettered. */
  let stageFailures = 0;
  const reportStageFailure = (what: string, error: unknown) => {
    if (reportsFailure(++stageFailures))
      console.error(`${group}: ${what}: ${messageOf(error)} (${stageFailures} such failures)`);
  };

  /**
   * Decodes a batch's records one at a time, applies each to every stage and gives it to the sink before the
   * next is decoded, dead-lettering the records that make decode, a stage or the sink throw (once, with every
   * reason). A stage that throws on a record keeps its state from before it (KeyedStage replaces a state only
   * when the processor's step returns), while the stages that applied the record keep it applied.
   */
  const applyBatch = (records: LogRecord[], dead: Array<Promise<void>>) => {
    for (const record of records) {
      let decoded: ReadonlyArray<D> | undefined;
      let reasons: string[] | undefined;
      try {
        decoded = options.decode(record);
      } catch (error) {
        reasons = [`${group}: ${messageOf(error)}`];
      }
      if (decoded !== undefined)
        for (const value of decoded)
          for (const stage of stages)
            try {
              stage.apply(record.partition, value);
            } catch (error) {
              const reason = `${stage.name}: ${messageOf(error)}`;
              if (!reasons?.includes(reason)) (reasons ??= []).push(reason);
            }
      if (sink)
        try {
          sink.add(record, decoded);
        } catch (error) {
          (reasons ??= []).push(`${group} sink: ${messageOf(error)}`);
        }
      if (reasons) dead.push(poison.deadLetter(record, reasons.join('; ')));
    }
  };

  const loop = async () => {
    for (;;) {
      // A batch whose outputs, dead letters or commit failed: later batches must not be committed past it.
      if (commits.failure) throw commits.failure;
      const records = await retry(
        `${group}: polling ${options.inputTopic}`,
        () => consumer.poll(options.maxBatch ?? 5_000, 100),
        service,
      );
      const dead: Array<Promise<void>> = [];
      if (sink?.prepare && records.length) await sink.prepare();
      applyBatch(records, dead);
      // A stage asks for stored inputs (e.g. the readings of a slot it no longer holds, to revise it): they are
      // read once every record applied so far is durable in the sink, and applied before the outputs are taken.
      const loading = stages.filter((stage) => stage.loading?.());
      if (loading.length) {
        if (sink) await sink.submit();
        if (sink)
          await retry(`${group}: writing before a load`, () => sink.flush?.() ?? sink.written(), service);
        for (const stage of loading)
          await retry(`${group}: loading for ${stage.name}`, () => stage.load!(), service);
      }
      const now = clock.now();
      for (const stage of stages)
        try {
          stage.punctuate(now, stopping);
        } catch (error) {
          reportStageFailure(`${stage.name} punctuation`, error);
        }
      const outputs = sendOutputs();
      if (records.length) {
        if (sink && !loading.length) await sink.submit();
        // The commit waits for the dead letters too: a record is committed once processed or dead-lettered.
        commits.after(records, [outputs, ...dead, sink?.written() ?? Promise.resolve()]);
      }
      for (const stage of stages)
        try {
          stage.afterBatch(records.length);
        } catch (error) {
          reportStageFailure(`${stage.name} after a batch`, error);
        }
      await commits.atMost(options.maxInFlight ?? 8);
      if (stopping && records.length === 0) break;
    }
    await sent;
    await commits.drain();
  };
  // Only a stop gives up on the log or a service: a failure before it means the task cannot go on.
  const running = supervise(`${group} (stage task)`, loop(), () => stopping);

  return {
    lag: async () => (await consumer.lag()) + commits.uncommitted,
    async stop() {
      stopping = true;
      const failure = (await running) ?? commits.failure;
      await sink?.close();
      await consumer.close();
      await producer.close();
      if (failure) throw failure;
    },
  };
}
