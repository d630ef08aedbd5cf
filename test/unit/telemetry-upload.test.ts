import { describe, expect, it } from 'vitest';
import { encode } from '../../core/codec.js';
import {
  decodeMessage,
  DEFAULT_INGEST_LIMITS,
  type IngestLimits,
  type MeterLookup,
} from '../../ingest/decode.js';
import { encodeTelemetryUpload } from '../../ingest/telemetry-upload.js';
import { READINGS_PER_RECORD } from '../../pipelines/ingest-task.js';
import { Rng } from '../../simulator/random.js';

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0, 123);
const DTS: Record<string, string> = {
  'mtr-1': 'dt-1',
  'dt-0001-m042': 'dt-0001',
  'zähler-ü': 'dt-ü',
  'm-ascii': 'dt-ümlaut',
  ['x'.repeat(128)]: 'y'.repeat(300),
};
const meters: MeterLookup = { dtOf: (id) => DTS[id] };

/**
 * The property: whatever the fast path takes, decodeMessage takes alike (no dead letter, one meter's readings)
 * and the record is the one the bridge sent before (avsc's encode of those readings), to the byte. Returns
 * whether the fast path took it.
 */
function same(meterId: string, payload: Buffer, limits: IngestLimits = DEFAULT_INGEST_LIMITS): boolean {
  const dtId = meters.dtOf(meterId);
  const fast =
    dtId === undefined
      ? undefined
      : encodeTelemetryUpload(payload, meterId, dtId, NOW, limits, READINGS_PER_RECORD);
  if (fast === undefined) return false;
  const slow = decodeMessage(`gridstream/v1/meters/${meterId}/telemetry`, payload, NOW, meters, limits);
  expect(slow.deadLetters).toEqual([]);
  expect(slow.readings.length).toBe(fast.readings);
  expect(fast.ts).toBe(slow.readings[0]!.ts);
  expect(fast.value.equals(encode('MeterReadings', { readings: slow.readings }))).toBe(true);
  return true;
}

