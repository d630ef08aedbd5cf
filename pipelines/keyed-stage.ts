import type { ProduceRecord } from '../io/log/log.js';
import { partitionFor } from '../io/log/partitioner.js';

/**
 * A pure keyed processor, the way Kafka Streams has processors: a state, and a step from an input to the next
 * state and the outputs it causes. No I/O: the stage below and the task that feeds it do that.
 */
export interface PureProcessor<S, I, O> {
  readonly name: string;
  init(): S;
  step(state: S, input: I): { state: S; outputs: O[] };
}

/** How one pure processor runs on an input topic whose records decode to `D`. */
export interface KeyedStageOptions<S, I, O, D> {
  processor: PureProcessor<S, I, O>;
  /** The input topic's partition count (where a key injected by `inject` lives). */
  partitions: number;
  /** Turns a decoded input record into the processor's input. */
  toInput(value: D): I;
  /**
   * The same as the processor's step on toInput(value), for a processor that updates its state in place:
   * the value applied to the state, its outputs pushed to `outputs`. Spares the hot input (a reading, tens of
   * thousands a second) an input object, an outputs array and a step result each.
   */
  applyValue?(state: S, value: D, outputs: O[]): void;
  /** The punctuation input, and how often (by the task's clock) to send it. */
  punctuation: { input: I; everyMs: number };
  /** Turns outputs into records per log topic. */
  route(outputs: O[]): Map<string, ProduceRecord[]>;
  /** How far back (record time) a partition arriving here replays its input topic before its committed offset. */
  replayLookbackMs: number;
  /**
   * Inputs that rebuild a partition's state when it is assigned here (e.g. recent data from the warehouse), in
   * pieces applied in turn, so a restore holds one piece at a time.
   */
  restore?(partition: number): AsyncIterable<I[]>;
  /** Called after each applied batch, e.g. to export metrics. */
  observe?(states: ReadonlyMap<number, S>, records: number): void;
  /**
   * Inputs the processor asks the edges for (e.g. the stored readings of a slot it no longer holds): the
   * outputs `asks` picks out are not routed but given to `fetch`, whose inputs are applied to the same
   * partition. The task (pipelines/stage-task.ts) runs the fetch once the records applied so far are durable
   * in its sink, before it takes the batch's outputs.
   */
  load?: {
    asks(output: O): boolean;
    fetch(partition: number, asks: O[]): Promise<I[]>;
  };
}

/** A replayed input record: its decoded value and the log's timestamp of it. */
export interface Replayed<D> {
  value: D;
  timestamp: number;
}

/**
 * What a task (pipelines/stage-task.ts) sees of a stage: several stages can share one consumer of their input
 * topic, so each record is read and decoded once however many processors it feeds.
 */
export interface Stage<D> {
  readonly name: string;
  readonly replayLookbackMs: number;
  /**
   * A partition arrives: its state is rebuilt from the restore inputs, then from the replayed records (the
   * partition up to the group's committed offset, given to `replay` a batch at a time, so stages sharing the
   * task read it once) within this stage's lookback, then `assigned` ends the rebuild.
   */
  assign(partition: number): Promise<void>;
  /** A batch of the replay, in offset order; `last` is the timestamp of the replay's last record. */
  replay(partition: number, replayed: ReadonlyArray<Replayed<D>>, last: number): void;
  /** The rebuild is over; `replayed` tells whether the replay had any record. */
  assigned(partition: number, replayed: boolean): Promise<void>;
  revoke(partition: number): void;
  apply(partition: number, value: D): void;
  /** Sends the punctuation to every partition's state when it is due (or when `force`d, e.g. on stop). */
  punctuate(now: number, force: boolean): void;
  /** The outputs caused since the last call, routed to log topics. */
  takeOutputs(): Array<[string, ProduceRecord[]]>;
  /** Whether inputs asked for (KeyedStageOptions.load) wait to be fetched. */
  loading?(): boolean;
  /**
   * Fetches the inputs asked for and applies them (what they cause joins the outputs). The task calls it once
   * every record applied so far is durable in its sink; a failed fetch keeps its asks for the next call.
   */
  load?(): Promise<void>;
  afterBatch(records: number): void;
}

/** One state per input partition (so one DT's state lives in one place), records applied in offset order. */
export class KeyedStage<S, I, O, D> implements Stage<D> {
  readonly name: string;
  readonly replayLookbackMs: number;
  private readonly states = new Map<number, S>();
  private pending: O[] = [];
  /** Outputs already routed (routePending), by topic. */
  private routed = new Map<string, ProduceRecord[]>();
  /** Asks for inputs (KeyedStageOptions.load) not yet fetched, per partition. */
  private asks = new Map<number, O[]>();
  /**
   * When the punctuation was last sent, by the time the task gives punctuate(): the stage reads no clock of its
   * own, so a test's manual clock (pipelines/runtime/clock.ts) drives it. Unset until the task's first call.
   */
  private lastPunctuation: number | undefined;
  private skipped = 0;
  /** applyValue's outputs, emptied after each value. */
  private readonly valueOutputs: O[] = [];

  constructor(private readonly options: KeyedStageOptions<S, I, O, D>) {
    this.name = options.processor.name;
    this.replayLookbackMs = options.replayLookbackMs;
  }

