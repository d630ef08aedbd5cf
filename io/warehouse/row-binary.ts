import { avroType, type SchemaName } from '../../core/schemas.js';
import { dateTime64 } from './date-time.js';

/** A writer's first buffer, and the largest it keeps between batches (see take()). */
const INITIAL_BYTES = 1 << 16;
const RETAINED_BYTES = 4 << 20;

/**
 * ClickHouse's RowBinary input format, written straight into one growing Buffer. For a table on the hot path
 * (the readings, one row per meter reading) it spares both sides the text: no number is formatted here and
 * none is parsed by the server (on Debian's 18.16, 500,000 readings cost the server 0.8 s of CPU as RowBinary,
 * 1.5 s as JSONEachRow), and no string per row is left for the garbage collector.
 *
 * The layout follows the column's ClickHouse type exactly (RowBinary has no names or type tags), so an
 * encoder is built from the table's own column types (`DESCRIBE TABLE`) and refuses a type it does not know.
 */
export class RowBinaryBuffer {
  private buf = Buffer.allocUnsafe(INITIAL_BYTES);
  private at = 0;

  get length(): number {
    return this.at;
  }

  /** Drops what was written after the first `length` bytes (a row that failed half way). */
  truncate(length: number): void {
    if (length < 0 || length > this.at) throw new RangeError(`cannot truncate ${this.at} bytes to ${length}`);
    this.at = length;
  }

  /**
   * The bytes written so far, as a Buffer of their own; the writer starts empty again. A writer that grew
   * past RETAINED_BYTES for a large batch hands its buffer over and starts small again, rather than holding
   * the largest batch it ever wrote between batches: a busy writer (the readings, 2–3 MiB a batch) keeps
   * reusing its buffer, a rare large batch (a slot close's operating envelopes, ~8 MiB) does not pin its size.
   */
  take(): Buffer {
    if (this.buf.length > RETAINED_BYTES) {
      const out = this.buf.subarray(0, this.at);
      this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
      this.at = 0;
      return out;
    }
    const out = Buffer.allocUnsafe(this.at);
    this.buf.copy(out, 0, 0, this.at);
    this.at = 0;
    return out;
  }

  uint8(n: number): void {
    this.room(1);
    this.buf[this.at++] = n;
  }

  float64(n: number): void {
    this.room(8);
    this.at = this.buf.writeDoubleLE(n, this.at);
  }

  float32(n: number): void {
    this.room(4);
    this.at = this.buf.writeFloatLE(n, this.at);
  }

  /** An integer of `bytes` bytes (1, 2, 4 or 8), little-endian; 8 covers the doubles' exact range, ±2⁵³. */
  integer(n: number, bytes: 1 | 2 | 4 | 8, signed: boolean): void {
    if (!Number.isSafeInteger(n)) throw new RangeError(`not an integer: ${n}`);
    this.room(bytes);
    if (bytes === 8) {
      // ToUint32 is the value modulo 2³², exact for any safe integer; the high word carries the sign.
      this.at = this.buf.writeUInt32LE(n >>> 0, this.at);
      this.at = this.buf.writeInt32LE(Math.floor(n / 2 ** 32), this.at);
    } else if (signed) this.at = this.buf.writeIntLE(n, this.at, bytes);
    else this.at = this.buf.writeUIntLE(n, this.at, bytes);
  }

