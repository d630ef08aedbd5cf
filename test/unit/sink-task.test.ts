import { afterEach, describe, expect, it } from 'vitest';
import { decode } from '../../core/codec.js';
import type { LogRecord } from '../../io/log/log.js';
import { PROCESSING_ERROR } from '../../pipelines/runtime/poison.js';
import { FIRST_PAUSE_MS } from '../../pipelines/runtime/retry.js';
import type { SinkContext } from '../../pipelines/runtime/sink-task.js';
import { TOPICS } from '../../pipelines/log-topics.js';
import { TestDriver, type DriverSinkOptions } from '../support/driver.js';

const IN = 'sink.in';
const GROUP = 'a-sink';

/** What a sink did: the values it took, in the order it took them. */
type Handler = (records: LogRecord[], context: SinkContext) => Promise<void>;
const sinkOf = (handle: Handler, extra: Partial<DriverSinkOptions> = {}): DriverSinkOptions => ({
  group: GROUP,
  topics: [IN],
  maxBatch: 5,
  handle,
  ...extra,
});
const items = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => ({ key: `k${(from + k) % 3}`, value: { n: from + k } }));
const nOf = (record: LogRecord) => (JSON.parse(record.value.toString()) as { n: number }).n;
const deferred = () => {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

const drivers: TestDriver[] = [];
const newDriver = async (partitions = 1) => {
  const driver = await TestDriver.create({ topics: [{ name: IN, partitions }] });
  drivers.push(driver);
  return driver;
};

describe('sink tasks (pipelines/runtime/sink-task.ts) on the test driver', () => {
  afterEach(async () => {
    for (const driver of drivers.splice(0)) await driver.close();
  });

  it('commits a batch only once the side effect it handed to commitAfter is durable', async () => {
    const driver = await newDriver();
    const flush = deferred();
    const taken: number[] = [];
    driver.startSink(
      'a',
      sinkOf(
        async (records, context) => {
          for (const record of records) taken.push(nOf(record));
          context.commitAfter(flush.promise);
        },
        { maxInFlight: 4 },
      ),
    );
    await driver.send(IN, items(0, 12));
    await driver.until(() => taken.length === 12, 'every record handled');
    expect(await driver.committed(GROUP, IN)).toEqual([0]);
    flush.resolve();
    await driver.settle();
    expect(await driver.committed(GROUP, IN)).toEqual([12]);
    expect(taken).toEqual(items(0, 12).map((i) => i.value.n));
  });

  it('commits in poll order: a later batch made durable first waits for the one before it', async () => {
    const driver = await newDriver();
    const flushes = [deferred(), deferred(), deferred()];
    let batch = 0;
    const a = driver.startSink(
      'a',
      sinkOf(
        async (_records, context) => {
          context.commitAfter(flushes[Math.min(batch++, 2)]!.promise);
        },
        { maxInFlight: 4 },
      ),
    );
    await driver.send(IN, items(0, 15));
    await driver.until(() => batch === 3, 'three batches handled');
    flushes[2]!.resolve();
    flushes[1]!.resolve();
    await driver.polls(a, 3);
    expect(await driver.committed(GROUP, IN)).toEqual([0]);
    flushes[0]!.resolve();
    await driver.settle();
    expect(await driver.committed(GROUP, IN)).toEqual([15]);
  });

  it('dead-letters a record the handler cannot process and commits past it only once the dead letter is on the log', async () => {
    const driver = await newDriver();
    const taken: number[] = [];
    const hold = driver.hold(TOPICS.deadLetters.name);
    driver.startSink(
      'a',
      sinkOf(async (records, context) => {
        for (const record of records)
          if (nOf(record) === 7) context.deadLetter(record, 'seven is not a number we take');
          else taken.push(nOf(record));
      }),
    );
    await driver.send(IN, items(0, 10));
    await driver.until(() => hold.held() > 0, 'the dead letter sent');
    expect(await driver.committed(GROUP, IN)).toEqual([5]);
    hold.release();
    await driver.settle();
    expect(await driver.committed(GROUP, IN)).toEqual([10]);
    expect(taken).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9]);
    const dead = driver.read(TOPICS.deadLetters.name).map((r) => decode('DeadLetter', r.value));
    expect(dead.map((d) => [d.reason_code, d.reason, d.source_topic, d.source_offset])).toEqual([
      [PROCESSING_ERROR, `${GROUP}: seven is not a number we take`, IN, 7],
    ]);
  });

  it('retries a service that is away without redoing what the batch did before it, then commits', async () => {
    const driver = await newDriver();
    let lookups = 0;
    let sends = 0;
    let away = 3;
    driver.startSink(
      'a',
      sinkOf(
        async (records, context) => {
          lookups++;
          await context.retry('sending', async () => {
            sends++;
            if (away-- > 0) throw new Error('connection refused');
          });
        },
        { maxBatch: 100 },
      ),
    );
    await driver.send(IN, items(0, 4));
    await driver.until(() => sends === 1, 'the first send');
    for (let k = 0; k < 3; k++) {
      expect(await driver.committed(GROUP, IN)).toEqual([0]);
      await driver.until(() => driver.clock.sleeping() > 0, 'the retry pause');
      driver.clock.advance(FIRST_PAUSE_MS * 2 ** k);
    }
    await driver.settle();
    expect([lookups, sends]).toEqual([1, 4]);
    expect(await driver.committed(GROUP, IN)).toEqual([4]);
  });

  it('stops as a task that cannot go on when a side effect fails for good, committing nothing past it', async () => {
    const driver = await newDriver();
    const refused = new Error('the warehouse refused the batch');
    let batch = 0;
    driver.startSink(
      'a',
      sinkOf(
        async (_records, context) => {
          context.commitAfter(batch++ === 1 ? Promise.reject(refused) : Promise.resolve());
        },
        { maxInFlight: 4 },
      ),
    );
    await driver.send(IN, items(0, 15));
    await driver.until(() => driver.fatal.length > 0, 'the task to report it cannot go on');
    expect(driver.fatal).toEqual([refused]);
    expect(await driver.committed(GROUP, IN)).toEqual([5]);
    driver.fatal.length = 0;
    await driver.close().catch(() => undefined);
  });

  it('reads what is on the log to its end on stop, and hands every record over exactly once across a rebalance', async () => {
    const driver = await newDriver(4);
    const taken: number[] = [];
    const handle: Handler = async (records) => {
      for (const record of records) taken.push(nOf(record));
    };
    const a = driver.startSink('a', sinkOf(handle));
    await driver.pipe(IN, items(0, 40));
    const b = driver.startSink('b', sinkOf(handle));
    await driver.send(IN, items(40, 80));
    await a.stop();
    await driver.pipe(IN, items(80, 100));
    await b.stop();
    expect(taken.sort((x, y) => x - y)).toEqual(items(0, 100).map((i) => i.value.n));
    expect((await driver.committed(GROUP, IN)).reduce((x, y) => x + y, 0)).toBe(100);
  });
});
