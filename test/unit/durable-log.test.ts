import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogConsumer, LogRecord } from '../../io/log/log.js';
import { ownGroup } from '../../io/log/log.js';
import { Journal, type StoredGroup } from '../../io/log/journal.js';
import { MemoryLog } from '../../io/log/memory-log.js';

const dirs: string[] = [];
const logs: MemoryLog[] = [];
afterEach(async () => {
  // Logs "crashed" in a test are closed only now, after the test read their files.
  for (const log of logs.splice(0)) await log.close().catch(() => {});
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gridstream-durable-log-'));
  dirs.push(dir);
  return dir;
}

async function open(dir: string, partitions = 2, options: ConstructorParameters<typeof MemoryLog>[0] = {}) {
  const log = new MemoryLog({ dir, ...options });
  logs.push(log);
  await log.ensureTopics([{ name: 't', partitions }]);
  return log;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const texts = (records: LogRecord[]) => records.map((r) => r.value.toString('utf8')).sort();

async function drain(consumer: LogConsumer): Promise<LogRecord[]> {
  const all: LogRecord[] = [];
  for (;;) {
    const batch = await consumer.poll(1000, 0);
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

async function send(log: MemoryLog, from: number, to: number, keys = ['a', 'b', 'c']) {
  const producer = log.producer();
  for (let k = from; k < to; k++)
    await producer.send('t', [{ key: keys[k % keys.length]!, value: Buffer.from(`v${k}`) }]);
}

describe('MemoryLog with a directory: durable across a crash', () => {
  it('a log reopened without being closed holds every record a send acknowledged that its group had not committed', async () => {
    const dir = newDir();
    const first = await open(dir);
    const consumer = first.consumer({ group: 'g', topics: ['t'], fromBeginning: true });
    await send(first, 0, 100);
    const read = await drain(consumer);
    expect(read).toHaveLength(100);
    // The group commits the first 60 records of each partition's order it read.
    const committed = read.filter((r) => Number(r.value.toString().slice(1)) < 60);
    await consumer.commit(committed);
    await sleep(300); // the offsets are written every 100 ms
    await send(first, 100, 120);
    // No close: the second log finds what the first left on disk, as after kill -9.
    const second = await open(dir);
    const again = await drain(second.consumer({ group: 'g', topics: ['t'], fromBeginning: true }));
    // Everything after each partition's committed offset, then the 20 sent later.
    const lastCommitted = new Map<number, number>();
    for (const r of committed)
      lastCommitted.set(r.partition, Math.max(lastCommitted.get(r.partition) ?? -1, r.offset));
    const uncommitted = read.filter((r) => r.offset > (lastCommitted.get(r.partition) ?? -1));
    expect(texts(again)).toEqual(
      texts([
        ...uncommitted,
        ...Array.from({ length: 20 }, (_, k) => ({ value: Buffer.from(`v${100 + k}`) }) as LogRecord),
      ]),
    );
    expect(uncommitted.length).toBeGreaterThan(0);
    // Offsets and keys come back as they were.
    const byOffset = new Map(read.map((r) => [`${r.partition}:${r.offset}`, r]));
    for (const r of again) {
      const before = byOffset.get(`${r.partition}:${r.offset}`);
      if (before) expect([r.key, r.value.toString()]).toEqual([before.key, before.value.toString()]);
    }
  });

  it('a group that subscribed but never committed keeps its records across a restart', async () => {
    const dir = newDir();
    const first = await open(dir);
    first.consumer({ group: 'late', topics: ['t'], fromBeginning: true });
    // Another group commits everything: without 'late' on disk, the records would be released.
    const other = first.consumer({ group: 'other', topics: ['t'], fromBeginning: true });
    await send(first, 0, 30);
    await other.commit(await drain(other));
    await sleep(300);
    const second = await open(dir);
    const records = await drain(second.consumer({ group: 'late', topics: ['t'], fromBeginning: true }));
    expect(records).toHaveLength(30);
  });

  it('keeps no offsets for a group of one process, so its records are not held for it after a restart', async () => {
    const dir = newDir();
    const first = await open(dir);
    const own = first.consumer({ group: ownGroup('view'), topics: ['t'], fromBeginning: true });
    const sink = first.consumer({ group: 'sink', topics: ['t'], fromBeginning: true });
    await send(first, 0, 10);
    expect(await drain(own)).toHaveLength(10);
    // The one lasting group commits everything; the process's own group committed nothing.
    await sink.commit(await drain(sink));
    await first.close();
    const second = await open(dir);
    const fresh = await drain(
      second.consumer({ group: ownGroup('view'), topics: ['t'], fromBeginning: true }),
    );
    expect(fresh).toHaveLength(0);
  });

  it('cuts a torn last frame and goes on from the last whole record', async () => {
    const dir = newDir();
    const first = await open(dir, 1);
    first.consumer({ group: 'g', topics: ['t'], fromBeginning: true });
    await send(first, 0, 5);
    await first.close();
    const segmentDir = join(dir, 'topics', 't', '0');
    const [segment] = readdirSync(segmentDir);
    // A frame header promising more bytes than follow, as a crash mid-write leaves it.
    appendFileSync(join(segmentDir, segment!), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5, 6]));
    const second = await open(dir, 1);
    await send(second, 5, 7);
    await second.close();
    const third = await open(dir, 1);
    const records = await drain(third.consumer({ group: 'g', topics: ['t'], fromBeginning: true }));
    expect(records.map((r) => [r.offset, r.value.toString()])).toEqual(
      [0, 1, 2, 3, 4, 5, 6].map((k) => [k, `v${k}`]),
    );
  });

  it('shows a record to consumers only once it is on disk', async () => {
    const dir = newDir();
    const log = await open(dir, 1);
    const consumer = log.consumer({ group: 'g', topics: ['t'], fromBeginning: true });
    await consumer.poll(10, 0); // takes the assignment
    const sending = log.producer().send('t', [{ key: 'a', value: Buffer.from('x') }]);
    // Appended in memory, but the flush has not run: a consumer that processed it could commit past a
    // record a crash would then lose.
    expect(await consumer.poll(10, 0)).toEqual([]);
    await sending;
    expect(texts(await consumer.poll(10, 0))).toEqual(['x']);
  });

  it('deletes a segment once every group has committed all of it', async () => {
    const dir = newDir();
    const log = await open(dir, 1, { journal: { segmentBytes: 200 } });
    const consumer = log.consumer({ group: 'g', topics: ['t'], fromBeginning: true });
    await send(log, 0, 40);
    const segmentDir = join(dir, 'topics', 't', '0');
    const before = readdirSync(segmentDir).length;
    expect(before).toBeGreaterThan(3);
    const records = await drain(consumer);
    await consumer.commit(records.slice(0, 30));
    const after = readdirSync(segmentDir);
    expect(after.length).toBeLessThan(before);
    // What is left starts at or below the first uncommitted record.
    expect(Number(after.sort()[0]!.slice(0, 20))).toBeLessThanOrEqual(30);
    await log.close();
    const reopened = await open(dir, 1);
    const left = await drain(reopened.consumer({ group: 'g', topics: ['t'], fromBeginning: true }));
    expect(left.map((r) => r.value.toString())).toEqual(Array.from({ length: 10 }, (_, k) => `v${30 + k}`));
  });

  it('refuses a partition count other than the one on disk', async () => {
    const dir = newDir();
    const log = await open(dir, 4);
    await log.close();
    const other = new MemoryLog({ dir });
    logs.push(other);
    await expect(other.ensureTopics([{ name: 't', partitions: 2 }])).rejects.toThrow(
      /4 partitions of t, not 2/,
    );
  });
});

describe('MemoryLog with a directory: its offsets file', () => {
  it('starts from a torn groups.json as from none: the records are read again, not lost', async () => {
    const dir = newDir();
    const first = await open(dir, 1);
    const consumer = first.consumer({ group: 'g', topics: ['t'], fromBeginning: true });
    await send(first, 0, 5);
    await consumer.commit(await drain(consumer));
    await first.close();
    writeFileSync(join(dir, 'groups.json'), '{"g": {"topics": ["t"], "comm');
    const second = await open(dir, 1);
    // The records stay on disk until some group commits them; with the offsets gone, g reads them again.
    await send(second, 5, 6);
    const again = await drain(second.consumer({ group: 'g', topics: ['t'], fromBeginning: true }));
    expect(again.map((r) => r.value.toString())).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
  });

  it('clamps an offset past what the files hold, so the next records are not skipped', async () => {
    const dir = newDir();
    const first = await open(dir, 1);
    first.consumer({ group: 'g', topics: ['t'], fromBeginning: true });
    await send(first, 0, 3);
    await first.close();
    // As after a torn tail was cut: the group had committed records the files no longer hold.
    writeFileSync(
      join(dir, 'groups.json'),
      JSON.stringify({ g: { topics: ['t'], committed: { 't\u00000': 10 } } }),
    );
    const second = await open(dir, 1);
    await send(second, 3, 5);
    const read = await drain(second.consumer({ group: 'g', topics: ['t'], fromBeginning: true }));
    expect(read.map((r) => r.value.toString())).toEqual(['v3', 'v4']);
  });

  it('drops the offsets of a group the pipeline no longer declares, so its records are not held for ever', async () => {
    const dir = newDir();
    const first = await open(dir, 1);
    first.consumer({ group: 'renamed-since', topics: ['t'], fromBeginning: true });
    const kept = first.consumer({ group: 'kept', topics: ['t'], fromBeginning: true });
    await send(first, 0, 4);
    await kept.commit(await drain(kept));
    await first.close();
    // Without the list, the old group still holds the four records; with it, they are released.
    const held = await open(dir, 1, { maxBacklogPerPartition: 4 });
    const blocked = held.producer().send('t', [{ key: 'a', value: Buffer.from('x') }]);
    const state = await Promise.race([blocked.then(() => 'sent'), sleep(300).then(() => 'waiting')]);
    expect(state).toBe('waiting');
    await held.close();
    await blocked.catch(() => undefined);
    const released = await open(dir, 1, { maxBacklogPerPartition: 4, groups: ['kept'] });
    await released.producer().send('t', [{ key: 'a', value: Buffer.from('y') }]);
    const read = await drain(released.consumer({ group: 'kept', topics: ['t'], fromBeginning: true }));
    expect(read.map((r) => r.value.toString())).toEqual(['y']);
    // And forgotten on disk too, not written back at every start.
    await released.close();
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'groups.json'), 'utf8')) as object)).toEqual([
      'kept',
    ]);
  });

  it('never lets a periodic offsets write replace a newer one written meanwhile', async () => {
    const dir = newDir();
    const journal = new Journal(dir, () => {}, { offsetsEveryMs: 0 });
    const group = (committed: number): StoredGroup => ({
      topics: ['t'],
      committed: { 't\u00000': committed },
    });
    journal.keepGroup('a', () => group(1));
    journal.offsetsChanged();
    // The periodic write has taken its snapshot ({a}) and is on the thread pool; a group kept now is written
    // at once, with both.
    await sleep(0);
    const periodic = (journal as unknown as { writingGroups: Promise<void> | null }).writingGroups;
    expect(periodic).not.toBeNull();
    journal.keepGroup('b', () => group(2));
    await periodic;
    const stored = JSON.parse(readFileSync(join(dir, 'groups.json'), 'utf8')) as Record<string, StoredGroup>;
    expect(Object.keys(stored).sort()).toEqual(['a', 'b']);
    await journal.close();
  });
});
