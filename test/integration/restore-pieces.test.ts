import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DAY_MS, MINUTE_MS } from '../../core/time.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { readingRow } from '../../io/warehouse/rows.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import type { MeterReading } from '../../schemas/types.gen.js';
import { recentReadings } from '../../pipelines/recent-readings.js';
import { ENGINES, openTestWarehouse, type TestWarehouse } from '../support/clickhouse-server.js';

/**
 * A partition's restore from the warehouse in pieces (pipelines/recent-readings.ts) on both engines: the
 * pieces, one after another, are the readings of the horizon in the one order a single answer gives them
 * (received time, then event time), the newest copy of each, so the state they rebuild is the same.
 */
const T0 = Math.floor((Date.now() - DAY_MS) / MINUTE_MS) * MINUTE_MS;
const DTS = ['dt-a', 'dt-b', 'dt-c'];
const HORIZON_MS = 30 * MINUTE_MS;

const reading = (dt: string, meter: string, minute: number, receivedAfterMs: number, p_kw: number) => ({
  meter_id: meter,
  dt_id: dt,
  ts: T0 + minute * MINUTE_MS,
  p_kw,
  q_kvar: null,
  legs: [{ leg: 1, v: 230 + minute / 10, i: p_kw }],
  e_imp_kwh: null,
  e_exp_kwh: null,
  received_at: T0 + minute * MINUTE_MS + receivedAfterMs,
});

/** 40 minutes of 3 meters on each DT: most received at once, some an hour late, a few sent again corrected. */
function fixture(): MeterReading[][] {
  const first: MeterReading[] = [];
  for (const dt of DTS)
    for (let m = 0; m < 3; m++)
      for (let minute = 0; minute < 40; minute++)
        first.push(reading(dt, `${dt}-m${m}`, minute, minute % 7 === m ? 3_600_000 : 1_000 + m, minute + m));
  // Copies received later with a new value (the latest received is kept), each its own insert.
  const again = [5, 25, 38].map((minute) => reading('dt-b', 'dt-b-m1', minute, 90_000, -1));
  return [first, again];
}

/** Byte order, as ClickHouse sorts strings. */
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The horizon's readings as one answer gives them, worked out here: the newest copy of each, in order. */
function expected(inserted: MeterReading[]): MeterReading[] {
  const newest = new Map<string, MeterReading>();
  for (const r of inserted) {
    const key = `${r.dt_id}/${r.meter_id}/${r.ts}`;
    if ((newest.get(key)?.received_at ?? -Infinity) < r.received_at) newest.set(key, r);
  }
  const from = Math.max(...inserted.map((r) => r.ts)) - HORIZON_MS;
  return [...newest.values()]
    .filter((r) => r.ts >= from)
    .sort(
      (a, b) =>
        a.received_at - b.received_at ||
        a.ts - b.ts ||
        byText(a.dt_id, b.dt_id) ||
        byText(a.meter_id, b.meter_id),
    );
}

describe.each(ENGINES)('a restore in pieces on %s', (engine) => {
  let opened: TestWarehouse;
  let warehouse: Warehouse;
  const inserts = fixture();

  beforeAll(async () => {
    opened = await openTestWarehouse(engine);
    warehouse = opened.warehouse;
    await migrate(warehouse);
    for (const rows of inserts) await warehouse.insert('readings', rows.map(readingRow));
  });
  afterAll(() => opened?.close());

  const restore = async (pieceReadings?: number) => {
    const pieces: MeterReading[][] = [];
    for await (const piece of recentReadings(warehouse, DTS, HORIZON_MS, pieceReadings))
      pieces.push(piece.map((input) => input.reading));
    return pieces;
  };

  it('gives, piece after piece, the readings of one answer in its order', async () => {
    const whole = await restore(Number.MAX_SAFE_INTEGER);
    expect(whole).toHaveLength(1);
    expect(whole[0]).toEqual(expected(inserts.flat()));
    const pieces = await restore(10);
    expect(pieces.length).toBeGreaterThan(10);
    expect(pieces.flat()).toEqual(whole[0]);
    // At most 10 a piece, unless one received minute holds more (a minute is never split).
    for (const piece of pieces) {
      const minutes = new Set(piece.map((r) => Math.floor(r.received_at / MINUTE_MS)));
      if (piece.length > 10) expect(minutes.size).toBe(1);
    }
  });

  it('gives nothing for DTs without readings', async () => {
    const pieces = [];
    for await (const piece of recentReadings(warehouse, ['dt-none'], HORIZON_MS, 10)) pieces.push(piece);
    expect(pieces).toEqual([]);
  });
});