describe('encodeTelemetryUpload (the bridge hot path: JSON straight to Avro)', () => {
  const rng = new Rng(6);
  const random = () => rng.next();
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)]!;
  const number = () =>
    pick([
      0,
      -0,
      1,
      -1,
      0.1,
      1.42,
      231.4,
      -9999.999,
      10_000,
      1e-7,
      9999.1234567,
      1234.56789012345,
      Math.round(random() * 1e6) / 1e3,
      random() * 300,
      -random() * 10,
      random() * 1e-3,
    ]);
  const time = () =>
    pick<string | number>([
      new Date(NOW - Math.floor(random() * 86_400_000)).toISOString(),
      new Date(NOW - 60_000 * Math.floor(random() * 1000)).toISOString().replace('.000Z', 'Z'),
      NOW - Math.floor(random() * 1e9),
      '2026-12-06T11:59:00+00:00',
      '2026-12-06T11:59:00.5Z',
    ]);
  const reading = () => {
    const r: Record<string, unknown> = {
      ts: time(),
      p_kw: number(),
      legs: Array.from({ length: Math.floor(random() * 4) }, (_, k) => ({
        leg: random() < 0.99 ? k + 1 : pick([0, 3, 6, 7]),
        v: 200 + number() / 100,
        i: Math.abs(number()) / 10,
      })),
    };
    for (const key of ['q_kvar', 'e_imp_kwh', 'e_exp_kwh']) {
      const roll = random();
      if (roll < 0.6) r[key] = Math.abs(number());
      else if (roll < 0.8) r[key] = null;
    }
    // Keys in any order.
    return Object.fromEntries(Object.entries(r).sort(() => random() - 0.5));
  };
  const upload = (most = 80) => {
    const one = random() < 0.2;
    const value = one ? reading() : Array.from({ length: 1 + Math.floor(random() * most) }, reading);
    return JSON.stringify(value, null, random() < 0.2 ? pick([1, '\t', ' \r\n ']) : undefined);
  };

  it('takes valid uploads of every shape, and sends what decodeMessage sent', () => {
    let taken = 0;
    for (let run = 0; run < 2000; run++) {
      const meter = pick(['mtr-1', 'dt-0001-m042']);
      if (same(meter, Buffer.from(upload()))) taken++;
    }
    // All but those with a leg repeated or out of range (1% of legs).
    expect(taken).toBeGreaterThan(1000);
  });

  it('leaves what it does not take to decodeMessage, whatever the bytes', () => {
    // Mutations of valid uploads: a byte changed, removed or repeated. Taken only when decodeMessage agrees.
    const alphabet = Buffer.from('{}[],:"\\ 0123456789.-+eE ntruefalsx\u00e9');
    let taken = 0;
    for (let run = 0; run < 5000; run++) {
      const bytes = Buffer.from(upload(4));
      const at = Math.floor(random() * bytes.length);
      const roll = random();
      const mutated =
        roll < 0.4
          ? Buffer.concat([bytes.subarray(0, at), Buffer.from([pick([...alphabet])]), bytes.subarray(at + 1)])
          : roll < 0.7
            ? Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)])
            : Buffer.concat([bytes.subarray(0, at + 1), bytes.subarray(at)]);
      if (same('mtr-1', mutated)) taken++;
    }
    expect(taken).toBeGreaterThan(500);
  });

  it('leaves edge cases to decodeMessage, or takes them exactly', () => {
    const good = { ts: '2026-12-06T11:59:00.000Z', p_kw: 1.5, legs: [{ leg: 1, v: 230, i: 4 }] };
    const cases: Array<[unknown, boolean]> = [
      [good, true],
      [[good], true],
      [[], false],
      [{}, false],
      [[good, 1], false],
      [[good, null], false],
      [{ ...good, extra: 1 }, false],
      [{ ...good, legs: [{ leg: 1, v: 230, i: 4, x: 0 }] }, false],
      [{ ...good, legs: [] }, true],
      [{ ...good, legs: [0, 1, 2, 3, 4, 5, 6].map((leg) => ({ leg, v: 1, i: 1 })) }, true],
      [
        {
          ...good,
          legs: [
            { leg: 1, v: 230, i: 4 },
            { leg: 1, v: 230, i: 4 },
          ],
        },
        false,
      ],
      [{ ...good, legs: [{ leg: 7, v: 230, i: 4 }] }, false],
      [{ ...good, legs: [{ leg: 1.5, v: 230, i: 4 }] }, false],
      [{ ...good, legs: [{ leg: 1, v: -1, i: 4 }] }, false],
      [{ ...good, q_kvar: true }, false],
      [{ ...good, q_kvar: 'x' }, false],
      [{ ...good, p_kw: 10_001 }, false],
      [{ ...good, p_kw: -10_000 }, true],
      [{ ...good, e_imp_kwh: -0.1 }, false],
      [{ ...good, e_imp_kwh: -0 }, true],
      [{ ...good, ts: NOW + 5 * 60_000 }, true],
      [{ ...good, ts: NOW + 5 * 60_000 + 1 }, false],
      [{ ...good, ts: '1999-12-31T23:59:59Z' }, false],
      [{ ...good, ts: 'yesterday' }, false],
      [{ ...good, ts: 1.5 }, false],
      [{ ...good, ts: -1 }, false],
      [{ ...good, ts: null }, false],
      [{ ts: good.ts, legs: good.legs }, false],
      [Array.from({ length: 64 }, () => good), true],
      [Array.from({ length: 1000 }, () => good), true],
      [Array.from({ length: 1001 }, () => good), false],
    ];
    for (const [value, taken] of cases) expect(same('mtr-1', Buffer.from(JSON.stringify(value)))).toBe(taken);
    const text = JSON.stringify(good);
    const raw: Array<[string, boolean]> = [
      [` \n${text}\t\r `, true],
      [text.replace('1.5', '1.50000000000000000001'), true],
      [text.replace('1.5', '15e-1'), true],
      [text.replace('1.5', '-0.0'), true],
      [text.replace('1.5', '01.5'), false],
      [text.replace('1.5', '1.'), false],
      [text.replace('1.5', '.5'), false],
      [text.replace('1.5', '+1.5'), false],
      [text.replace('"ts"', '"t\\u0073"'), false],
      [text.replace('T11', '\\u005411'), false],
      [text.replace('}', ',"ts":"2026-12-06T11:58:00Z"}'), false],
      [`${text},`, false],
      [`${text}]`, false],
      [`[${text}`, false],
      [`\ufeff${text}`, false],
      [text.slice(0, -1), false],
    ];
    for (const [payload, taken] of raw) expect(same('mtr-1', Buffer.from(payload))).toBe(taken);
    // Ids beyond ASCII, a meter not in the topology, the limits.
    expect(same('zähler-ü', Buffer.from(text))).toBe(false);
    expect(same('m-ascii', Buffer.from(text))).toBe(false);
    expect(same('x'.repeat(128), Buffer.from(text))).toBe(true);
    expect(same('mtr-2', Buffer.from(text))).toBe(false);
    const tight = { ...DEFAULT_INGEST_LIMITS, maxPayloadBytes: text.length - 1 };
    expect(same('mtr-1', Buffer.from(text), tight)).toBe(false);
    const few = { ...DEFAULT_INGEST_LIMITS, maxReadingsPerMessage: 2 };
    expect(same('mtr-1', Buffer.from(JSON.stringify([good, good])), few)).toBe(true);
    expect(same('mtr-1', Buffer.from(JSON.stringify([good, good, good])), few)).toBe(false);
  });
});
