import type { Metrics } from '../core/metrics.js';
import type { Log, LogRecord, ProduceRecord } from '../io/log/log.js';
import { KeyedStage, type PureProcessor } from './keyed-stage.js';
import type { Clock } from './runtime/clock.js';
import { startStageTask } from './stage-task.js';

export type { PureProcessor } from './keyed-stage.js';

/**
 * Runs one pure keyed processor on its own consumer group of an input topic: a KeyedStage (one state per
 * input partition, a periodic punctuation, rebuilt on assignment) on a stage task (offsets committed only
 * after the outputs they caused have been accepted by the log). Stages that share an input topic are better
 * run on one stage task (pipelines/readings-task.ts), so each record is read and decoded once.
 */
export interface ProcessorTaskOptions<S, I, O> {
  log: Log;
  group: string;
  inputTopic: string;
  partitions: number;
  processor: PureProcessor<S, I, O>;
  /** Counts the records dead-lettered because the processor could not take them. */
  metrics?: Pick<Metrics, 'deadLetters'>;
  /** Turns a log record into the processor's input. */
  toInput(record: LogRecord): I;
  /** The punctuation input, and how often (by `clock`) to send it. */
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
  /** The time punctuation goes by (default the system clock). */
  clock?: Clock;
}

export interface ProcessorTask<I> {
  /** Feeds a side input (e.g. topology) to the state of the partition owning `key`, if it is here. */
  inject(key: string, input: I): void;
  /** Records read whose outputs are not yet on the log, plus records not yet read. */
  lag(): Promise<number>;
  /** Drains what is on the log, punctuates a last time, produces the last outputs and commits them. */
  stop(): Promise<void>;
}

export function startProcessorTask<S, I, O>(options: ProcessorTaskOptions<S, I, O>): ProcessorTask<I> {
  const { restore } = options;
  const stage = new KeyedStage<S, I, O, LogRecord>({
    ...options,
    restore:
      restore &&
      async function* (partition) {
        yield await restore(partition);
      },
  });
  const task = startStageTask<LogRecord>({
    log: options.log,
    group: options.group,
    inputTopic: options.inputTopic,
    decode: (record) => [record],
    stages: [stage],
    onAssignment: options.onAssignment,
    maxBatch: options.maxBatch,
    metrics: options.metrics,
    clock: options.clock,
  });
  return {
    inject: (key, input) => stage.inject(key, input),
    lag: () => task.lag(),
    stop: () => task.stop(),
  };
}
