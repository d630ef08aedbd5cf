import { schemaId } from './codec.js';

/**
 * A MeterReadings record (schemas/meter-readings.avsc) in the Confluent wire format, written field by field
 * without an object a reading: the MQTT bridge's hot path (ingest/telemetry-upload.ts), which parses an upload
 * straight into it. The bytes are those avsc's encode('MeterReadings', …) writes for the same values (one
 * array block, longs as avsc writes them), which test/unit/telemetry-upload.test.ts checks on many uploads.
 * One upload at a time: begin, a reading after another, finish.
 */

/** Where the readings start: room before them for the header (5 bytes) and the block count (up to 2 bytes). */
const ITEMS_AT = 7;
/** Readings in one record at most: its block count then fits in two bytes (zig-zag 8191). */
export const MAX_ENCODED_READINGS = 4095;
/** A reading's bytes beyond its two ids, at most: longs 10, doubles 8, unions 1, seven legs of 1 + 10 + 16. */
const READING_BYTES = 10 + 8 + 9 + 10 + 7 * 27 + 1 + 9 + 9 + 10;

let scratch = Buffer.allocUnsafe(64 * 1024);
let view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
let pos = ITEMS_AT;
let count = 0;
let meter = '';
let dt = '';
/** Where the first reading's meter and DT id bytes are: later readings copy them from there. */
let meterAt = 0;
let dtAt = 0;
const MAGIC_AND_ID = Buffer.alloc(5);
MAGIC_AND_ID.writeUInt32BE(schemaId('MeterReadings'), 1);

/** Starts a record of one meter's readings; false when an id is not plain ASCII (left to avsc). */
export function beginMeterReadings(meterId: string, dtId: string): boolean {
  if (!isAscii(meterId) || !isAscii(dtId)) return false;
  meter = meterId;
  dt = dtId;
  pos = ITEMS_AT;
  count = 0;
  return true;
}

/**
 * Appends a reading; `legs` holds leg, v, i for each of `legCount` legs. NaN stands for null in the optional
 * fields (its parsed JSON has no NaN; number | null would box every double).
 */
export function writeMeterReading(
  ts: number,
  pKw: number,
  qKvar: number,
  legs: Float64Array,
  legCount: number,
  eImpKwh: number,
  eExpKwh: number,
  receivedAt: number,
): void {
  reserve(2 * 10 + meter.length + dt.length + READING_BYTES);
  if (count === 0) {
    meterAt = writeAscii(meter);
    dtAt = writeAscii(dt);
  } else {
    copyId(meterAt, meter.length);
    copyId(dtAt, dt.length);
  }
  writeLong(ts);
  writeDouble(pKw);
  writeNullableDouble(qKvar);
  if (legCount > 0) {
    writeLong(legCount);
    for (let k = 0; k < 3 * legCount; k += 3) {
      writeLong(legs[k]!);
      writeDouble(legs[k + 1]!);
      writeDouble(legs[k + 2]!);
    }
  }
  writeLong(0);
  writeNullableDouble(eImpKwh);
  writeNullableDouble(eExpKwh);
  writeLong(receivedAt);
  count++;
}

/** The record: a buffer of its own. */
export function finishMeterReadings(): Buffer {
  const end = pos;
  if (count > MAX_ENCODED_READINGS)
    throw new Error(`${count} readings exceed one record's ${MAX_ENCODED_READINGS}`);
  // The block count goes right before the readings (and the header before it); an empty array is the end
  // marker alone.
  const countBytes = count === 0 ? 0 : count < 64 ? 1 : 2;
  let start = ITEMS_AT - countBytes;
  if (countBytes) {
    pos = start;
    writeLong(count);
  }
  pos = end;
  writeLong(0);
  start -= 5;
  MAGIC_AND_ID.copy(scratch, start);
  const out = Buffer.allocUnsafe(pos - start);
  scratch.copy(out, 0, start, pos);
  return out;
}

function isAscii(s: string): boolean {
  for (let k = 0; k < s.length; k++) if (s.charCodeAt(k) > 0x7f) return false;
  return true;
}

function reserve(bytes: number): void {
  if (pos + bytes <= scratch.length) return;
  const grown = Buffer.allocUnsafe(Math.max(2 * scratch.length, pos + bytes));
  scratch.copy(grown, 0, 0, pos);
  scratch = grown;
  view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
}

/** An ASCII string (length, bytes); where its bytes start. */
function writeAscii(s: string): number {
  writeLong(s.length);
  const at = pos;
  for (let k = 0; k < s.length; k++) scratch[pos++] = s.charCodeAt(k);
  return at;
}

/** The id written at `at` again, with its length. */
function copyId(at: number, length: number): void {
  writeLong(length);
  for (let k = 0; k < length; k++) scratch[pos++] = scratch[at + k]!;
}

/** avsc's Tap.writeLong, to the byte: zig-zag in 32-bit arithmetic below 2^30, in doubles beyond. */
function writeLong(n: number): void {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    for (;;) {
      const low = m & 0x7f;
      m >>= 7;
      scratch[pos++] = m ? low | 0x80 : low;
      if (!m) return;
    }
  }
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  for (;;) {
    const low = f & 0x7f;
    f /= 128;
    scratch[pos++] = f >= 1 ? low | 0x80 : low;
    if (!(f >= 1)) return;
  }
}

function writeDouble(d: number): void {
  view.setFloat64(pos, d, true);
  pos += 8;
}

/** ["null", "double"]: the branch index, then the double; NaN is null. */
function writeNullableDouble(d: number): void {
  if (d !== d) scratch[pos++] = 0;
  else {
    scratch[pos++] = 2;
    writeDouble(d);
  }
}
