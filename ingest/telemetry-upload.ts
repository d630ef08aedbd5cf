import {
  beginMeterReadings,
  finishMeterReadings,
  MAX_ENCODED_READINGS,
  writeMeterReading,
} from '../core/meter-readings-encoder.js';
import { canonicalUtcBytes, parseTimestamp } from '../core/time.js';
import {
  EARLIEST_MS,
  MAX_ABS_KW,
  MAX_AMPS,
  MAX_LEG,
  MAX_VOLTS,
  MIN_LEG,
  type IngestLimits,
} from './decode.js';

/**
 * The common telemetry upload, a JSON reading or array of readings of a meter in the topology that are all
 * valid, parsed byte by byte straight into its MeterReadings record (core/meter-readings-encoder.ts): no JSON
 * objects, no MeterReading objects, no avsc. Anything else gives undefined, and decodeMessage takes the
 * message as before (its records and dead letters): an unknown or repeated key, an escape in a string, true or
 * false, a value out of range, too many readings. What this accepts, decodeMessage accepts alike, and the
 * record is the one it would send, to the byte (test/unit/telemetry-upload.test.ts).
 */
export interface EncodedUpload {
  /** The MeterReadings record, wire format. */
  value: Buffer;
  /** The first reading's time (the record's timestamp). */
  ts: number;
  readings: number;
}

export function encodeTelemetryUpload(
  payload: Buffer,
  meterId: string,
  dtId: string,
  receivedAt: number,
  limits: IngestLimits,
  maxReadings: number,
): EncodedUpload | undefined {
  if (payload.length > limits.maxPayloadBytes) return undefined;
  if (!beginMeterReadings(meterId, dtId)) return undefined;
  latest = receivedAt + limits.maxFutureSkewMs;
  received = receivedAt;
  const most = Math.min(maxReadings, limits.maxReadingsPerMessage, MAX_ENCODED_READINGS);
  const b = payload;
  let readings = 0;
  let firstTs = 0;
  try {
    let p = space(b, 0);
    if (b[p] === OPEN_BRACKET) {
      p = space(b, p + 1);
      if (b[p] === CLOSE_BRACKET) return undefined; // nothing to send: decodeMessage's way
      for (;;) {
        if (++readings > most) return undefined;
        p = space(b, reading(b, p));
        if (readings === 1) firstTs = out[TS_OUT]!;
        const c = b[p++];
        if (c === CLOSE_BRACKET) break;
        if (c !== COMMA) return undefined;
        p = space(b, p);
      }
    } else {
      readings = 1;
      p = reading(b, p);
      firstTs = out[TS_OUT]!;
    }
    if (space(b, p) !== b.length) return undefined;
  } catch (error) {
    if (error === notPlain) return undefined;
    throw error;
  }
  return { value: finishMeterReadings(), ts: firstTs, readings };
}

/** The latest reading time taken (the receive time plus the skew allowed), and the receive time. */
let latest = 0;
let received = 0;
/**
 * What the last number(), timestamp(), legArray() or reading() read (each returns the position after it): in a
 * typed array, as a double in a module variable would be a heap number allocated each time.
 */
const out = new Float64Array(2);
const VALUE = 0;
const TS_OUT = 1;
/** The bit of the key keyAt() read last. */
let key = 0;
/** Thrown (and caught above) for anything not taken here. */
const notPlain = new Error('not a plain upload');

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;
const QUOTE = 0x22;

/** A reading's legs as parsed: leg, v, i triples. */
const legs = new Float64Array(3 * (MAX_LEG - MIN_LEG + 1));

// A reading's keys, and a leg's: each a bit of the keys seen.
const TS = 1;
const P_KW = 2;
const Q_KVAR = 4;
const LEGS = 8;
const E_IMP = 16;
const E_EXP = 32;
const LEG = 1;
const V = 2;
const I = 4;
/** Each key's bytes after its opening quote, with its closing quote. */
const word = (key: string) => Uint8Array.from(Buffer.from(`${key}"`));
const TS_KEY = word('ts');
const P_KW_KEY = word('p_kw');
const Q_KVAR_KEY = word('q_kvar');
const LEGS_KEY = word('legs');
const E_IMP_KEY = word('e_imp_kwh');
const E_EXP_KEY = word('e_exp_kwh');
const LEG_KEY = word('leg');
const V_KEY = word('v');
const I_KEY = word('i');

/**
 * One reading object at `p`: parsed, checked as decodeMessage checks it, and written to the record; the
 * position after it (its time in `ts`).
 */
