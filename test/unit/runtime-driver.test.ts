import { afterEach, describe, expect, it } from 'vitest';
import { decode, encode } from '../../core/codec.js';
import { createMetrics } from '../../core/metrics.js';
import { TopologyIndex } from '../../core/topology.js';
import { partitionFor } from '../../io/log/partitioner.js';
import { envelopeStage } from '../../pipelines/load-envelope-stage.js';
import { KeyedStage } from '../../pipelines/keyed-stage.js';
import { decodeReadings } from '../../pipelines/readings-task.js';
import type { TopologyTable } from '../../pipelines/topology-table.js';
import { TOPICS } from '../../pipelines/log-topics.js';
import type { DtEnvelope, MeterReading } from '../../schemas/types.gen.js';
import {
  counter,
  TestDriver,
  type Count,
  type CountInput,
  type DriverTaskOptions,
  type Total,
} from '../support/driver.js';
import { transformer } from '../support/topology.js';

const IN = 'counts.in';
const OUT = 'counts.out';
const PARTITIONS = 4;
const GROUP = 'counter';
/** The count the counter throws on (a processor bug one record triggers). */
const POISON = 13;
const TICK_MS = 60_000;

/** The counter on a stage task of group GROUP; its outputs name the member that sent them. */
function counterTask(member: string): DriverTaskOptions<Count> {
  const stage = new KeyedStage<ReadonlyMap<string, number>, CountInput, Total, Count>({
    processor: counter(POISON),
    partitions: PARTITIONS,
    toInput: (count) => count,
    punctuation: { input: { tick: true }, everyMs: TICK_MS },
    route: (totals) =>
      new Map([
        [OUT, totals.map((t) => ({ key: t.key, value: Buffer.from(JSON.stringify({ ...t, by: member })) }))],
      ]),
    replayLookbackMs: 3_600_000,
  });
  return {
    group: GROUP,
    inputTopic: IN,
    decode: (record) => [JSON.parse(record.value.toString()) as Count],
    stages: [stage],
    maxBatch: 7,
  };
}

const KEYS = ['k-a', 'k-b', 'k-c', 'k-d', 'k-e', 'k-f', 'k-g', 'k-h'];
/** Counts number `from` to `to` (exclusive): keys in turn, n = 1..9 (never POISON). */
const counts = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => {
    const i = from + k;
    return { key: KEYS[i % KEYS.length]!, value: { key: KEYS[i % KEYS.length]!, n: (i % 9) + 1 } };
  });
const sumsOf = (records: ReturnType<typeof counts>) => {
  const sums = new Map<string, number>();
  for (const { value } of records)
    if (value.n !== POISON) sums.set(value.key, (sums.get(value.key) ?? 0) + value.n);
  return sums;
};
/** Member b of two owns the odd partitions (the in-process log deals them round robin). */
const ownerOf = (key: string) => (partitionFor(key, PARTITIONS) % 2 === 0 ? 'a' : 'b');
/** The punctuation's totals, by key. */
const ticksOf = (totals: Total[]) => new Map(totals.filter((t) => t.tick).map((t) => [t.key, t.total]));
/** The distinct running totals sent on input, by key. */
const distinctTotals = (totals: Total[]) => {
  const out: Record<string, number[]> = {};
  for (const t of totals) if (!t.tick) (out[t.key] ??= []).push(t.total);
  for (const key of Object.keys(out)) out[key] = [...new Set(out[key])].sort((x, y) => x - y);
  return out;
};

/** Drivers a test started: closed after it even if it failed half way (close() twice is harmless). */
const drivers: TestDriver[] = [];
const driverOf = async (topics: Array<{ name: string; partitions: number }>) => {
  const driver = await TestDriver.create({ topics });
  drivers.push(driver);
  return driver;
};
const newDriver = (partitions = PARTITIONS) =>
  driverOf([
    { name: IN, partitions },
    { name: OUT, partitions },
  ]);