  /** Feeds a side input (e.g. topology) to the state of the partition owning `key`, if it is here. */
  inject(key: string, input: I): void {
    this.step(partitionFor(key, this.options.partitions), input);
  }

  async assign(partition: number): Promise<void> {
    this.states.set(partition, this.options.processor.init());
    this.asks.delete(partition);
    // What the rebuild emits is kept, not dropped: the warehouse can hold readings past the committed offset
    // (they are inserted before the offsets are committed), and a slot they close here would otherwise never
    // be written. Re-emitting a slot already written is harmless (same version).
    for await (const piece of this.options.restore?.(partition) ?? []) {
      for (const input of piece) this.rebuild(partition, () => input);
      this.routePending();
    }
  }

  replay(partition: number, replayed: ReadonlyArray<Replayed<D>>, last: number): void {
    // The log stamps records with their append time, so the stage's lookback is a suffix of the replay.
    const from = last - this.replayLookbackMs;
    for (const r of replayed)
      if (r.timestamp >= from) this.rebuild(partition, () => this.options.toInput(r.value));
    this.routePending();
  }

  async assigned(_partition: number, replayed: boolean): Promise<void> {
    // What the rebuild asked for is stored already (restored from the warehouse, or before the committed offset).
    if (replayed) await this.load();
  }

  loading(): boolean {
    return this.asks.size > 0;
  }

  async load(): Promise<void> {
    const load = this.options.load;
    while (load && this.asks.size > 0) {
      const [partition, asks] = this.asks.entries().next().value!;
      this.asks.delete(partition);
      let inputs: I[] = [];
      try {
        if (this.states.has(partition)) inputs = await load.fetch(partition, asks);
      } catch (error) {
        // Kept, before any asked meanwhile, for the next call.
        if (this.states.has(partition))
          this.asks.set(partition, [...asks, ...(this.asks.get(partition) ?? [])]);
        throw error;
      }
      for (const input of inputs) this.rebuild(partition, () => input);
    }
  }

  /**
   * One step of a rebuild. An input the processor throws on is left out: it was dead-lettered when it was
   * first applied (the poison policy, pipelines/runtime/poison.ts), and a rebuild that threw would be retried
   * for ever (the same input throws again), leaving the partition unprocessed.
   */
  private rebuild(partition: number, input: () => I): void {
    try {
      this.step(partition, input());
    } catch (error) {
      if (this.skipped++ % 100 === 0)
        console.error(
          `${this.name}: an input of partition ${partition} left out of its rebuild (${this.skipped} so far): ${(error as Error).message}`,
        );
    }
  }

  revoke(partition: number): void {
    this.states.delete(partition);
    this.asks.delete(partition);
  }

  apply(partition: number, value: D): void {
    const applyValue = this.options.applyValue;
    if (applyValue === undefined) return this.step(partition, this.options.toInput(value));
    const state = this.states.get(partition);
    if (state === undefined) return;
    const outputs = this.valueOutputs;
    try {
      applyValue(state, value, outputs);
      if (outputs.length !== 0) this.keep(partition, outputs);
    } finally {
      // A value the processor throws on leaves no outputs, as a step that throws returns none.
      outputs.length = 0;
    }
  }

  punctuate(now: number, force: boolean): void {
    this.lastPunctuation ??= now;
    if (!force && now - this.lastPunctuation < this.options.punctuation.everyMs) return;
    this.lastPunctuation = now;
    // A partition whose processor throws on the punctuation keeps its state; the others are punctuated all
    // the same, and the first error is thrown after them for the task to report.
    let failed: unknown;
    for (const partition of this.states.keys())
      try {
        this.step(partition, this.options.punctuation.input);
      } catch (error) {
        failed ??= error;
      }
    if (failed !== undefined) throw failed;
  }

  takeOutputs(): Array<[string, ProduceRecord[]]> {
    this.routePending();
    if (this.routed.size === 0) return [];
    const routed = [...this.routed];
    this.routed = new Map();
    return routed;
  }

  /**
   * Routes the outputs pending now into records per topic, kept in order for takeOutputs(). A rebuild does it
   * after each piece: what it emits is then held as the records it becomes, and outputs that become none
   * (counted only, such as a replayed reading the impedance stage finds too late) are not held at all.
   */
  private routePending(): void {
    if (this.pending.length === 0) return;
    const outputs = this.pending;
    this.pending = [];
    for (const [topic, records] of this.options.route(outputs)) {
      if (records.length === 0) continue;
      const held = this.routed.get(topic);
      if (held) for (const record of records) held.push(record);
      else this.routed.set(topic, records);
    }
  }

  afterBatch(records: number): void {
    this.options.observe?.(this.states, records);
  }

  private step(partition: number, input: I): void {
    const state = this.states.get(partition);
    if (state === undefined) return;
    const step = this.options.processor.step(state, input);
    this.states.set(partition, step.state);
    if (step.outputs.length !== 0) this.keep(partition, step.outputs);
  }

  /** Outputs of a partition's state: asks for inputs set aside to be fetched, the rest routed. */
  private keep(partition: number, outputs: ReadonlyArray<O>): void {
    const load = this.options.load;
    for (const output of outputs)
      if (load?.asks(output)) {
        const asks = this.asks.get(partition);
        if (asks) asks.push(output);
        else this.asks.set(partition, [output]);
      } else this.pending.push(output);
  }
}
