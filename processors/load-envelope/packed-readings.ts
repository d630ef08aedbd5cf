/**
 * A lossless byte packing of a slot's columns (processors/load-envelope/slot-readings.ts) for slots that are closed: they
 * are kept only so that a late reading can revise them, which is rare, so they are held packed (about 8–12
 * bytes a reading instead of 32) and unpacked when one comes. With the default 24-hour revision horizon the
 * closed slots are nearly all of a processor's readings.
 *
 * Meters report decimals (kW and kvar to the watt, volts to the decivolt), so each value is stored, when
 * that reproduces it exactly, as the change of its integer in those units from the previous row's (a byte
 * or two), and otherwise raw. Keys (sorted) are stored as the gap to the previous key, in seconds when whole.
 * Unpacking gives back the same bits: a revised slot's figures and version are those the slot would have had
 * unpacked.
 *
 * Per row: a tag byte (2 bits each for q, v1, v2, v3: absent, scaled, raw), the key gap, p, then the values
 * the tag says are present. Unsigned integers are LEB128 varints; signed ones zigzag-mapped first.
 */

const ABSENT = 0;
const SCALED = 1;
const RAW = 2;
/** Units per kW or kvar (watts) and per volt (decivolts). */
const POWER_SCALE = 1000;
const VOLT_SCALE = 10;
/** Scaled integers beyond this are stored raw: their zigzag doubled must stay a safe integer. */
const MAX_SCALED = 2 ** 50;
/** Bytes a row can take at most: tag, key (8), p (1 + 8), q and three volts (8 each at most). */
const MAX_ROW_BYTES = 1 + 8 + 9 + 4 * 8;

let scratch = new Uint8Array(64 * MAX_ROW_BYTES);
let scratchView = new DataView(scratch.buffer);
/** The previous scaled q, v1, v2, v3 while packing or unpacking (reused: this runs for every closed slot). */
const last = new Float64Array(4);

/**
 * Packs `size` rows of `keyP` (key, p pairs) and `qv` (q, v1, v2, v3). Returns null when a key is not a
 * whole number of milliseconds (no reading the bridge makes has one; such a slot stays unpacked).
 */
export function packRows(keyP: Float64Array, qv: Float32Array, size: number): Uint8Array | null {
  if (scratch.length < size * MAX_ROW_BYTES) {
    scratch = new Uint8Array(size * MAX_ROW_BYTES);
    scratchView = new DataView(scratch.buffer);
  }
  const out = scratch;
  let at = 0;
  let lastKey = 0;
  let lastP = 0;
  last.fill(0);

  for (let row = 0; row < size; row++) {
    const key = keyP[2 * row]!;
    const gap = key - lastKey;
    if (!Number.isSafeInteger(gap) || gap < 0) return null;
    lastKey = key;

    const tagAt = at++;
    let tag = 0;
    at = writeVarint(out, at, remainder(gap, 1000) === 0 ? (gap / 1000) * 2 : gap * 2 + 1);

    const p = keyP[2 * row + 1]!;
    const pUnits = Math.round(p * POWER_SCALE);
    if (pUnits / POWER_SCALE === p && Math.abs(pUnits) <= MAX_SCALED && !Object.is(p, -0)) {
      at = writeVarint(out, at, zigzag(pUnits - lastP) * 2);
      lastP = pUnits;
    } else {
      out[at++] = 1;
      scratchView.setFloat64(at, p, true);
      at += 8;
    }

    for (let field = 0; field < 4; field++) {
      const value = qv[4 * row + field]!;
      if (value !== value) continue; // NaN: absent
      const scale = field === 0 ? POWER_SCALE : VOLT_SCALE;
      const units = Math.round(value * scale);
      if (Math.fround(units / scale) === value && Math.abs(units) <= MAX_SCALED && !Object.is(value, -0)) {
        tag |= SCALED << (2 * field);
        at = writeVarint(out, at, zigzag(units - last[field]!));
        last[field] = units;
      } else {
        tag |= RAW << (2 * field);
        scratchView.setFloat32(at, value, true);
        at += 4;
      }
    }
    out[tagAt] = tag;
  }
  return out.slice(0, at);
}

/** Unpacks what packRows packed into fresh columns of exactly `size` rows. */
export function unpackRows(bytes: Uint8Array, size: number): { keyP: Float64Array; qv: Float32Array } {
  const keyP = new Float64Array(2 * Math.max(1, size));
  const qv = new Float32Array(4 * Math.max(1, size));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cursor = { at: 0 };
  let key = 0;
  let lastP = 0;
  last.fill(0);

  for (let row = 0; row < size; row++) {
    const tag = bytes[cursor.at++]!;
    const gap = readVarint(bytes, cursor);
    key += remainder(gap, 2) === 0 ? (gap / 2) * 1000 : (gap - 1) / 2;
    keyP[2 * row] = key;

    const p = readVarint(bytes, cursor);
    if (p === 1) {
      keyP[2 * row + 1] = view.getFloat64(cursor.at, true);
      cursor.at += 8;
    } else {
      lastP += unzigzag(p / 2);
      keyP[2 * row + 1] = lastP / POWER_SCALE;
    }

    for (let field = 0; field < 4; field++) {
      const kind = (tag >> (2 * field)) & 3;
      if (kind === ABSENT) qv[4 * row + field] = Number.NaN;
      else if (kind === RAW) {
        qv[4 * row + field] = view.getFloat32(cursor.at, true);
        cursor.at += 4;
      } else {
        last[field]! += unzigzag(readVarint(bytes, cursor));
        qv[4 * row + field] = last[field]! / (field === 0 ? POWER_SCALE : VOLT_SCALE);
      }
    }
  }
  return { keyP, qv };
}

/** Writes a non-negative safe integer as a LEB128 varint at `at`; returns the position after it. */
function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80000000) {
    out[at++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  while (n >= 128) {
    out[at++] = (n & 127) | 128;
    n >>>= 7;
  }
  out[at++] = n;
  return at;
}

function readVarint(bytes: Uint8Array, cursor: { at: number }): number {
  let n = 0;
  let factor = 1;
  for (;;) {
    const byte = bytes[cursor.at++]!;
    n += (byte & 127) * factor;
    if (byte < 128) return n;
    factor *= 128;
  }
}

/**
 * n mod m for a non-negative integer n: by integer arithmetic while n fits 31 bits (a double's `%` is a call
 * to fmod, which was most of the packing's time).
 */
function remainder(n: number, m: number): number {
  return n < 0x80000000 ? (n | 0) % m : n % m;
}

function zigzag(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

function unzigzag(n: number): number {
  return remainder(n, 2) === 0 ? n / 2 : -(n + 1) / 2;
}
