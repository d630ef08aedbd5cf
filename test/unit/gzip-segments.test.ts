import { crc32, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Combine, deflateSegment, gzipOf, inflateSegments } from '../../core/gzip-segments.js';

const text = (n: number, seed: number) =>
  Buffer.from(
    Array.from({ length: n }, (_, i) => `{"slot":${i},"kw":${Math.sin(seed + i) * 1e3}}`).join(','),
  );

describe('gzip assembled from DEFLATE segments', () => {
  it('combines CRC-32s as the CRC of the concatenation', () => {
    for (const [a, b] of [
      [0, 0],
      [0, 17],
      [1, 1],
      [1_000, 65_537],
      [70_000, 3],
    ] as const) {
      const left = text(a, 1).subarray(0, a);
      const right = text(b, 2).subarray(0, b);
      expect(crc32Combine(crc32(left), crc32(right), right.length)).toBe(crc32(Buffer.concat([left, right])));
    }
  });

  it('gunzips (node:zlib, one member) to the segments in order, whatever subset and order is picked', () => {
    const pieces = [text(96, 1), text(3, 2), Buffer.alloc(0), text(500, 3), text(1, 4)];
    const segments = pieces.map((p, i) => deflateSegment(p, i % 2 === 0 ? 6 : 1));
    for (const order of [[0, 1, 2, 3, 4], [3, 0], [4, 4, 1], [2], []]) {
      const gzip = gzipOf(order.map((i) => segments[i]!));
      const expected = Buffer.concat(order.map((i) => pieces[i]!));
      expect(gunzipSync(gzip).equals(expected)).toBe(true);
      expect(inflateSegments(order.map((i) => segments[i]!)).equals(expected)).toBe(true);
    }
  });

  it('gives a segment its bytes back', () => {
    const piece = text(200, 7);
    expect(inflateSegments([deflateSegment(piece)]).equals(piece)).toBe(true);
  });
});