function reading(b: Buffer, p: number): number {
  if (b[p] !== OPEN_BRACE) throw notPlain;
  let seen = 0;
  let time = 0;
  let pKw = 0;
  // NaN for null (JSON has none): a number | null variable would hold heap numbers.
  let qKvar = NaN;
  let legCount = 0;
  let eImp = NaN;
  let eExp = NaN;
  p = space(b, p + 1);
  for (;;) {
    p = member(b, p, false, seen);
    const k = key;
    seen |= k;
    if (k === TS) {
      p = timestamp(b, p);
      time = out[VALUE]!;
    } else if (k === LEGS) {
      p = legArray(b, p);
      legCount = out[VALUE]!;
    } else if (b[p] === 0x6e && k !== P_KW) {
      p = nullAt(b, p);
      if (k === Q_KVAR) qKvar = NaN;
      else if (k === E_IMP) eImp = NaN;
      else eExp = NaN;
    } else {
      p = number(b, p);
      if (k === P_KW) pKw = out[VALUE]!;
      else if (k === Q_KVAR) qKvar = out[VALUE]!;
      else if (k === E_IMP) eImp = out[VALUE]!;
      else eExp = out[VALUE]!;
    }
    p = next(b, p);
    if (p < 0) break;
  }
  p = -p;
  // Required: ts, p_kw and legs (the optional ones default to null, as the schema's defaults).
  if ((seen & (TS | P_KW | LEGS)) !== (TS | P_KW | LEGS)) throw notPlain;
  if (!(time >= EARLIEST_MS && time <= latest)) throw notPlain;
  if (!(Math.abs(pKw) <= MAX_ABS_KW)) throw notPlain;
  if (qKvar === qKvar && !(Math.abs(qKvar) <= MAX_ABS_KW)) throw notPlain;
  if (eImp === eImp && !(eImp >= 0 && eImp < Infinity)) throw notPlain;
  if (eExp === eExp && !(eExp >= 0 && eExp < Infinity)) throw notPlain;
  writeMeterReading(time, pKw, qKvar, legs, legCount, eImp, eExp, received);
  out[TS_OUT] = time;
  return p + 1;
}

/** The legs array at `p`, each leg's number, voltage and current checked as decodeMessage does; its length in out[VALUE]. */
function legArray(b: Buffer, p: number): number {
  if (b[p] !== OPEN_BRACKET) throw notPlain;
  p = space(b, p + 1);
  let count = 0;
  let numbers = 0; // bit per leg number
  if (b[p] === CLOSE_BRACKET) {
    out[VALUE] = 0;
    return p + 1;
  }
  for (;;) {
    if (count > MAX_LEG - MIN_LEG || b[p] !== OPEN_BRACE) throw notPlain;
    let seen = 0;
    let leg = 0;
    let v = 0;
    let i = 0;
    p = space(b, p + 1);
    for (;;) {
      p = number(b, member(b, p, true, seen));
      const k = key;
      seen |= k;
      if (k === LEG) leg = out[VALUE]!;
      else if (k === V) v = out[VALUE]!;
      else i = out[VALUE]!;
      p = next(b, p);
      if (p < 0) break;
    }
    p = -p;
    if (seen !== (LEG | V | I)) throw notPlain;
    // An int (the schema's), a leg number, once; a voltage and a current in range.
    if (!(leg >= MIN_LEG && leg <= MAX_LEG && leg % 1 === 0) || numbers & (1 << leg)) throw notPlain;
    numbers |= 1 << leg;
    if (!(v >= 0 && v <= MAX_VOLTS) || !(i >= 0 && i <= MAX_AMPS)) throw notPlain;
    legs[3 * count] = leg;
    legs[3 * count + 1] = v;
    legs[3 * count + 2] = i;
    count++;
    p = space(b, p + 1);
    const c = b[p++];
    if (c === CLOSE_BRACKET) {
      out[VALUE] = count;
      return p;
    }
    if (c !== COMMA) throw notPlain;
    p = space(b, p);
  }
}

/**
 * An object member's key and colon at `p` (the key's bit in `key`): the position of its value. A key in `seen`
 * again is not taken here (JSON.parse keeps the last).
 */
function member(b: Buffer, p: number, ofLeg: boolean, seen: number): number {
  p = space(b, keyAt(b, p, ofLeg));
  if (seen & key || b[p] !== COLON) throw notPlain;
  return space(b, p + 1);
}

/** After a member's value at `p`: the position of the next key, or minus the object's closing brace's. */
function next(b: Buffer, p: number): number {
  p = space(b, p);
  if (b[p] === CLOSE_BRACE) return -p;
  if (b[p] !== COMMA) throw notPlain;
  return space(b, p + 1);
}

