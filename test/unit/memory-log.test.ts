import { describe, expect, it } from 'vitest';
import type { LogConsumer, LogRecord, TopicPartition } from '../../io/log/log.js';
import { MemoryLog } from '../../io/log/memory-log.js';
import { partitionFor } from '../../io/log/partitioner.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const value = (text: string) => Buffer.from(text, 'utf8');
const text = (record: LogRecord) => record.value.toString('utf8');
const id = (record: { partition: number; offset: number }) => `${record.partition}:${record.offset}`;

async function logWith(
  partitions: number,
  options: ConstructorParameters<typeof MemoryLog>[0] = {},
  compacted = false,
) {
  const log = new MemoryLog(options);
  await log.ensureTopics([{ name: 't', partitions, compacted }]);
  return log;
}

/** Sends `count` records per key, values "key:seq", interleaving the keys. */
async function produce(log: MemoryLog, keys: string[], count: number, topic = 't') {
  const producer = log.producer();
  for (let seq = 0; seq < count; seq++)
    await producer.send(
      topic,
      keys.map((key) => ({ key, value: value(`${key}:${seq}`) })),
    );
}

/** Polls without waiting until the consumer has nothing more. */
async function drain(consumer: LogConsumer, max = 1000, commit = false): Promise<LogRecord[]> {
  const all: LogRecord[] = [];
  for (;;) {
    const batch = await consumer.poll(max, 0);
    if (batch.length === 0) return all;
    if (commit) await consumer.commit(batch);
    all.push(...batch);
  }
}

/** Whether a promise has settled, checked after the event loop has had a chance to run. */
function track(promise: Promise<unknown>) {
  const state = { settled: false, error: undefined as unknown };
  promise.then(
    () => (state.settled = true),
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}

const keys = (n: number, prefix = 'dt') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const sorted = (tps: TopicPartition[]) => tps.map((tp) => tp.partition).sort((a, b) => a - b);

describe('MemoryLog: partitions, keys and offsets', () => {
  it('puts every record of a key in its partition, in the order sent, across many keys and partitions', async () => {
    const log = await logWith(8);
    const consumer = log.consumer({ group: 'g', topics: ['t'] });
    const all = keys(200);
    await produce(log, all, 15);

    const records = await drain(consumer, 97);
    expect(records).toHaveLength(200 * 15);
    const byKey = new Map<string, LogRecord[]>();
    for (const record of records) byKey.set(record.key, [...(byKey.get(record.key) ?? []), record]);
    expect(byKey.size).toBe(200);
    for (const [key, list] of byKey) {
      expect(new Set(list.map((r) => r.partition))).toEqual(new Set([partitionFor(key, 8)]));
      expect(list.map(text)).toEqual(Array.from({ length: 15 }, (_, seq) => `${key}:${seq}`));
    }
    expect(new Set(records.map((r) => r.partition))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7]));
  });

  it('numbers records 0, 1, 2, ... per partition, and endOffset is the next one', async () => {
    const log = await logWith(4);
    const consumer = log.consumer({ group: 'g', topics: ['t'] });
    await produce(log, keys(30), 5);

    const records = await drain(consumer, 13);
    for (let partition = 0; partition < 4; partition++) {
      const offsets = records.filter((r) => r.partition === partition).map((r) => r.offset);
      expect(offsets.length).toBeGreaterThan(0);
      expect(offsets).toEqual(offsets.map((_, i) => i));
      expect(log.endOffset('t', partition)).toBe(offsets.length);
    }
    expect(records.every((r) => r.topic === 't')).toBe(true);
  });

  it('stamps every record with its append time, as Kafka topics with LogAppendTime do', async () => {
    const log = await logWith(1);
    const consumer = log.consumer({ group: 'g', topics: ['t'] });
    const before = Date.now();
    await log.producer().send('t', [
      { key: 'a', value: value('x'), timestamp: 1_751_364_903_000 },
      { key: 'a', value: value('y') },
    ]);
    const records = await drain(consumer);
    expect(records).toHaveLength(2);
    for (const record of records) {
      expect(record.timestamp).toBeGreaterThanOrEqual(before);
      expect(record.timestamp).toBeLessThanOrEqual(Date.now());
    }
  });
});

