import { describe, expect, it } from 'vitest';
import { murmur2, partitionFor } from '../../io/log/partitioner.js';

// Apache Kafka, clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2.
const KAFKA_UTILS_TEST: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
];

// librdkafka, src/rdmurmur2.c, unittest_murmur2 (checked there against the Java client). These cover every
// tail length (key length mod 4 = 0, 1, 2, 3) and the empty key, which Kafka's own vectors do not all do.
const LIBRDKAFKA_UNITTEST: [string, number][] = [
  ['kafka', 0xd067cf64],
  ['giberish123456789', 0x8f552b0c],
  ['1234', 0x9fc97b14],
  ['234', 0xe7c009ca],
  ['34', 0x873930da],
  ['4', 0x5a4b5ca1],
  ['PreAmbleWillBeRemoved,ThePrePartThatIs', 0x78424f1c],
  ['reAmbleWillBeRemoved,ThePrePartThatIs', 0x4a62b377],
  ['eAmbleWillBeRemoved,ThePrePartThatIs', 0xe0e4e09e],
  ['AmbleWillBeRemoved,ThePrePartThatIs', 0x62b8b43f],
  ['', 0x106e08d9],
];

const toPositive = (hash: number) => hash & 0x7fffffff;

describe('murmur2', () => {
  it.each(KAFKA_UTILS_TEST)('equals Kafka Utils.murmur2 for %j', (key, expected) => {
    expect(murmur2(Buffer.from(key, 'utf8'))).toBe(expected);
  });

  it('equals Kafka Utils.murmur2 for the bytes {a, b, c}', () => {
    expect(murmur2(Buffer.from([0x61, 0x62, 0x63]))).toBe(479470107);
  });

  it.each(LIBRDKAFKA_UNITTEST)('equals librdkafka rd_murmur2 for %j', (key, expectedUnsigned) => {
    // librdkafka's table is unsigned 32-bit; murmur2 returns Java's signed int.
    expect(murmur2(Buffer.from(key, 'utf8'))).toBe(expectedUnsigned | 0);
  });

  it('returns a signed 32-bit integer, also for bytes above 0x7f', () => {
    for (const key of ['dt-é', '変圧器-7', '\u{1f50c}', 'x'.repeat(1000)]) {
      const hash = murmur2(Buffer.from(key, 'utf8'));
      expect(Number.isInteger(hash)).toBe(true);
      expect(hash).toBe(hash | 0);
    }
    // Bytes >= 0x80 must be read as unsigned, as Java's `& 0xff` does: a different high byte gives a
    // different hash, and the same bytes always the same one.
    expect(murmur2(Buffer.from([0xff, 0x80, 0x01]))).not.toBe(murmur2(Buffer.from([0x7f, 0x80, 0x01])));
    expect(murmur2(Buffer.from([0xff, 0x80, 0x01]))).toBe(murmur2(Buffer.from([0xff, 0x80, 0x01])));
  });
});

describe('partitionFor', () => {
  it("is Kafka's default partitioner: (murmur2(utf-8 key) & 0x7fffffff) % partitions", () => {
    // ASCII keys are hashed from their characters, others (and long ones) from their UTF-8 bytes.
    const keys = [
      'dt-0001',
      'DT/FEEDER-12/0007',
      'mtr-é-42',
      '',
      '21',
      'foobar',
      'k'.repeat(300),
      'dt-\u{1F600}',
    ];
    for (const partitions of [1, 2, 3, 8, 12, 100]) {
      for (const key of keys) {
        expect(partitionFor(key, partitions)).toBe(
          toPositive(murmur2(Buffer.from(key, 'utf8'))) % partitions,
        );
      }
    }
  });

  it("places Kafka's test keys where the Java client would", () => {
    // Straight from the Java vectors: toPositive(murmur2) % n.
    expect(partitionFor('21', 8)).toBe(toPositive(-973932308) % 8);
    expect(partitionFor('foobar', 8)).toBe(toPositive(-790332482) % 8);
    expect(partitionFor('a-little-bit-long-string', 12)).toBe(toPositive(-985981536) % 12);
    expect(partitionFor('abc', 5)).toBe(toPositive(479470107) % 5);
  });

  it('is stable: the same key always gives the same partition, within range', () => {
    for (let i = 0; i < 500; i++) {
      const key = `dt-${i}`;
      const first = partitionFor(key, 8);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(first).toBeLessThan(8);
      expect(partitionFor(`dt-${i}`, 8)).toBe(first);
      expect(partitionFor(key.slice(0), 8)).toBe(first);
    }
  });

  it('spreads 10,000 keys over 8 partitions within 10% of even', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 10_000; i++) counts[partitionFor(`dt-${String(i).padStart(5, '0')}`, 8)]!++;
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10_000);
    for (const count of counts) {
      expect(count).toBeGreaterThan(1250 * 0.9);
      expect(count).toBeLessThan(1250 * 1.1);
    }
  });
});