/**
 * The key at `p` (its bit in `key`), a reading's or a leg's, told by its first byte and then matched whole;
 * anything else (another key, an escape) is not taken here.
 */
function keyAt(b: Buffer, p: number, ofLeg: boolean): number {
  if (b[p] !== QUOTE) throw notPlain;
  p++;
  const first = b[p];
  let bytes: Uint8Array;
  if (ofLeg) {
    if (first === 0x6c) [bytes, key] = [LEG_KEY, LEG];
    else if (first === 0x76) [bytes, key] = [V_KEY, V];
    else if (first === 0x69) [bytes, key] = [I_KEY, I];
    else throw notPlain;
  } else if (first === 0x74) [bytes, key] = [TS_KEY, TS];
  else if (first === 0x70) [bytes, key] = [P_KW_KEY, P_KW];
  else if (first === 0x71) [bytes, key] = [Q_KVAR_KEY, Q_KVAR];
  else if (first === 0x6c) [bytes, key] = [LEGS_KEY, LEGS];
  else if (first === 0x65 && b[p + 2] === 0x69) [bytes, key] = [E_IMP_KEY, E_IMP];
  else if (first === 0x65) [bytes, key] = [E_EXP_KEY, E_EXP];
  else throw notPlain;
  for (let k = 1; k < bytes.length; k++) if (b[p + k] !== bytes[k]) throw notPlain;
  return p + bytes.length;
}

/** ts at `p` (in out[VALUE]): an ISO-8601 string or epoch milliseconds, as parseTimestamp reads them (its errors are left). */
function timestamp(b: Buffer, p: number): number {
  let parsed: number | string;
  if (b[p] === QUOTE) {
    const start = ++p;
    for (; p < b.length; p++) {
      const c = b[p]!;
      if (c === QUOTE) break;
      if (c === 0x5c || c < 0x20 || c > 0x7e) throw notPlain; // an escape, a control or non-ASCII byte
    }
    if (p >= b.length) throw notPlain;
    // The canonical forms read in place; the rest as parseTimestamp reads them (which tries those first).
    const ms = canonicalUtcBytes(b, start, p - start);
    parsed = ms === ms ? ms : parseTimestamp(b.toString('latin1', start, p));
    p++;
  } else {
    p = number(b, p);
    parsed = parseTimestamp(out[VALUE]!);
  }
  if (typeof parsed === 'string') throw notPlain;
  out[VALUE] = parsed;
  return p;
}

function nullAt(b: Buffer, p: number): number {
  if (b[p + 1] !== 0x75 || b[p + 2] !== 0x6c || b[p + 3] !== 0x6c) throw notPlain;
  return p + 4;
}

/** Powers of ten exact as doubles: a decimal of at most 15 digits divided by one is JSON.parse's double. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * The JSON number at `p` (in out[VALUE]), as JSON.parse reads it: digits read here when there are at most 15 and
 * no exponent (the integer and the power of ten are exact, so their correctly rounded quotient is the
 * correctly rounded decimal), else the text to Number (which reads JSON's number syntax as JSON.parse does).
 */
function number(b: Buffer, p: number): number {
  const start = p;
  const negative = b[p] === 0x2d;
  if (negative) p++;
  let c = b[p]! - 0x30;
  let m = c;
  if (c === 0) c = b[++p]! - 0x30;
  else if (c >= 1 && c <= 9) {
    c = b[++p]! - 0x30;
    while (c >= 0 && c <= 9) {
      m = m * 10 + c;
      c = b[++p]! - 0x30;
    }
  } else throw notPlain;
  let digits = p - start - (negative ? 1 : 0);
  let fraction = 0;
  if (c === 0x2e - 0x30) {
    const at = ++p;
    c = b[p]! - 0x30;
    while (c >= 0 && c <= 9) {
      m = m * 10 + c;
      c = b[++p]! - 0x30;
    }
    fraction = p - at;
    if (fraction === 0) throw notPlain;
    digits += fraction;
  }
  if (c === 0x65 - 0x30 || c === 0x45 - 0x30) {
    p++;
    if (b[p] === 0x2b || b[p] === 0x2d) p++;
    const at = p;
    while (b[p]! >= 0x30 && b[p]! <= 0x39) p++;
    if (p === at) throw notPlain;
    out[VALUE] = Number(b.toString('latin1', start, p));
    return p;
  }
  if (digits > 15) out[VALUE] = Number(b.toString('latin1', start, p));
  else {
    if (negative) m = -m;
    out[VALUE] = fraction ? m / POW10[fraction]! : m;
  }
  return p;
}

function space(b: Buffer, p: number): number {
  for (;;) {
    const c = b[p];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return p;
    p++;
  }
}