describe('MemoryLog: consumer groups', () => {
  it('resumes a group from its committed offsets: a later member gets only the uncommitted records', async () => {
    const log = await logWith(3);
    const first = log.consumer({ group: 'g', topics: ['t'] });
    await produce(log, keys(12), 4);

    const seen = await drain(first);
    expect(seen).toHaveLength(48);
    // Commit only the first two records of each partition; the rest was read but not committed.
    const committed = seen.filter((r) => r.offset < 2);
    await first.commit(committed);
    await first.close();

    const second = log.consumer({ group: 'g', topics: ['t'] });
    const resumed = await drain(second);
    expect(resumed.map(id).sort()).toEqual(
      seen
        .filter((r) => r.offset >= 2)
        .map(id)
        .sort(),
    );
  });

  it('gives every record to each of two groups', async () => {
    const log = await logWith(4);
    const a = log.consumer({ group: 'a', topics: ['t'] });
    const b = log.consumer({ group: 'b', topics: ['t'] });
    await produce(log, keys(25), 4);

    const fromA = await drain(a, 1000, true);
    const fromB = await drain(b, 7, true);
    expect(fromA).toHaveLength(100);
    expect(new Set(fromA.map(id)).size).toBe(100);
    expect(fromB.map(id).sort()).toEqual(fromA.map(id).sort());
  });

  it('splits the partitions between two members of a group with no overlap and no gap', async () => {
    const log = await logWith(4);
    const a = log.consumer({ group: 'g', topics: ['t'] });
    const b = log.consumer({ group: 'g', topics: ['t'] });
    await produce(log, keys(40), 5);

    const fromA: LogRecord[] = [];
    const fromB: LogRecord[] = [];
    for (;;) {
      const batchA = await a.poll(9, 0);
      await a.commit(batchA);
      const batchB = await b.poll(9, 0);
      await b.commit(batchB);
      fromA.push(...batchA);
      fromB.push(...batchB);
      if (batchA.length === 0 && batchB.length === 0) break;
    }
    const partitionsA = new Set(fromA.map((r) => r.partition));
    const partitionsB = new Set(fromB.map((r) => r.partition));
    expect([...partitionsA].filter((p) => partitionsB.has(p))).toEqual([]);
    expect(new Set([...partitionsA, ...partitionsB])).toEqual(new Set([0, 1, 2, 3]));

    const ids = [...fromA, ...fromB].map(id);
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    const expected = [0, 1, 2, 3].flatMap((p) =>
      Array.from({ length: log.endOffset('t', p) }, (_, offset) => id({ partition: p, offset })),
    );
    expect(ids.sort()).toEqual(expected.sort());
  });

  it('calls onAssigned and onRevoked with the moved partitions when a member joins and when one leaves', async () => {
    const log = await logWith(4);
    const events: string[] = [];
    const member = (name: string) =>
      log.consumer({
        group: 'g',
        topics: ['t'],
        onAssigned: (tps) => void events.push(`${name} assigned ${sorted(tps).join(',')}`),
        onRevoked: (tps) => void events.push(`${name} revoked ${sorted(tps).join(',')}`),
      });

    const a = member('A');
    await a.poll(10, 0);
    expect(events).toEqual(['A assigned 0,1,2,3']);

    const b = member('B');
    await b.poll(10, 0);
    await a.poll(10, 0);
    expect(events.slice(1).sort()).toEqual(['A revoked 1,3', 'B assigned 1,3']);

    // Each member now reads only its own partitions.
    await produce(log, keys(40), 1);
    const fromA = await drain(a, 1000, true);
    const fromB = await drain(b, 1000, true);
    expect(new Set(fromA.map((r) => r.partition))).toEqual(new Set([0, 2]));
    expect(new Set(fromB.map((r) => r.partition))).toEqual(new Set([1, 3]));

    events.length = 0;
    await b.close();
    expect(events).toEqual(['B revoked 1,3']);
    await a.poll(10, 0);
    expect(events).toEqual(['B revoked 1,3', 'A assigned 1,3']);

    // A has taken over B's partitions from the group's committed offsets: only the new records arrive.
    const ends = [0, 1, 2, 3].map((p) => log.endOffset('t', p));
    await produce(log, keys(40), 1);
    const after = await drain(a, 1000, true);
    expect(after).toHaveLength(40);
    expect(new Set(after.map(id)).size).toBe(40);
    expect(new Set(after.map((r) => r.partition))).toEqual(new Set([0, 1, 2, 3]));
    for (const record of after) expect(record.offset).toBeGreaterThanOrEqual(ends[record.partition]!);
  });

  it('has called onAssigned for a partition by the time a poll returns its records', async () => {
    const log = await logWith(4);
    const assigned = new Set<number>();
    const consumer = log.consumer({
      group: 'g',
      topics: ['t'],
      onAssigned: (tps) => tps.forEach((tp) => assigned.add(tp.partition)),
    });
    await produce(log, keys(20), 1);
    const batch = await consumer.poll(100, 0);
    expect(batch).toHaveLength(20);
    for (const record of batch) expect(assigned.has(record.partition)).toBe(true);
  });
  it('takes turns over the partitions, so a busy partition cannot starve the others', async () => {
    const log = await logWith(2);
    const consumer = log.consumer({ group: 'g', topics: ['t'] });
    const [k0, k1] = [
      keys(50).find((k) => partitionFor(k, 2) === 0)!,
      keys(50).find((k) => partitionFor(k, 2) === 1)!,
    ];
    await produce(log, [k0, k1], 100);
    const first = await consumer.poll(10, 0);
    const second = await consumer.poll(10, 0);
    expect(new Set([...first, ...second].map((r) => r.partition))).toEqual(new Set([0, 1]));
  });
});