describe('stage tasks on the test driver (test/support/driver.ts)', () => {
  afterEach(async () => {
    for (const driver of drivers.splice(0)) await driver.close();
  });

  it('commits a batch only once the log has accepted the outputs it caused', async () => {
    const driver = await newDriver(1);
    const a = driver.start('a', counterTask('a'));
    await driver.settle();
    const hold = driver.hold(OUT);
    await driver.send(IN, counts(0, 20));
    await driver.until(() => hold.held() > 0, 'an output held');
    // The task goes on polling (its later batches' outputs are held too); nothing is committed meanwhile.
    await driver.polls(a, 5);
    expect(await driver.committed(GROUP, IN)).toEqual([0]);
    expect(driver.read(OUT)).toHaveLength(0);
    hold.release();
    await driver.settle();
    expect(await driver.committed(GROUP, IN)).toEqual([20]);
    expect(driver.read(OUT)).toHaveLength(20);
    await driver.close();
  });

  it('stops a task whose sink gave up as one that cannot go on, committing nothing past it', async () => {
    const driver = await newDriver(1);
    // A sink whose writes failed for good (e.g. an insert the warehouse refuses after its retries).
    const gaveUp = new Error('the warehouse refused the batch');
    driver.start('a', {
      ...counterTask('a'),
      sink: {
        add: () => undefined,
        submit: async () => undefined,
        written: () => Promise.reject(gaveUp),
        close: async () => undefined,
      },
    });
    await driver.send(IN, counts(0, 5));
    await driver.until(() => driver.fatal.length > 0, 'the task to report it cannot go on');
    expect(driver.fatal).toEqual([gaveUp]);
    expect(await driver.committed(GROUP, IN)).toEqual([0]);
    driver.fatal.length = 0;
    await driver.close().catch(() => undefined);
  });

  it('rebuilds a partition moved to another member by replay, its outputs those of an uninterrupted run', async () => {
    const run = async (rebalance: boolean) => {
      const driver = await newDriver();
      driver.start('a', counterTask('a'));
      await driver.pipe(IN, counts(0, 60));
      // Member b joins: it takes the odd partitions, whose state a built, and rebuilds it from the log.
      if (rebalance) driver.start('b', counterTask('b'));
      await driver.pipe(IN, counts(60, 120));
      await driver.advance(TICK_MS);
      const out = driver.values<Total>(OUT);
      expect(await driver.committed(GROUP, IN)).toEqual(driver.ends(IN));
      await driver.close();
      return out;
    };
    const uninterrupted = await run(false);
    const moved = await run(true);
    // The punctuation's totals: the state b rebuilt by replay is the state a would have had.
    expect(ticksOf(moved)).toEqual(ticksOf(uninterrupted));
    expect(ticksOf(uninterrupted)).toEqual(sumsOf(counts(0, 120)));
    expect(moved.filter((t) => t.tick).every((t) => t.by === ownerOf(t.key))).toBe(true);
    expect(moved.some((t) => t.by === 'b' && !t.tick)).toBe(true);
    // What a rebuild emits is sent again (pipelines/keyed-stage.ts keeps it): the same values, and no others.
    expect(distinctTotals(moved)).toEqual(distinctTotals(uninterrupted));
  });

  it('replays a moved partition only up to the committed offset: what a read but did not commit is read again once', async () => {
    const driver = await newDriver();
    const a = driver.start('a', counterTask('a'));
    await driver.pipe(IN, counts(0, 40));
    // a reads the next counts, but their outputs are held, so their offsets stay uncommitted.
    const hold = driver.hold(OUT);
    await driver.send(IN, counts(40, 80));
    await driver.until(() => hold.held() > 0, 'an output held');
    await driver.polls(a, 3);
    const committed = await driver.committed(GROUP, IN);
    expect(committed).not.toEqual(driver.ends(IN));
    // b takes the odd partitions: it replays them to the committed offset, then reads on from there.
    driver.start('b', counterTask('b'));
    hold.release();
    await driver.settle();
    const from = driver.ends(OUT);
    await driver.advance(TICK_MS);
    const ticks = driver.values<Total>(OUT, from);
    expect(ticks.every((t) => t.tick && t.by === ownerOf(t.key))).toBe(true);
    expect(ticksOf(ticks)).toEqual(sumsOf(counts(0, 80)));
    await driver.close();
  });

  it('drops the state of a revoked partition, and rebuilds it whole when the partition comes back', async () => {
    const driver = await newDriver();
    driver.start('a', counterTask('a'));
    await driver.pipe(IN, counts(0, 40));
    const b = driver.start('b', counterTask('b'));
    await driver.settle();
    const before = driver.ends(OUT);
    await driver.advance(TICK_MS);
    // Each member punctuates only the partitions it holds: a kept nothing of the partitions it gave b.
    const ticks = driver.values<Total>(OUT, before);
    expect(ticks.every((t) => t.tick && t.by === ownerOf(t.key))).toBe(true);
    expect(ticksOf(ticks)).toEqual(sumsOf(counts(0, 40)));

    // b leaves (its stop punctuates and commits): a takes the odd partitions back, rebuilt from the log.
    await b.stop();
    await driver.pipe(IN, counts(40, 80));
    const back = driver.ends(OUT);
    await driver.advance(TICK_MS);
    const last = driver.values<Total>(OUT, back).filter((t) => t.tick);
    expect(last.every((t) => t.by === 'a')).toBe(true);
    expect(ticksOf(last)).toEqual(sumsOf(counts(0, 80)));
    await driver.close();
  });

  it('dead-letters a poison record once: the partition rebuilt elsewhere leaves it out and is exact', async () => {
    const driver = await newDriver();
    driver.start('a', counterTask('a'));
    // The poison count is on a key of an odd partition: the one that moves to b.
    const key = KEYS.find((k) => ownerOf(k) === 'b')!;
    const input = [...counts(0, 30), { key, value: { key, n: POISON } }, ...counts(30, 60)];
    await driver.pipe(IN, input);
    const [letter, ...more] = driver.read(TOPICS.deadLetters.name).map((r) => decode('DeadLetter', r.value));
    expect(more).toEqual([]);
    const source = driver.read(IN).find((r) => r.value.toString().includes(`"n":${POISON}`))!;
    expect(letter).toMatchObject({
      source_topic: IN,
      source_partition: source.partition,
      source_offset: source.offset,
      reason: `counter: cannot count ${POISON}`,
    });

    driver.start('b', counterTask('b'));
    await driver.pipe(IN, counts(60, 90));
    await driver.advance(TICK_MS);
    expect(driver.read(TOPICS.deadLetters.name)).toHaveLength(1);
    expect(ticksOf(driver.values<Total>(OUT))).toEqual(sumsOf(counts(0, 90)));
    expect(await driver.committed(GROUP, IN)).toEqual(driver.ends(IN));
    await driver.close();
  });

  it('runs the envelope stage: a partition moved in mid-slot gives the envelopes of an uninterrupted run', async () => {
    const T = Date.UTC(2026, 6, 1, 10);
    // Two DTs, one in each partition of two.
    const dts = ['dt-1', 'dt-2', 'dt-3', 'dt-4', 'dt-5'];
    const [even, odd] = [0, 1].map((p) => dts.find((dt) => partitionFor(dt, 2) === p)!);
    const topology = new TopologyIndex();
    topology.apply(
      [even!, odd!].map((dt_id) => ({ ...transformer(dt_id), topology_version: 1 })),
      [],
    );
    const table = { index: topology, onChange: () => undefined } as unknown as TopologyTable;
    const reading = (dt: string, meter: number, minute: number): MeterReading => ({
      meter_id: `${dt}-m${meter}`,
      dt_id: dt,
      ts: T + minute * 60_000,
      p_kw: meter + minute / 10,
      q_kvar: null,
      legs: [{ leg: 1, v: 230 + meter, i: 4 }],
      e_imp_kwh: null,
      e_exp_kwh: null,
      received_at: T + minute * 60_000 + 500,
    });
    const readings = (from: number, to: number) =>
      [even!, odd!].flatMap((dt) =>
        Array.from({ length: to - from }, (_, k) =>
          [1, 2].map((m) => ({ key: dt, value: encode('MeterReading', reading(dt, m, from + k)) })),
        ).flat(),
      );
    const task = (): DriverTaskOptions<MeterReading> => ({
      group: 'envelopes',
      inputTopic: TOPICS.readings.name,
      decode: (record) => decodeReadings(record.value),
      stages: [
        envelopeStage({
          partitions: 2,
          config: { allowedLatenessMs: 60_000, revisionHorizonMs: 3_600_000 },
          metrics: createMetrics(),
          topology: table,
        }).stage,
      ],
    });
    const run = async (rebalance: boolean) => {
      const driver = await driverOf([
        { name: TOPICS.readings.name, partitions: 2 },
        { name: TOPICS.envelopes.name, partitions: 2 },
      ]);
      driver.start('a', task());
      await driver.pipe(TOPICS.readings.name, readings(0, 8));
      if (rebalance) driver.start('b', task());
      // The rest of the slot, and two minutes of the next: past the lateness, the first slot is final.
      await driver.pipe(TOPICS.readings.name, readings(8, 17));
      await driver.advance(1_000);
      const envelopes = driver.read(TOPICS.envelopes.name).map((r) => decode('DtEnvelope', r.value));
      await driver.close();
      return envelopes;
    };
    const uninterrupted = await run(false);
    const moved = await run(true);
    const byDt = (envelopes: DtEnvelope[]) => [...envelopes].sort((x, y) => x.dt_id.localeCompare(y.dt_id));
    expect(byDt(moved)).toEqual(byDt(uninterrupted));
    const final = uninterrupted.filter((e) => e.is_final);
    expect(final.map((e) => [e.dt_id, e.slot_start, e.readings]).sort()).toEqual([
      [even, T, 30],
      [odd, T, 30],
    ]);
  });

  it('runs the envelope stage with released slots: a reading hours late revises its slot from the sink’s readings', async () => {
    const T = Date.UTC(2026, 6, 1, 10);
    const dt = 'dt-1';
    const topology = new TopologyIndex();
    topology.apply([{ ...transformer(dt), topology_version: 1 }], []);
    const table = { index: topology, onChange: () => undefined } as unknown as TopologyTable;
    const reading = (meter: number, minute: number, received = minute): MeterReading => ({
      meter_id: `m${meter}`,
      dt_id: dt,
      ts: T + minute * 60_000,
      p_kw: meter + Math.round(100 * Math.sin(minute)) / 100,
      q_kvar: meter / 10,
      legs: [{ leg: 1, v: 230 + meter / 10, i: 4 }],
      e_imp_kwh: null,
      e_exp_kwh: null,
      received_at: T + received * 60_000 + 500,
    });
    const records = (readings: MeterReading[]) =>
      readings.map((r) => ({ key: dt, value: encode('MeterReading', r) }));
    const onTime = Array.from({ length: 180 }, (_, minute) => [
      reading(1, minute),
      reading(2, minute),
    ]).flat();
    // Three hours on, a third meter's upload of the first quarter hour.
    const late = Array.from({ length: 15 }, (_, minute) => reading(3, minute, 185));
    const run = async (released: boolean) => {
      const driver = await driverOf([
        { name: TOPICS.readings.name, partitions: 1 },
        { name: TOPICS.envelopes.name, partitions: 1 },
      ]);
      // The readings table: a reading is stored once written() after its batch was added.
      const added: MeterReading[] = [];
      const stored: MeterReading[] = [];
      const loads: number[] = [];
      driver.start('a', {
        group: 'envelopes',
        inputTopic: TOPICS.readings.name,
        decode: (record) => decodeReadings(record.value),
        maxBatch: 50,
        sink: {
          add: (_record, values) => void added.push(...(values ?? [])),
          submit: async () => undefined,
          written: async () => void stored.push(...added.splice(0)),
          close: async () => undefined,
        },
        stages: [
          envelopeStage({
            partitions: 1,
            config: { allowedLatenessMs: 60_000, revisionHorizonMs: 24 * 3_600_000, residentMs: 1_800_000 },
            metrics: createMetrics(),
            topology: table,
            slotReadings: released
              ? async (dts, from, to) => {
                  loads.push(from);
                  return stored.filter((r) => dts.includes(r.dt_id) && r.ts >= from && r.ts < to);
                }
              : undefined,
          }).stage,
        ],
      });
      await driver.pipe(TOPICS.readings.name, records(onTime));
      await driver.pipe(TOPICS.readings.name, records(late));
      await driver.advance(1_000);
      const envelopes = driver.read(TOPICS.envelopes.name).map((r) => decode('DtEnvelope', r.value));
      await driver.close();
      const newest = new Map<number, DtEnvelope>();
      for (const e of envelopes)
        if ((newest.get(e.slot_start)?.version ?? -1) < e.version) newest.set(e.slot_start, e);
      return { newest, loads };
    };
    const inMemory = await run(false);
    const loaded = await run(true);
    expect(inMemory.loads).toEqual([]);
    expect(loaded.loads).toEqual([T]);
    expect(loaded.newest).toEqual(inMemory.newest);
    expect(loaded.newest.get(T)).toMatchObject({ is_final: true, meters_reporting: 3, readings: 45 });
  });
});
