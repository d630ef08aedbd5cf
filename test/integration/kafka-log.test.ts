import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaLog } from '../../io/log/kafka-log.js';
import type { LogRecord, TopicPartition } from '../../io/log/log.js';
import { partitionFor } from '../../io/log/partitioner.js';
import { startKafka, type TestKafka } from '../support/kafka.js';

/** Polls until `count` records arrived or the deadline passes. */
async function pollAll(
  consumer: { poll(max: number, waitMs: number): Promise<LogRecord[]> },
  count: number,
  ms = 30_000,
) {
  const out: LogRecord[] = [];
  const deadline = Date.now() + ms;
  while (out.length < count && Date.now() < deadline) out.push(...(await consumer.poll(1000, 200)));
  return out;
}

describe('Kafka log (real broker)', () => {
  let kafka: TestKafka;
  let log: KafkaLog;

  beforeAll(async () => {
    kafka = await startKafka();
    log = new KafkaLog({ brokers: kafka.brokers });
  }, 180_000);
  afterAll(async () => {
    await log?.close();
    await kafka?.destroy();
  });

  it('creates topics idempotently and refuses a different partition count', async () => {
    await log.ensureTopics([
      { name: 't.create', partitions: 3 },
      { name: 't.compact', partitions: 1, compacted: true },
    ]);
    await log.ensureTopics([{ name: 't.create', partitions: 3 }]);
    await expect(log.ensureTopics([{ name: 't.create', partitions: 5 }])).rejects.toThrow(
      /3 partitions, not 5/,
    );
  });

  it('puts a key on the partition partitionFor() names, in order', async () => {
    await log.ensureTopics([{ name: 't.order', partitions: 4 }]);
    const producer = log.producer();
    const keys = ['dt-0001', 'dt-0002', 'dt-0003', 'dt-0004', 'dt-0005', 'dt-0006'];
    const records = keys.flatMap((key) =>
      Array.from({ length: 20 }, (_, i) => ({ key, value: Buffer.from(`${key}:${i}`) })),
    );
    await producer.send('t.order', records);
    const consumer = log.consumer({ group: 'order-check', topics: ['t.order'] });
    const got = await pollAll(consumer, records.length);
    expect(got).toHaveLength(records.length);
    for (const key of keys) {
      const mine = got.filter((r) => r.key === key);
      expect(new Set(mine.map((r) => r.partition))).toEqual(new Set([partitionFor(key, 4)]));
      expect(mine.map((r) => r.value.toString())).toEqual(
        Array.from({ length: 20 }, (_, i) => `${key}:${i}`),
      );
    }
    await consumer.commit(got);
    await consumer.close();
  });

  it('resumes a group from its committed offsets', async () => {
    await log.ensureTopics([{ name: 't.resume', partitions: 2 }]);
    const producer = log.producer();
    await producer.send(
      't.resume',
      Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(String(i)) })),
    );
    const first = log.consumer({ group: 'resume', topics: ['t.resume'] });
    const seen = await pollAll(first, 10);
    await first.commit(seen);
    await first.close();
    await producer.send(
      't.resume',
      Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`new${i}`) })),
    );
    const second = log.consumer({ group: 'resume', topics: ['t.resume'] });
    const rest = await pollAll(second, 5);
    expect(rest.map((r) => r.value.toString()).sort()).toEqual(['new0', 'new1', 'new2', 'new3', 'new4']);
    await second.close();
  });

  it('splits partitions between two members and calls the assignment callbacks first', async () => {
    await log.ensureTopics([{ name: 't.split', partitions: 4 }]);
    const assigned: Record<string, TopicPartition[]> = { a: [], b: [] };
    const member = (name: 'a' | 'b') =>
      log.consumer({
        group: 'split',
        topics: ['t.split'],
        onAssigned: (tps) => void assigned[name]!.push(...tps),
        onRevoked: (tps) =>
          void (assigned[name] = assigned[name]!.filter(
            (a) => !tps.some((t) => t.partition === a.partition),
          )),
      });
    const a = member('a');
    const b = member('b');
    // Both members must be in the group before anything is produced: otherwise the first to join can own all
    // four partitions and read every record before the second arrives, and there is nothing split to check.
    const joinDeadline = Date.now() + 60_000;
    while ((assigned.a!.length === 0 || assigned.b!.length === 0) && Date.now() < joinDeadline) {
      expect(await a.poll(100, 10)).toEqual([]);
      expect(await b.poll(100, 10)).toEqual([]);
    }
    const producer = log.producer();
    await producer.send(
      't.split',
      Array.from({ length: 200 }, (_, i) => ({ key: `key-${i}`, value: Buffer.from(String(i)) })),
    );
    const got: LogRecord[] = [];
    const deadline = Date.now() + 60_000;
    while (got.length < 200 && Date.now() < deadline) {
      for (const [name, consumer] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const batch = await consumer.poll(500, 100);
        // Every record returned belongs to a partition the member was told it owns.
        for (const r of batch) expect(assigned[name]!.map((t) => t.partition)).toContain(r.partition);
        got.push(...batch);
      }
    }
    expect(new Set(got.map((r) => r.value.toString())).size).toBe(200);
    const partitionsA = assigned.a!.map((t) => t.partition).sort();
    const partitionsB = assigned.b!.map((t) => t.partition).sort();
    expect([...partitionsA, ...partitionsB].sort()).toEqual([0, 1, 2, 3]);
    expect(partitionsA.length).toBeGreaterThan(0);
    expect(partitionsB.length).toBeGreaterThan(0);
    await a.close();
    await b.close();
  }, 120_000);

  it('reports the lag of unread records', async () => {
    await log.ensureTopics([{ name: 't.lag', partitions: 1 }]);
    const consumer = log.consumer({ group: 'lag', topics: ['t.lag'] });
    await consumer.poll(10, 2000); // join the group
    await log.producer().send(
      't.lag',
      Array.from({ length: 7 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })),
    );
    const got = await pollAll(consumer, 7);
    expect(got).toHaveLength(7);
    expect(await consumer.lag()).toBe(0);
    await consumer.close();
  });

  it('replays a partition up to the committed offset, back to the lookback in append time', async () => {
    await log.ensureTopics([{ name: 't.replay', partitions: 1 }]);
    const producer = log.producer();
    const burst = (from: number, n: number) =>
      producer.send(
        't.replay',
        Array.from({ length: n }, (_, i) => ({ key: 'k', value: Buffer.from(String(from + i)) })),
      );
    await burst(0, 30);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await burst(30, 20);
    const consumer = log.consumer({ group: 'replay', topics: ['t.replay'] });
    const got = await pollAll(consumer, 50);
    await consumer.commit(got.slice(0, 40));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await consumer.committed({ topic: 't.replay', partition: 0 })).toBe(40);
    // Record 39 was appended in the second burst; a one-second lookback reaches back to its start only.
    const replayed = await log.replay('t.replay', 0, 40, 1000);
    expect(replayed.map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => 30 + i));
    expect(await log.replay('t.replay', 0, 0, 1000)).toEqual([]);
    await consumer.close();
  });
});