describe('MemoryLog: poll timing', () => {
  it('returns an empty list after about waitMs when there is no data', async () => {
    const log = await logWith(2);
    const consumer = log.consumer({ group: 'g', topics: ['t'] });
    const start = performance.now();
    const batch = await consumer.poll(10, 150);
    const elapsed = performance.now() - start;
    expect(batch).toEqual([]);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
  });

  it('returns promptly when data is appended while it waits', async () => {
    const log = await logWith(2);
    const consumer = log.consumer({ group: 'g', topics: ['t'] });
    await consumer.poll(10, 0); // takes the assignment
    const start = performance.now();
    setTimeout(() => void log.producer().send('t', [{ key: 'k', value: value('late') }]), 50);
    const batch = await consumer.poll(10, 5000);
    const elapsed = performance.now() - start;
    expect(batch.map(text)).toEqual(['late']);
    expect(elapsed).toBeLessThan(1000);
  });

  it('with lingerMs, waits for more records and returns a fuller batch', async () => {
    const log = await logWith(1);
    const eager = log.consumer({ group: 'eager', topics: ['t'] });
    const lingering = log.consumer({ group: 'lingering', topics: ['t'], lingerMs: 300 });
    await produce(log, ['k'], 1);

    setTimeout(() => void produce(log, ['k'], 4), 50);
    const [fromEager, fromLingering] = await Promise.all([eager.poll(10, 0), lingering.poll(10, 0)]);
    expect(fromEager).toHaveLength(1);
    expect(fromLingering).toHaveLength(5);
  });

  it('with lingerMs, does not wait beyond the linger while records keep trickling in', async () => {
    const log = await logWith(1);
    const consumer = log.consumer({ group: 'g', topics: ['t'], lingerMs: 150 });
    await produce(log, ['k'], 1);
    let sent = 0;
    const trickle = setInterval(() => {
      sent++;
      void log.producer().send('t', [{ key: 'k', value: value(`more-${sent}`) }]);
    }, 10);
    try {
      const start = performance.now();
      const batch = await consumer.poll(100_000, 0);
      const elapsed = performance.now() - start;
      expect(elapsed).toBeGreaterThanOrEqual(140);
      expect(elapsed).toBeLessThan(600);
      expect(batch.length).toBeGreaterThan(1);
    } finally {
      clearInterval(trickle);
    }
  });

  it('with lingerMs, returns at once when the batch is already full', async () => {
    const log = await logWith(1);
    const consumer = log.consumer({ group: 'g', topics: ['t'], lingerMs: 5000 });
    await produce(log, ['k'], 10);
    const start = performance.now();
    const batch = await consumer.poll(10, 0);
    expect(batch).toHaveLength(10);
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe('MemoryLog: backpressure and retention', () => {
  it('keeps a send pending while a partition holds maxBacklogPerPartition uncommitted records, until a commit', async () => {
    const log = await logWith(1, { maxBacklogPerPartition: 3 });
    const consumer = log.consumer({ group: 'g', topics: ['t'] });
    const send = log.producer().send(
      't',
      Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: value(`r${i}`) })),
    );
    const state = track(send);

    await sleep(50);
    expect(state.settled).toBe(false);
    expect(log.endOffset('t', 0)).toBe(3);

    // Reading is not enough: only a commit makes room.
    const batch = await consumer.poll(10, 0);
    expect(batch.map(text)).toEqual(['r0', 'r1', 'r2']);
    await sleep(50);
    expect(state.settled).toBe(false);

    await consumer.commit(batch);
    await send;
    expect(state.error).toBeUndefined();
    expect(log.endOffset('t', 0)).toBe(5);
    expect((await consumer.poll(10, 0)).map(text)).toEqual(['r3', 'r4']);
  });

  it('waits for the slowest subscribed group, not the fastest', async () => {
    const log = await logWith(1, { maxBacklogPerPartition: 2 });
    const slow = log.consumer({ group: 'slow', topics: ['t'] });
    const fast = log.consumer({ group: 'fast', topics: ['t'] });
    await produce(log, ['k'], 2);
    await drain(fast, 10, true);

    const state = track(log.producer().send('t', [{ key: 'k', value: value('third') }]));
    await sleep(50);
    expect(state.settled).toBe(false);

    await drain(slow, 10, true);
    await sleep(10);
    expect(state.settled).toBe(true);
    expect(log.endOffset('t', 0)).toBe(3);
  });

  it('releases the records every subscribed group has committed, and only those', async () => {
    const log = await logWith(1);
    const a = log.consumer({ group: 'a', topics: ['t'] });
    const b = log.consumer({ group: 'b', topics: ['t'] });
    await produce(log, ['k'], 10);

    await drain(a, 100, true);
    expect(log.read('t', 0, 0, 100)).toHaveLength(10);

    const fromB = await b.poll(4, 0);
    await b.commit(fromB);
    expect(log.read('t', 0, 0, 100).map((r) => r.offset)).toEqual([4, 5, 6, 7, 8, 9]);

    await drain(b, 100, true);
    expect(log.read('t', 0, 0, 100)).toEqual([]);
    expect(log.endOffset('t', 0)).toBe(10);

    // Offsets go on from where they were.
    await produce(log, ['k'], 1);
    expect((await a.poll(10, 0)).map((r) => r.offset)).toEqual([10]);
  });

  it('never trims a compacted topic, even once every group has committed it', async () => {
    const log = await logWith(2, {}, true);
    const consumer = log.consumer({ group: 'g', topics: ['t'] });
    await produce(log, keys(10), 3);
    const records = await drain(consumer, 100, true);
    expect(records).toHaveLength(30);

    const kept = [0, 1].flatMap((p) => log.read('t', p, 0, 100));
    expect(kept.map(id).sort()).toEqual(records.map(id).sort());
    // A new group can still read the whole topic.
    const late = log.consumer({ group: 'late', topics: ['t'] });
    expect(await drain(late)).toHaveLength(30);
  });
});

describe('MemoryLog: topics and lag', () => {
  it('accepts ensureTopics again with the same partition count and throws for a different one', async () => {
    const log = await logWith(4);
    await expect(log.ensureTopics([{ name: 't', partitions: 4 }])).resolves.toBeUndefined();
    await expect(log.ensureTopics([{ name: 't', partitions: 8 }])).rejects.toThrow(
      /t exists with 4 partitions, not 8/,
    );
    expect(log.partitionsOf('t')).toBe(4);
  });

  it('refuses producers and consumers of a topic that was never created', async () => {
    const log = await logWith(1);
    expect(() => log.consumer({ group: 'g', topics: ['nope'] })).toThrow(/unknown topic nope/);
    await expect(log.producer().send('nope', [{ key: 'k', value: value('x') }])).rejects.toThrow(
      /unknown topic nope/,
    );
  });

  it('counts the records not yet returned to the consumer as lag', async () => {
    const log = await logWith(3);
    const consumer = log.consumer({ group: 'g', topics: ['t'] });
    await consumer.poll(1, 0); // takes the assignment
    await produce(log, keys(10), 3);
    expect(await consumer.lag()).toBe(30);

    const first = await consumer.poll(12, 0);
    expect(first).toHaveLength(12);
    expect(await consumer.lag()).toBe(18);

    // Committing does not change what is unread.
    await consumer.commit(first);
    expect(await consumer.lag()).toBe(18);

    await drain(consumer);
    expect(await consumer.lag()).toBe(0);
    await produce(log, keys(2), 1);
    expect(await consumer.lag()).toBe(2);
  });
});
