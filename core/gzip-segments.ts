import { constants, crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * Gzip responses assembled from pieces compressed ahead of time, as pigz assembles its parallel blocks: each
 * piece is raw DEFLATE ended by a full flush (byte-aligned, no final block, no back-references into earlier
 * pieces), so any sequence of pieces, followed by an empty final block, is one valid DEFLATE stream; the gzip
 * trailer's CRC-32 of the whole is combined from the pieces' own CRCs. A response of many stored pieces then
 * costs a few copies, not a compression, and every gzip reader accepts it (a single gzip member).
 */
export interface DeflateSegment {
  /** Raw DEFLATE, ended by a full flush. */
  readonly bytes: Buffer;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc: number;
  /** Uncompressed length in bytes. */
  readonly length: number;
}

/** Compresses `data` into a segment (level 1 for pieces made per request, 6 for pieces kept). */
export function deflateSegment(data: Buffer, level = 6): DeflateSegment {
  return {
    bytes: deflateRawSync(data, { level, finishFlush: constants.Z_FULL_FLUSH }),
    crc: crc32(data),
    length: data.length,
  };
}

/** An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);
/** Gzip header: magic, DEFLATE, no flags, no mtime, no extra flags, OS unknown. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

/** One gzip member whose content is the segments' uncompressed bytes in order. */
export function gzipOf(segments: readonly DeflateSegment[]): Buffer {
  let crc = 0;
  let length = 0;
  for (const s of segments) {
    crc = crc32Combine(crc, s.crc, s.length);
    length += s.length;
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  return Buffer.concat([GZIP_HEADER, ...segments.map((s) => s.bytes), FINAL_BLOCK, trailer]);
}

/** The segments' uncompressed bytes in order (for a client that does not accept gzip, or to edit a piece). */
export function inflateSegments(segments: readonly DeflateSegment[]): Buffer {
  const length = segments.reduce((n, s) => n + s.length, 0);
  // One output buffer of the known size (zlib's default 16 KB chunks would be gathered and copied again).
  return inflateRawSync(Buffer.concat([...segments.map((s) => s.bytes), FINAL_BLOCK]), {
    chunkSize: Math.max(64, length),
  });
}

// CRC-32 of a concatenation from the parts' CRCs (zlib's crc32_combine, the x^(8·len) mod P method of zlib
// 1.2.12): multiplication of polynomials over GF(2), reflected, modulo the CRC-32 polynomial.
const POLY = 0xedb88320;

function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod P for k = 0..31. */
const X2N = (() => {
  const table = new Uint32Array(32);
  let p = 0x40000000; // x^1
  table[0] = p;
  for (let n = 1; n < 32; n++) table[n] = p = multModP(p, p);
  return table;
})();

/** x^(n·2^k) mod P. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** CRC-32 of A followed by B, from crc(A), crc(B) and B's length. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0;
  return (multModP(x2nModP(lengthB, 3), crcA >>> 0) ^ crcB) >>> 0;
}
