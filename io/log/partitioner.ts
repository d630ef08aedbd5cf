/**
 * Kafka's default partitioner for keyed records: murmur2 of the key bytes, made positive, modulo the number
 * of partitions. Using the same function as Kafka's Java clients (and librdkafka's `murmur2_random`) keeps a
 * DT on the same partition whichever client produced its records.
 */
export function murmur2(data: Uint8Array, length = data.length): number {
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  let h = seed ^ length;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k =
      (data[i4]! & 0xff) +
      ((data[i4 + 1]! & 0xff) << 8) +
      ((data[i4 + 2]! & 0xff) << 16) +
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length & 3;
  const base = length & ~3;
  if (rest === 3) h ^= (data[base + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[base + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[base]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** An ASCII key's bytes: every record sent and every stage input is partitioned, mostly by short ids. */
const scratch = new Uint8Array(256);

export function partitionFor(key: string, partitions: number): number {
  const n = key.length;
  if (n <= scratch.length) {
    let k = 0;
    while (k < n) {
      const c = key.charCodeAt(k);
      if (c >= 0x80) break;
      scratch[k++] = c;
    }
    if (k === n) return (murmur2(scratch, n) & 0x7fffffff) % partitions;
  }
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}
