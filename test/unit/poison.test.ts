import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decode, encode } from '../../core/codec.js';
import type { Metrics } from '../../core/metrics.js';
import type { ConsumerOptions, Log, LogConsumer, LogRecord, ProduceRecord } from '../../io/log/log.js';
import { MemoryLog } from '../../io/log/memory-log.js';
import { KeyedStage } from '../../pipelines/keyed-stage.js';
import { onCannotGoOn } from '../../pipelines/runtime/fatal.js';
import { startStageTask } from '../../pipelines/stage-task.js';
import { publishTopology, TopologyTable } from '../../pipelines/topology-table.js';
import { TOPICS } from '../../pipelines/log-topics.js';
import { WeatherTable } from '../../pipelines/weather-table.js';
import type { DeadLetter, WeatherObservation } from '../../schemas/types.gen.js';
import { counter, type Count, type CountInput, type Total } from '../support/driver.js';
import { oneDt } from '../support/topology.js';

const IN = 'test.in';
const OUT = 'test.out';
const PARTITIONS = 3;
/** The reading the stage under test throws on. */
const POISON = 13;

const readings = (withPoison: boolean): Count[] => {
  const out: Count[] = [];
  for (let k = 0; k < 300; k++) {
    const n = k % 40 === POISON ? POISON + 1 : k % 40;
    out.push({ key: `m-${k % 7}`, n });
    if (withPoison && k === 150) out.push({ key: 'm-3', n: POISON });
  }
  return out;
};

/**
 * A group that holds a topic's records for readTopic(): the in-process log drops records no group is
 * subscribed to, and those every subscribed group has committed.
 */
function hold(log: MemoryLog, topic: string): string {
  const group = `holder-${topic}-${Math.random()}`;
  log.consumer({ group, topics: [topic], fromBeginning: true });
  return group;
}

