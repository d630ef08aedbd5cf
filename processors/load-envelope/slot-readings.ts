import { SLOT_MS } from '../../core/time.js';
import type { LegReading } from '../../schemas/types.gen.js';
import { packRows, unpackRows } from './packed-readings.js';

/**
 * The readings of one DT slot, stored by column in two typed arrays sorted by (meter, time): 32 bytes a
 * reading instead of a few hundred as JavaScript objects, which is what lets a processor hold a day of
 * revisable slots for a large fleet. Row r is `keyP[2r] = meter × SLOT_MS + offset`, `keyP[2r+1] = p_kw`
 * (Float64: energy stays exact) and `qv[4r..4r+3] = q_kvar, v1, v2, v3` (Float32, NaN for absent; these
 * only feed means and ranges, reported to a precision far below a meter's 0.1 V).
 *
 * Sorted keys make a duplicate (same meter, same time) a binary search away, without a per-reading index.
 *
 * A closed slot is `freeze()`-ed: its columns are packed losslessly into a few bytes a reading
 * (processors/load-envelope/packed-readings.ts) and unpacked again by the first `put` or read after (a late reading).
 */
export type PutResult = 'added' | 'replaced' | 'unchanged';

export class SlotReadings {
  size = 0;
  /** Distinct meters with at least one reading. */
  meters = 0;
  private keyP: Float64Array;
  private qv: Float32Array;
  /** The columns packed, while frozen (the columns are then empty). */
  private packed: Uint8Array | null = null;

  /** `capacity`: the readings expected (a DT's previous slot held about as many as its next will). */
  constructor(capacity = 4) {
    const rows = Math.max(1, Math.floor(capacity));
    this.keyP = new Float64Array(2 * rows);
    this.qv = new Float32Array(4 * rows);
  }

  put(meter: number, offsetMs: number, p: number, q: number | null, legs: LegReading[]): PutResult {
    if (this.packed !== null) this.thaw();
    const key = meter * SLOT_MS + offsetMs;
    let low = 0;
    let high = this.size;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.keyP[2 * mid]! < key) low = mid + 1;
      else high = mid;
    }
    const qf = Math.fround(q ?? Number.NaN);
    // One reused scratch row instead of an array a reading: this runs for every reading.
    const v = scratch;
    v[0] = v[1] = v[2] = Number.NaN;
    // The phases 1 to 3 only: a meter's other legs (0, 4 to 6) have no place in the per-phase voltages.
    for (const leg of legs) if (leg.leg >= 1 && leg.leg <= 3) v[leg.leg - 1] = Math.fround(leg.v);
    if (low < this.size && this.keyP[2 * low] === key) {
      const at = 4 * low;
      const same =
        this.keyP[2 * low + 1] === p &&
        sameFloat(this.qv[at]!, qf) &&
        sameFloat(this.qv[at + 1]!, v[0]!) &&
        sameFloat(this.qv[at + 2]!, v[1]!) &&
        sameFloat(this.qv[at + 3]!, v[2]!);
      if (same) return 'unchanged';
      this.write(low, key, p, qf, v);
      return 'replaced';
    }
    // A new meter unless a neighbour in key order belongs to the same one.
    const before = low > 0 && Math.floor(this.keyP[2 * (low - 1)]! / SLOT_MS) === meter;
    const after = low < this.size && Math.floor(this.keyP[2 * low]! / SLOT_MS) === meter;
    if (!before && !after) this.meters++;
    this.reserve(this.size + 1);
    this.keyP.copyWithin(2 * (low + 1), 2 * low, 2 * this.size);
    this.qv.copyWithin(4 * (low + 1), 4 * low, 4 * this.size);
    this.size++;
    this.write(low, key, p, qf, v);
    return 'added';
  }

  meterOf(row: number): number {
    if (this.packed !== null) this.thaw();
    return Math.floor(this.keyP[2 * row]! / SLOT_MS);
  }

  offsetOf(row: number): number {
    if (this.packed !== null) this.thaw();
    return this.keyP[2 * row]! % SLOT_MS;
  }

  pOf(row: number): number {
    if (this.packed !== null) this.thaw();
    return this.keyP[2 * row + 1]!;
  }

  /** Reactive power of a row, or NaN when the meter did not report it. */
  qOf(row: number): number {
    if (this.packed !== null) this.thaw();
    return this.qv[4 * row]!;
  }

  /** Voltage of leg 1..3 of a row, or NaN when the meter has no such leg. */
  vOf(row: number, leg: number): number {
    if (this.packed !== null) this.thaw();
    return this.qv[4 * row + leg]!;
  }

  /** Whether the rows are held packed. */
  get frozen(): boolean {
    return this.packed !== null;
  }

  /**
   * Packs the rows (a closed slot: it rarely changes again). A store whose rows cannot be packed (a key that
   * is not a whole millisecond) is trimmed to its size instead.
   */
  freeze(): void {
    if (this.packed !== null) return;
    const packed = this.size > 0 ? packRows(this.keyP, this.qv, this.size) : null;
    if (packed === null) return this.trim();
    this.packed = packed;
    this.keyP = EMPTY_KEYS;
    this.qv = EMPTY_VALUES;
  }

  /** Bytes the rows take (packed or as columns), for tests and memory accounting. */
  get bytes(): number {
    return this.packed?.byteLength ?? this.keyP.byteLength + this.qv.byteLength;
  }

  /** Releases spare capacity. */
  trim(): void {
    if (this.packed !== null) return;
    if (this.keyP.length > 2 * this.size) {
      this.keyP = this.keyP.slice(0, 2 * Math.max(1, this.size));
      this.qv = this.qv.slice(0, 4 * Math.max(1, this.size));
    }
  }

  private thaw(): void {
    ({ keyP: this.keyP, qv: this.qv } = unpackRows(this.packed!, this.size));
    this.packed = null;
  }

  private write(row: number, key: number, p: number, q: number, v: Float64Array): void {
    this.keyP[2 * row] = key;
    this.keyP[2 * row + 1] = p;
    this.qv[4 * row] = q;
    this.qv[4 * row + 1] = v[0]!;
    this.qv[4 * row + 2] = v[1]!;
    this.qv[4 * row + 3] = v[2]!;
  }

  private reserve(rows: number): void {
    if (2 * rows <= this.keyP.length) return;
    const capacity = Math.max(rows, Math.ceil((this.keyP.length / 2) * 1.5));
    const keyP = new Float64Array(2 * capacity);
    keyP.set(this.keyP.subarray(0, 2 * this.size));
    const qv = new Float32Array(4 * capacity);
    qv.set(this.qv.subarray(0, 4 * this.size));
    this.keyP = keyP;
    this.qv = qv;
  }
}

const scratch = new Float64Array(3);
const EMPTY_KEYS = new Float64Array(0);
const EMPTY_VALUES = new Float32Array(0);

function sameFloat(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}
