import type { LegReading, MeterReading, MeterReadings } from '../schemas/types.gen.js';

/**
 * A MeterReadings body (schemas/meter-readings.avsc, the current version, after the wire-format header) decoded
 * by hand: the readings task's hot path (pipelines/readings-task.ts), tens of thousands of records a second.
 * It gives what avsc's Type.fromBuffer gives (the same fields, in schema order, as plain objects), but an
 * upload's readings are all of one meter (so of one DT): a meter or DT id whose bytes are the previous
 * reading's is that reading's string again, not a new one (fewer strings to decode and collect, and the same
 * string instance each time, whose hash the stages' Map look-ups keep). Undefined for anything it does not
 * decode exactly as avsc does (truncated or trailing bytes, a union index or a long out of range): the caller
 * then leaves the record to avsc, for its value or its error.
 */
export function decodeMeterReadingsBody(buffer: Buffer, start: number): MeterReadings | undefined {
  buf = buffer;
  view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  pos = start;
  let readings: MeterReading[] | undefined;
  try {
    readings = readReadings();
  } catch {
    readings = undefined;
  }
  const ok = readings !== undefined && pos === buffer.length;
  buf = EMPTY;
  view = EMPTY_VIEW;
  return ok ? { readings: readings! } : undefined;
}

const EMPTY = Buffer.alloc(0);
let buf: Buffer = EMPTY;
/** The buffer's bytes as a DataView: its float reads compile to loads (Buffer.readDoubleLE copies bytes). */
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));
let view: DataView = EMPTY_VIEW;
let pos = 0;
/** Set when a value is not one avsc would give: the record is left to avsc. */
class NotExact extends Error {}
const notExact = new NotExact();

function readReadings(): MeterReading[] {
  const readings: MeterReading[] = [];
  // The previous reading's ids: their bytes' place in this buffer, and their strings.
  let meterAt = -1;
  let meterLength = -1;
  let meter = '';
  let dtAt = -1;
  let dtLength = -1;
  let dt = '';
  for (let n = blockCount(); n !== 0; n = blockCount())
    for (let k = 0; k < n; k++) {
      let length = stringLength();
      if (length !== meterLength || !sameBytes(meterAt, pos, length)) {
        meter = buf.toString('utf8', pos, pos + length);
        meterLength = length;
      }
      meterAt = pos;
      pos += length;
      length = stringLength();
      if (length !== dtLength || !sameBytes(dtAt, pos, length)) {
        dt = buf.toString('utf8', pos, pos + length);
        dtLength = length;
      }
      dtAt = pos;
      pos += length;
      const ts = safeLong();
      const pKw = double();
      const qKvar = nullableDouble();
      const legs: LegReading[] = [];
      for (let m = blockCount(); m !== 0; m = blockCount())
        for (let j = 0; j < m; j++) legs.push({ leg: readLong(), v: double(), i: double() });
      const eImp = nullableDouble();
      const eExp = nullableDouble();
      readings.push({
        meter_id: meter,
        dt_id: dt,
        ts,
        p_kw: pKw,
        q_kvar: qKvar,
        legs,
        e_imp_kwh: eImp,
        e_exp_kwh: eExp,
        received_at: safeLong(),
      });
    }
  return readings;
}

function sameBytes(a: number, b: number, length: number): boolean {
  if (a < 0 || b + length > buf.length) return false;
  for (let k = 0; k < length; k++) if (buf[a + k] !== buf[b + k]) return false;
  return true;
}

/** avsc's Tap.readLong: a zig-zag varint, in 32-bit arithmetic up to 28 bits and in doubles beyond. */
function readLong(): number {
  let n = 0;
  let k = 0;
  let b: number;
  let h: number;
  do {
    b = buf[pos++]!;
    h = b & 0x80;
    n |= (b & 0x7f) << k;
    k += 7;
  } while (h && k < 28);
  if (h) {
    let f = n;
    let fk = 268435456;
    do {
      b = buf[pos++]!;
      f += (b & 0x7f) * fk;
      fk *= 128;
    } while (b & 0x80);
    return (f % 2 ? -(f + 1) : f) / 2;
  }
  return (n >> 1) ^ -(n & 1);
}

/** A long field (avsc refuses one beyond ±(2^53 - 2): "potential precision loss"). */
function safeLong(): number {
  const n = readLong();
  if (!(n >= -9007199254740990 && n <= 9007199254740990)) throw notExact;
  return n;
}

/** An array block's item count (a negative count is followed by the block's size in bytes, skipped). */
function blockCount(): number {
  const n = readLong();
  if (n >= 0) return n;
  readLong();
  return -n;
}

function stringLength(): number {
  const length = readLong();
  if (length < 0 || pos + length > buf.length) throw notExact;
  return length;
}

function double(): number {
  if (pos + 8 > buf.length) throw notExact;
  const value = view.getFloat64(pos, true);
  pos += 8;
  return value;
}

/** ["null", "double"]. */
function nullableDouble(): number | null {
  const index = readLong();
  if (index === 0) return null;
  if (index === 1) return double();
  throw notExact;
}