/** Polls a topic (in a group of its own) until `count` records have come, or 5 s have passed. */
async function readTopic(log: MemoryLog, topic: string, count: number): Promise<LogRecord[]> {
  const consumer = log.consumer({ group: `reader-${Math.random()}`, topics: [topic], fromBeginning: true });
  const out: LogRecord[] = [];
  const deadline = Date.now() + 5_000;
  while (out.length < count && Date.now() < deadline) out.push(...(await consumer.poll(1000, 50)));
  // A little longer, to see that nothing more comes.
  out.push(...(await consumer.poll(1000, 50)));
  await consumer.close();
  return out;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function within<T>(promise: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const deadLetterCounter = () => {
  const counted: string[] = [];
  const metrics = {
    deadLetters: { inc: (labels: { reason: string }) => counted.push(labels.reason) },
  } as unknown as Pick<Metrics, 'deadLetters'>;
  return { counted, metrics };
};

describe('the poison-record policy (pipelines/runtime/poison.ts)', () => {
  const unhandled: unknown[] = [];
  const fatal: Error[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  let restoreFatal: () => void = () => undefined;
  beforeEach(() => {
    unhandled.length = 0;
    fatal.length = 0;
    process.on('unhandledRejection', onUnhandled);
    restoreFatal = onCannotGoOn((_, error) => fatal.push(error));
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    restoreFatal();
    expect(unhandled).toEqual([]);
    expect(fatal).toEqual([]);
  });

  /** Runs the counter stage over the counts; what it sent, what was dead-lettered, the group's offsets. */
  async function run(withPoison: boolean) {
    const log = new MemoryLog();
    await log.ensureTopics([
      { name: IN, partitions: PARTITIONS },
      { name: OUT, partitions: PARTITIONS },
      { name: TOPICS.deadLetters.name, partitions: 2 },
    ]);
    for (const topic of [IN, OUT, TOPICS.deadLetters.name]) hold(log, topic);
    const producer = log.producer();
    for (const reading of readings(withPoison))
      await producer.send(IN, [{ key: reading.key, value: Buffer.from(JSON.stringify(reading)) }]);
    const stage = new KeyedStage<ReadonlyMap<string, number>, CountInput, Total, Count>({
      processor: counter(POISON),
      partitions: PARTITIONS,
      toInput: (r) => r,
      punctuation: { input: { tick: true }, everyMs: 60_000 },
      route: (outputs) =>
        new Map([[OUT, outputs.map((t) => ({ key: t.key, value: Buffer.from(JSON.stringify(t)) }))]]),
      replayLookbackMs: 0,
    });
    const { counted, metrics } = deadLetterCounter();
    const task = startStageTask<Count>({
      log,
      group: 'totals-task',
      inputTopic: IN,
      decode: (record) => [JSON.parse(record.value.toString()) as Count],
      stages: [stage],
      metrics,
      maxBatch: 25,
    });
    await until(async () => (await task.lag()) === 0, 'the task to catch up');
    await task.stop();
    // The totals sent on each count (the last punctuation's are not this test's subject).
    const sent = (await readTopic(log, OUT, readings(false).length))
      .map((r) => JSON.parse(r.value.toString()) as Total)
      .filter((t) => !t.tick);
    const dead = await readTopic(log, TOPICS.deadLetters.name, withPoison ? 1 : 0);
    const group = log.consumer({ group: 'totals-task', topics: [IN] });
    const committed: number[] = [];
    const ends: number[] = [];
    for (let partition = 0; partition < PARTITIONS; partition++) {
      committed.push(await group.committed({ topic: IN, partition }));
      ends.push(log.endOffset(IN, partition));
    }
    await group.close();
    const input = [];
    for (let partition = 0; partition < PARTITIONS; partition++)
      input.push(...log.read(IN, partition, 0, 10_000));
    return { sent, dead, committed, ends, counted, input };
  }

  it('dead-letters the record a stage throws on, processes every other exactly, and commits to the end', async () => {
    const clean = await run(false);
    const poisoned = await run(true);

    // Every other record is processed exactly as in a run without the poison record.
    const byMeter = (totals: Total[]) =>
      Object.fromEntries(
        [...new Set(totals.map((t) => t.key))].sort().map((m) => [m, totals.filter((t) => t.key === m)]),
      );
    expect(clean.sent).toHaveLength(300);
    expect(byMeter(poisoned.sent)).toEqual(byMeter(clean.sent));

    // The poison record is on the dead-letter topic, with where it was and its bytes.
    expect(clean.dead).toHaveLength(0);
    expect(poisoned.dead).toHaveLength(1);
    const source = poisoned.input.find((r) => (JSON.parse(r.value.toString()) as Count).n === POISON)!;
    const letter: DeadLetter = decode('DeadLetter', poisoned.dead[0]!.value);
    expect(letter).toMatchObject({
      reason_code: 'processing_error',
      source_topic: IN,
      key: 'm-3',
      source_partition: source.partition,
      source_offset: source.offset,
      received_at: source.timestamp,
    });
    expect(letter.reason).toBe(`counter: cannot count ${POISON}`);
    expect(letter.raw.equals(source.value)).toBe(true);
    expect(poisoned.counted).toEqual(['processing_error']);

    // The consumer group's offsets reach the end of every partition (past the poison record too).
    expect(poisoned.committed).toEqual(poisoned.ends);
    expect(poisoned.ends.reduce((a, b) => a + b, 0)).toBe(301);
  });

  it('dead-letters a record that does not decode, and one the sink cannot take', async () => {
    const log = new MemoryLog();
    await log.ensureTopics([
      { name: IN, partitions: 1 },
      { name: TOPICS.deadLetters.name, partitions: 1 },
    ]);
    for (const topic of [IN, TOPICS.deadLetters.name]) hold(log, topic);
    const values = ['{"key":"m-1","n":1}', 'not json', '{"key":"m-1","n":2}', '{"key":"sink-bad","n":3}'];
    await log.producer().send(
      IN,
      values.map((v) => ({ key: 'k', value: Buffer.from(v) })),
    );
    const added: string[] = [];
    const task = startStageTask<Count>({
      log,
      group: 'decode-task',
      inputTopic: IN,
      decode: (record) => [JSON.parse(record.value.toString()) as Count],
      stages: [],
      sink: {
        add(record, decoded) {
          if (decoded?.[0]?.key === 'sink-bad') throw new Error('no room for sink-bad');
          added.push(record.value.toString());
        },
        submit: async () => undefined,
        written: async () => undefined,
        close: async () => undefined,
      },
    });
    await until(async () => (await task.lag()) === 0, 'the task to catch up');
    await task.stop();
    const dead = (await readTopic(log, TOPICS.deadLetters.name, 2)).map((r) => decode('DeadLetter', r.value));
    expect(dead.map((d) => [d.source_offset, d.reason.split(':')[0]])).toEqual([
      [1, 'decode-task'],
      [3, 'decode-task sink'],
    ]);
    // The sink got the records it could take (the undecodable one as undefined, for it to decide).
    expect(added).toEqual(values.slice(0, 3));
    const group = log.consumer({ group: 'decode-task', topics: [IN] });
    expect(await group.committed({ topic: IN, partition: 0 })).toBe(4);
    await group.close();
  });

  it('commits past a poison record only once the log has taken its dead letter', async () => {
    const memory = new MemoryLog();
    await memory.ensureTopics([
      { name: IN, partitions: 1 },
      { name: TOPICS.deadLetters.name, partitions: 1 },
    ]);
    for (const topic of [IN, TOPICS.deadLetters.name]) hold(memory, topic);
    // The log refuses dead letters (and only them) until told otherwise, as a log that is away would.
    let refusing = true;
    const refusals: number[] = [];
    let taskConsumer: LogConsumer | undefined;
    const log: Log = Object.assign(Object.create(memory) as MemoryLog, {
      consumer: (options: ConsumerOptions) => (taskConsumer = memory.consumer(options)),
      producer: () => {
        const real = memory.producer();
        return {
          ...real,
          send: (topic: string, records: ProduceRecord[]) => {
            if (topic !== TOPICS.deadLetters.name || !refusing) return real.send(topic, records);
            refusals.push(Date.now());
            return Promise.reject(new Error('the log is away'));
          },
        };
      },
    });
    const task = startStageTask<Count>({
      log,
      group: 'held-task',
      inputTopic: IN,
      decode: (record) => [JSON.parse(record.value.toString()) as Count],
      stages: [],
      maxBatch: 2,
    });
    const values = [1, 2, 'poison', 4, 5, 6].map((v) =>
      v === 'poison' ? 'not json' : JSON.stringify({ key: 'm', n: v }),
    );
    await memory.producer().send(
      IN,
      values.map((v) => ({ key: 'k', value: Buffer.from(v) })),
    );
    const committed = () => taskConsumer!.committed({ topic: IN, partition: 0 });
    await until(() => refusals.length >= 3, 'three refused dead letters');
    // The batch before the poison record is committed; nothing from the poison record on.
    expect(await committed()).toBe(2);
    refusing = false;
    await until(async () => (await committed()) === 6, 'the commit to reach the end');
    await task.stop();
    const dead = await readTopic(memory, TOPICS.deadLetters.name, 1);
    expect(dead.map((r) => decode('DeadLetter', r.value).source_offset)).toEqual([2]);
  });

  it('dead-letters a corrupt record on the topology topic and applies the records after it', async () => {
    const log = new MemoryLog();
    await log.ensureTopics([
      { name: TOPICS.topologyMeters.name, partitions: 1, compacted: true },
      { name: TOPICS.topologyTransformers.name, partitions: 1, compacted: true },
      { name: TOPICS.topologyAssets.name, partitions: 1, compacted: true },
      { name: TOPICS.deadLetters.name, partitions: 2 },
    ]);
    hold(log, TOPICS.deadLetters.name);
    const corrupt = Buffer.from('definitely not Avro');
    await log.producer().send(TOPICS.topologyMeters.name, [{ key: 'm-corrupt', value: corrupt }]);
    await publishTopology(log, oneDt('dt-1', ['m-1', 'm-2']), 1);
    const { counted, metrics } = deadLetterCounter();
    const table = new TopologyTable(log, { metrics });
    const changes: Array<Set<string>> = [];
    table.onChange((dts) => changes.push(dts));
    table.start();
    await within(table.caughtUp(), 'the topology table to catch up');
    expect(table.index.dtOf('m-1')).toBe('dt-1');
    expect(table.index.dtOf('m-2')).toBe('dt-1');
    expect(table.index.version).toBe(1);

    // It keeps going: a later version is applied too.
    await publishTopology(log, oneDt('dt-2', ['m-2']), 2);
    await table.waitForVersion(2, 5_000);
    expect(table.index.dtOf('m-2')).toBe('dt-2');
    await until(() => changes.some((dts) => dts.has('dt-2')), 'the listener to hear of dt-2');
    await table.stop();

    await expectOneDeadLetter(log, corrupt, /^topology table: /, {
      source_topic: TOPICS.topologyMeters.name,
      key: 'm-corrupt',
      source_partition: 0,
      source_offset: 0,
    });
    expect(counted).toEqual(['processing_error']);
  });

  it('caughtUp() waits until the topology topics have been read to their end', async () => {
    const log = new MemoryLog();
    await log.ensureTopics([
      { name: TOPICS.topologyMeters.name, partitions: 1, compacted: true },
      { name: TOPICS.topologyTransformers.name, partitions: 1, compacted: true },
      { name: TOPICS.topologyAssets.name, partitions: 1, compacted: true },
      { name: TOPICS.deadLetters.name, partitions: 1 },
    ]);
    const meters = Array.from({ length: 25_000 }, (_, k) => `m-${k}`);
    await publishTopology(log, oneDt('dt-1', meters), 1);
    const table = new TopologyTable(log);
    table.start();
    await within(table.caughtUp(), 'the topology table to catch up');
    // The table polls 10,000 records at a time: all 25,000 meters are in once caught up (not a first batch).
    expect(meters.every((m) => table.index.dtOf(m) === 'dt-1')).toBe(true);
    await table.stop();
  });

  it('dead-letters a corrupt record on the weather topic and takes in the observations after it', async () => {
    const log = new MemoryLog();
    await log.ensureTopics([
      { name: TOPICS.weather.name, partitions: 2 },
      { name: TOPICS.deadLetters.name, partitions: 2 },
    ]);
    for (const topic of [TOPICS.weather.name, TOPICS.deadLetters.name]) hold(log, topic);
    const T = Date.UTC(2026, 6, 1, 10);
    const observation = (ts: number): WeatherObservation => ({
      station_id: 'ws-1',
      ts,
      ambient_c: 21,
      received_at: ts,
    });
    const producer = log.producer();
    const corrupt = Buffer.from([0, 0, 0, 0, 2, 0xff]); // the weather schema id, then a truncated body
    await producer.send(TOPICS.weather.name, [
      { key: 'ws-1', value: encode('WeatherObservation', observation(T)) },
      { key: 'ws-1', value: corrupt },
      { key: 'ws-1', value: encode('WeatherObservation', observation(T + 60_000)) },
    ]);
    const { counted, metrics } = deadLetterCounter();
    const table = new WeatherTable(log, 3_600_000, { metrics });
    const heard: number[] = [];
    table.onObservations((fresh) => heard.push(...fresh.map((o) => o.ts)));
    table.start();
    await table.ready(5_000);
    expect(table.observations(['ws-1']).map((o) => o.ts)).toEqual([T, T + 60_000]);

    // It keeps going.
    await producer.send(TOPICS.weather.name, [
      { key: 'ws-1', value: encode('WeatherObservation', observation(T + 120_000)) },
    ]);
    await until(() => heard.length === 3, 'the third observation');
    expect(heard).toEqual([T, T + 60_000, T + 120_000]);
    await table.stop();

    await expectOneDeadLetter(log, corrupt, /^weather table: /, {
      source_topic: TOPICS.weather.name,
      key: 'ws-1',
      source_offset: 1,
    });
    expect(counted).toEqual(['processing_error']);
  });
});

/** The one dead letter on the log: a processing_error with the record's bytes, the reason and the fields given. */
async function expectOneDeadLetter(
  log: MemoryLog,
  raw: Buffer,
  reason: RegExp,
  fields: Record<string, unknown>,
) {
  const dead = await readTopic(log, TOPICS.deadLetters.name, 1);
  expect(dead).toHaveLength(1);
  const letter = decode('DeadLetter', dead[0]!.value);
  expect(letter).toMatchObject({ reason_code: 'processing_error', ...fields });
  expect(letter.reason).toMatch(reason);
  expect(letter.raw.equals(raw)).toBe(true);
}