  /** LEB128, as RowBinary prefixes strings and arrays with their length. */
  varUInt(n: number): void {
    this.room(10);
    while (n >= 0x80) {
      this.buf[this.at++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.at++] = n;
  }

  string(s: string): void {
    // Up to 42 UTF-16 units are at most 126 UTF-8 bytes, whose length is one byte: written after the text,
    // in one pass (ids and time texts, the common case), rather than measured first.
    const n = s.length;
    if (n <= 42) {
      this.room(1 + 3 * n);
      const buf = this.buf;
      const at = this.at + 1;
      // ASCII byte by byte: for a short string a call into Buffer.write costs several times the copy
      // (it was half the readings' RowBinary encoding in a profile).
      let k = 0;
      while (k < n) {
        const c = s.charCodeAt(k);
        if (c >= 0x80) break;
        buf[at + k++] = c;
      }
      const bytes = k === n ? n : k + buf.write(s.slice(k), at + k, 'utf8');
      buf[this.at] = bytes;
      this.at = at + bytes;
      return;
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.varUInt(bytes);
    this.room(bytes);
    this.at += this.buf.write(s, this.at, bytes, 'utf8');
  }

  /**
   * Text as it is, in UTF-8, with no length before it: a JSONEachRow line for a warehouse that takes no
   * RowBinary, so that a batch's lines are bytes outside V8's heap as soon as they are rendered.
   */
  text(s: string): void {
    // A UTF-16 unit is at most 3 UTF-8 bytes (a surrogate pair, two units, is 4).
    this.room(3 * s.length);
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  /**
   * A time as the text dateTime64() renders, 'YYYY-MM-DD hh:mm:ss.sss' (a String column on a server without
   * DateTime64), written digit by digit: no string is built, which made it the costliest column of a reading.
   */
  dateTimeText(ms: number): void {
    const days = Math.floor(ms / DAY_MS);
    if (!(days >= MIN_DAY && days <= MAX_DAY)) return this.string(dateTime64(ms));
    // A run of readings is of one or two days: the date's ten characters are worked out once a day.
    if (days !== dateOfDay) setDate(days);
    // The time of day in 32-bit integers (under 86,400,000): the divisions and remainders below then compile
    // to integer ones, where on doubles each remainder is a call (fmod).
    let rest = (ms - days * DAY_MS) | 0;
    const hour = (rest / 3_600_000) | 0;
    rest -= hour * 3_600_000;
    const minute = (rest / 60_000) | 0;
    rest -= minute * 60_000;
    const second = (rest / 1000) | 0;
    const millis = rest - second * 1000;
    this.room(24);
    const b = this.buf;
    let at = this.at;
    b[at++] = 23;
    for (let k = 0; k < 10; k++) b[at++] = date[k]!;
    b[at++] = 32; // space
    at = twoDigits(b, at, hour);
    b[at++] = 58; // :
    at = twoDigits(b, at, minute);
    b[at++] = 58;
    at = twoDigits(b, at, second);
    b[at++] = 46; // .
    b[at++] = 48 + ((millis / 100) | 0);
    b[at++] = 48 + (((millis / 10) | 0) % 10);
    b[at++] = 48 + (millis % 10);
    this.at = at;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.at + bytes));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}

const DAY_MS = 86_400_000;
/** Days of 0000-01-01 and 9999-12-31: four-digit years, as dateTime64() writes them. */
const MIN_DAY = -719_528;
const MAX_DAY = 2_932_896;

/** 'YYYY-MM-DD' of the day dateTimeText last wrote (days since the epoch). */
const date = new Uint8Array(10);
let dateOfDay = Number.NaN;

function setDate(days: number): void {
  // Civil date of a day count (Howard Hinnant's days_from_civil inverted), exact for the Gregorian calendar.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  date[0] = 48 + Math.floor(year / 1000);
  date[1] = 48 + (Math.floor(year / 100) % 10);
  date[2] = 48 + (Math.floor(year / 10) % 10);
  date[3] = 48 + (year % 10);
  date[4] = 45; // -
  date[5] = 48 + Math.floor(month / 10);
  date[6] = 48 + (month % 10);
  date[7] = 45;
  date[8] = 48 + Math.floor(day / 10);
  date[9] = 48 + (day % 10);
  dateOfDay = days;
}

function twoDigits(b: Buffer, at: number, n: number): number {
  b[at] = 48 + ((n / 10) | 0);
  b[at + 1] = 48 + (n % 10);
  return at + 2;
}

/** One column of a row: where its value comes from. */
export interface BinaryColumn<R> {
  name: string;
  /** The value; for an Array column, the items, each mapped by `each`. */
  value(row: R): unknown;
  each?(item: never): unknown;
  /** Epoch milliseconds: written as DateTime64(3) ticks, or as 'YYYY-MM-DD hh:mm:ss.sss' in a String column. */
  time?: boolean;
}

/**
 * The RowBinary columns of a table whose columns are the fields of an Avro record, by name and in the
 * schema's order (the schema is the single source of truth: a field added to it is a column written).
 * `overrides` mark a field's column as a time or map its value (an enum whose table labels differ).
 */
export function binaryColumnsOf<R>(
  schema: SchemaName,
  overrides: { [K in keyof R]?: { time?: true; value?: (record: R) => unknown } } = {},
): ReadonlyArray<BinaryColumn<R>> {
  const fields = (avroType(schema) as unknown as { fields: Array<{ name: string }> }).fields;
  return fields.map(({ name }) => {
    const override = overrides[name as keyof R];
    return {
      name,
      value: override?.value ?? ((record: R) => record[name as keyof R]),
      ...(override?.time ? { time: true } : {}),
    };
  });
}

/** Writes one record as a RowBinary row of a table. */
export type RowBinaryWrite<R> = (out: RowBinaryBuffer, record: R) => void;

type Write = (out: RowBinaryBuffer, value: unknown) => void;

/**
 * Writes rows of `columns` in RowBinary for a table whose columns have the ClickHouse `types` (name → type,
 * as system.columns gives them). Throws, naming the column, when a column is missing or of a type this
 * encoder does not write: the caller then inserts as JSONEachRow instead.
 */
export function rowBinaryEncoder<R>(
  columns: ReadonlyArray<BinaryColumn<R>>,
  types: ReadonlyMap<string, string>,
): RowBinaryWrite<R> {
  const writers = columns.map((column) => {
    const type = types.get(column.name);
    if (type === undefined) throw new Error(`column ${column.name}: not in the table`);
    const each = column.each as ((item: unknown) => unknown) | undefined;
    const write = writerFor(type, column.time === true, column.name, each);
    return (out: RowBinaryBuffer, row: R) => write(out, column.value(row));
  });
  return (out, row) => {
    for (const write of writers) write(out, row);
  };
}

/** The writer of a value of `type`; for an Array, of its items, each mapped by `each` first when given. */
function writerFor(type: string, time: boolean, name: string, each?: (item: unknown) => unknown): Write {
  const array = /^Array\((.*)\)$/.exec(type)?.[1];
  if (array !== undefined) {
    const item = writerFor(array, time, name);
    return (out, value) => {
      const items = value as unknown[];
      out.varUInt(items.length);
      for (const x of items) item(out, each ? each(x) : x);
    };
  }
  if (each) throw new Error(`column ${name}: ${type} is not an Array`);
  const nullable = /^Nullable\((.*)\)$/.exec(type)?.[1];
  if (nullable !== undefined) {
    const inner = writerFor(nullable, time, name);
    return (out, value) => {
      if (value === null || value === undefined) out.uint8(1);
      else {
        out.uint8(0);
        inner(out, value);
      }
    };
  }
  if (/^DateTime64\(3(, ?'UTC')?\)$/.test(type) && time)
    return (out, value) => out.integer(value as number, 8, true);
  const enumeration = /^Enum(8|16)\((.*)\)$/.exec(type);
  if (enumeration && !time) {
    // A label's code, as the type declares it: 'a' = 1, 'b' = 2 (labels may hold escaped quotes).
    const codes = new Map<string, number>();
    for (const m of enumeration[2]!.matchAll(/'((?:[^'\\]|\\.)*)'\s*=\s*(-?\d+)/g))
      codes.set(m[1]!.replace(/\\(.)/g, '$1'), Number(m[2]));
    const bytes = enumeration[1] === '8' ? 1 : 2;
    return (out, value) => {
      // An 18.16 Bool column is an Enum8 of 'false' and 'true' (io/warehouse/README.md).
      const code = codes.get(typeof value === 'boolean' ? String(value) : (value as string));
      if (code === undefined)
        throw new RangeError(`column ${name}: ${String(value)} is not a label of ${type}`);
      out.integer(code, bytes, true);
    };
  }
  const integer = /^(U?)Int(8|16|32|64)$/.exec(type);
  if (integer && !time) {
    const bytes = (Number(integer[2]) / 8) as 1 | 2 | 4 | 8;
    const signed = integer[1] === '';
    return (out, value) => out.integer(value as number, bytes, signed);
  }
  switch (type) {
    case 'String':
    case 'LowCardinality(String)':
      return time
        ? (out, value) => out.dateTimeText(value as number)
        : (out, value) => out.string(value as string);
    case 'Float64':
      if (!time) return (out, value) => out.float64(value as number);
      break;
    case 'Float32':
      if (!time) return (out, value) => out.float32(value as number);
      break;
  }
  throw new Error(`column ${name}: no RowBinary writer for ${type}${time ? ' holding a time' : ''}`);
}
