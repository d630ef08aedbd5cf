import { describe, expect, it } from 'vitest';
import {
  REPLAY_BATCH_RECORDS,
  type Log,
  type LogConsumer,
  type LogRecord,
  type TopicPartition,
} from '../../io/log/log.js';
import { partitionFor } from '../../io/log/partitioner.js';

/**
 * The Log contract (io/log/log.ts): what the pipeline relies on from a log, run against every implementation
 * (the in-process log in memory and on disk, and Kafka), as the warehouse parity suite is against both
 * engines. Waits are generous because Kafka's group joins take seconds; the in-process log answers at once.
 * Where the two differ by design, the test says so: the in-process log keeps a record only until every group
 * subscribed to its topic has committed it (Kafka keeps it for the topic's retention), so a group that
 * subscribes later does not get it, and `replay` reaches back only over what some group has not committed yet.
 */
export function describeLogContract(
  name: string,
  setup: { open(): Promise<Log>; close(log: Log): Promise<void> },
) {
  describe(`the Log contract: ${name}`, () => {
    let sequence = 0;
    /** A fresh log and a topic name no other test uses. */
    const fixture = async (partitions: number) => {
      const log = await setup.open();
      const topic = `contract.${process.pid}.${++sequence}`;
      await log.ensureTopics([{ name: topic, partitions }]);
      return { log, topic, done: () => setup.close(log) };
    };
    /** A test on a fresh log and topic of `partitions`, closed after it whatever it did. */
    const contract = (
      title: string,
      partitions: number,
      body: (f: { log: Log; topic: string }) => Promise<void>,
      timeoutMs?: number,
    ) =>
      it(
        title,
        async () => {
          const { log, topic, done } = await fixture(partitions);
          try {
            await body({ log, topic });
          } finally {
            await done();
          }
        },
        timeoutMs,
      );
    const values = (from: number, n: number, key = (i: number) => `k${i % 3}`) =>
      Array.from({ length: n }, (_, i) => ({ key: key(from + i), value: Buffer.from(String(from + i)) }));

    contract(
      'creates topics idempotently and refuses a different partition count',
      3,
      async ({ log, topic }) => {
        await log.ensureTopics([{ name: topic, partitions: 3 }]);
        await expect(log.ensureTopics([{ name: topic, partitions: 5 }])).rejects.toThrow(
          /3 partitions, not 5/,
        );
      },
    );

    contract(
      'puts a key on the partition partitionFor() names, in the order sent, numbered from 0',
      4,
      async ({ log, topic }) => {
        const keys = ['dt-0001', 'dt-0002', 'dt-0003', 'dt-0004', 'dt-0005', 'dt-0006'];
        const records = keys.flatMap((key) =>
          Array.from({ length: 20 }, (_, i) => ({ key, value: Buffer.from(`${key}:${i}`) })),
        );
        await log.producer().send(topic, records);
        const consumer = log.consumer({ group: 'order', topics: [topic], fromBeginning: true });
        const got = await pollAll(consumer, records.length);
        expect(got).toHaveLength(records.length);
        for (const key of keys) {
          const mine = got.filter((r) => r.key === key);
          expect(new Set(mine.map((r) => r.partition))).toEqual(new Set([partitionFor(key, 4)]));
          expect(mine.map((r) => r.value.toString())).toEqual(
            Array.from({ length: 20 }, (_, i) => `${key}:${i}`),
          );
        }
        for (let p = 0; p < 4; p++) {
          const offsets = got.filter((r) => r.partition === p).map((r) => r.offset);
          expect(offsets).toEqual(offsets.map((_, i) => i));
        }
        await consumer.close();
      },
    );

    contract(
      'resumes a group from its committed offsets, and committed() names the next record to read',
      2,
      async ({ log, topic }) => {
        const producer = log.producer();
        await producer.send(topic, values(0, 10));
        const first = log.consumer({ group: 'resume', topics: [topic], fromBeginning: true });
        const seen = await pollAll(first, 10);
        await first.commit(seen);
        const lastOf = (p: number) =>
          Math.max(-1, ...seen.filter((r) => r.partition === p).map((r) => r.offset));
        for (const p of [0, 1]) expect(await first.committed({ topic, partition: p })).toBe(lastOf(p) + 1);
        await first.close();
        await producer.send(topic, values(10, 5));
        const second = log.consumer({ group: 'resume', topics: [topic], fromBeginning: true });
        const rest = await pollAll(second, 5);
        expect(rest.map((r) => r.value.toString()).sort()).toEqual(['10', '11', '12', '13', '14']);
        await second.close();
      },
    );

    contract('gives every record to each of two groups', 2, async ({ log, topic }) => {
      // Both subscribed before the records come, as the pipeline's groups are.
      const consumers = ['one', 'two'].map((group) =>
        log.consumer({ group, topics: [topic], fromBeginning: true }),
      );
      await log.producer().send(topic, values(0, 30));
      for (const consumer of consumers) {
        const got = await pollAll(consumer, 30);
        expect(got.map((r) => Number(r.value.toString())).sort((a, b) => a - b)).toEqual(
          Array.from({ length: 30 }, (_, i) => i),
        );
        await consumer.commit(got);
        await consumer.close();
      }
    });

    contract(
      'splits partitions between two members, each told of its partitions before it gets their records',
      4,
      async ({ log, topic }) => {
        const assigned: Record<string, TopicPartition[]> = { a: [], b: [] };
        const member = (m: 'a' | 'b') =>
          log.consumer({
            group: 'split',
            topics: [topic],
            fromBeginning: true,
            onAssigned: (tps) => void assigned[m]!.push(...tps),
            onRevoked: (tps) =>
              void (assigned[m] = assigned[m]!.filter((a) => !tps.some((t) => t.partition === a.partition))),
          });
        const a = member('a');
        const b = member('b');
        // Both members in the group before anything is produced, so there is something split to check.
        const joinDeadline = Date.now() + 60_000;
        while ((assigned.a!.length === 0 || assigned.b!.length === 0) && Date.now() < joinDeadline) {
          expect(await a.poll(100, 10)).toEqual([]);
          expect(await b.poll(100, 10)).toEqual([]);
        }
        await log.producer().send(
          topic,
          values(0, 200, (i) => `key-${i}`),
        );
        const got: LogRecord[] = [];
        const deadline = Date.now() + 60_000;
        while (got.length < 200 && Date.now() < deadline) {
          for (const [m, consumer] of [
            ['a', a],
            ['b', b],
          ] as const) {
            const batch = await consumer.poll(500, 100);
            for (const r of batch) expect(assigned[m]!.map((t) => t.partition)).toContain(r.partition);
            got.push(...batch);
          }
        }
        expect(new Set(got.map((r) => r.value.toString())).size).toBe(200);
        const owned = [...assigned.a!, ...assigned.b!].map((t) => t.partition).sort();
        expect(owned).toEqual([0, 1, 2, 3]);
        expect(assigned.a!.length).toBeGreaterThan(0);
        expect(assigned.b!.length).toBeGreaterThan(0);
        await a.close();
        await b.close();
      },
      120_000,
    );

    contract('reports as lag the records not yet returned, 0 once all are', 1, async ({ log, topic }) => {
      const consumer = log.consumer({ group: 'lag', topics: [topic], fromBeginning: true });
      await consumer.poll(10, 2000); // joins the group
      await log.producer().send(topic, values(0, 7));
      // Kafka learns the end offset from its fetches: give it a moment to see the 7.
      const deadline = Date.now() + 10_000;
      let before = await consumer.lag();
      while (before === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        before = await consumer.lag();
      }
      expect(before).toBe(7);
      const got = await pollAll(consumer, 7);
      expect(got).toHaveLength(7);
      expect(await consumer.lag()).toBe(0);
      await consumer.close();
    });

    contract(
      'replays a partition up to the committed offset, back to the lookback in append time',
      1,
      async ({ log, topic }) => {
        // A second group that has committed nothing: the in-process log keeps the records for it.
        log.consumer({ group: 'holder', topics: [topic], fromBeginning: true });
        const producer = log.producer();
        await producer.send(
          topic,
          values(0, 30, () => 'k'),
        );
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await producer.send(
          topic,
          values(30, 20, () => 'k'),
        );
        const consumer = log.consumer({ group: 'replay', topics: [topic], fromBeginning: true });
        const got = await pollAll(consumer, 50);
        await consumer.commit(got.slice(0, 40));
        const deadline = Date.now() + 10_000;
        while ((await consumer.committed({ topic, partition: 0 })) !== 40 && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 100));
        expect(await consumer.committed({ topic, partition: 0 })).toBe(40);
        // Record 39 was appended in the second burst; a one-second lookback reaches back to its start only.
        const replayed = await replayAll(log, topic, 40, 1000);
        expect(replayed.records.map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => 30 + i));
        expect(replayed.lastTimestamp).toEqual([replayed.records.at(-1)!.timestamp]);
        expect((await replayAll(log, topic, 0, 1000)).records).toEqual([]);
        await consumer.close();
      },
    );

    contract(
      "replays in batches of at most REPLAY_BATCH_RECORDS, each dated by the replay's last record",
      1,
      async ({ log, topic }) => {
        // A group holds the records (the in-process log keeps only what some group has not committed).
        log.consumer({ group: 'holder', topics: [topic], fromBeginning: true });
        const n = REPLAY_BATCH_RECORDS * 2 + 7;
        await log.producer().send(topic, values(0, n));
        const consumer = log.consumer({ group: 'replay', topics: [topic], fromBeginning: true });
        const got = await pollAll(consumer, n);
        const replayed = await replayAll(log, topic, n, 3_600_000);
        expect(replayed.records.map((r) => r.offset)).toEqual(got.map((r) => r.offset));
        expect(replayed.sizes.length).toBeGreaterThanOrEqual(3);
        expect(Math.max(...replayed.sizes)).toBeLessThanOrEqual(REPLAY_BATCH_RECORDS);
        expect(replayed.lastTimestamp).toEqual([got.at(-1)!.timestamp]);
        await consumer.close();
      },
      60_000,
    );

    contract(
      'has a record readable once its send resolved, with its append time',
      1,
      async ({ log, topic }) => {
        const consumer = log.consumer({ group: 'visible', topics: [topic], fromBeginning: true });
        const before = Date.now();
        await log.producer().send(topic, values(0, 1));
        const [record] = await pollAll(consumer, 1);
        expect(record?.value.toString()).toBe('0');
        expect(record!.timestamp).toBeGreaterThanOrEqual(before - 1000);
        expect(record!.timestamp).toBeLessThanOrEqual(Date.now() + 1000);
        await consumer.close();
      },
    );
  });
}

/** Polls until `count` records arrived or the deadline passes. */
export async function pollAll(consumer: LogConsumer, count: number, ms = 30_000): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  const deadline = Date.now() + ms;
  while (out.length < count && Date.now() < deadline) out.push(...(await consumer.poll(1000, 200)));
  return out;
}

/** A whole replay: its records, its batches' sizes and the distinct last timestamps its batches gave. */
async function replayAll(log: Log, topic: string, until: number, lookbackMs: number) {
  const records: LogRecord[] = [];
  const sizes: number[] = [];
  const lastTimestamp = new Set<number>();
  for await (const batch of log.replay(topic, 0, until, lookbackMs)) {
    records.push(...batch.records);
    sizes.push(batch.records.length);
    lastTimestamp.add(batch.lastTimestamp);
  }
  return { records, sizes, lastTimestamp: [...lastTimestamp] };
}
