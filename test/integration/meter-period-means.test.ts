import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DAY_MS, MINUTE_MS, SLOT_MS, slotStart } from '../../core/time.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { runQuery } from '../../io/warehouse/query.js';
import { queries } from '../../io/warehouse/queries.gen.js';
import { readingRow } from '../../io/warehouse/rows.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { ENGINES, openTestWarehouse, type TestWarehouse } from '../support/clickhouse-server.js';

/**
 * sql/queries/meter_period_means.sql on both engines (the embedded one with DateTime64, Debian's 18.16 server
 * through the ts_ms gates): a reading belongs to the 15-minute period its ts (the start of its interval) falls
 * in, whether meters send one-minute or 15-minute readings; copies of a reading count once, the latest received.
 */
// Recent (the retention drops old rows on insert), a UTC quarter hour.
const P0 = slotStart(Date.now() - DAY_MS);
const P1 = P0 + SLOT_MS;
const P2 = P1 + SLOT_MS;

function reading(meter_id: string, dt_id: string, ts: number, p_kw: number, receivedAfterMs = 1000) {
  return readingRow({
    meter_id,
    dt_id,
    ts,
    p_kw,
    q_kvar: null,
    legs: [],
    e_imp_kwh: null,
    e_exp_kwh: null,
    received_at: ts + receivedAfterMs,
  });
}

describe.each(ENGINES)('meter_period_means on %s', (engine) => {
  let opened: TestWarehouse;
  let warehouse: Warehouse;

  beforeAll(async () => {
    opened = await openTestWarehouse(engine);
    warehouse = opened.warehouse;
    await migrate(warehouse);
    // m-1: one-minute readings stamped at their start, 0 … 14 kW over P0 (mean 7), 1 kW over P1.
    await warehouse.insert('readings', [
      ...Array.from({ length: 15 }, (_, k) => reading('m-1', 'dt-a', P0 + k * MINUTE_MS, k)),
      ...Array.from({ length: 15 }, (_, k) => reading('m-1', 'dt-a', P1 + k * MINUTE_MS, 1)),
    ]);
    // Copies, each its own insert (its own part until a merge): the 3-minute reading re-sent unchanged, the
    // 5-minute one re-sent later with a corrected value (the latest received counts), and the 6-minute one
    // ingested again under another DT (a meter moved between topology versions, then a replay).
    await warehouse.insert('readings', [reading('m-1', 'dt-a', P0 + 3 * MINUTE_MS, 3, 5000)]);
    await warehouse.insert('readings', [reading('m-1', 'dt-a', P0 + 5 * MINUTE_MS, 20, 60_000)]);
    await warehouse.insert('readings', [reading('m-1', 'dt-b', P0 + 6 * MINUTE_MS, 6, 90_000)]);
    // m-2: 15-minute readings stamped at the start of their interval (P0, P1, P2), the P1 one sent three times,
    // one before the range and one at its end (both outside).
    await warehouse.insert('readings', [
      reading('m-2', 'dt-a', P0 - SLOT_MS, 9),
      reading('m-2', 'dt-a', P0, 2),
      reading('m-2', 'dt-a', P1, 3),
      reading('m-2', 'dt-a', P2, 4),
    ]);
    await warehouse.insert('readings', [reading('m-2', 'dt-a', P1, 3, 2000)]);
    await warehouse.insert('readings', [reading('m-2', 'dt-a', P1, 3, 3000)]);
    // m-3 is not asked for.
    await warehouse.insert('readings', [reading('m-3', 'dt-a', P0, 50)]);
  }, 120_000);

  afterAll(async () => {
    await opened?.close();
  });

  it('means per meter and period, readings counted once, periods by the interval start, [from, to)', async () => {
    const rows = await runQuery(warehouse, queries.meter_period_means, {
      meter_ids: ['m-1', 'm-2', "m-x' OR 1=1 --"],
      from_ms: P0,
      to_ms: P2,
    });
    // m-1 P0: 0 … 14 with the 5-minute reading corrected to 20: (105 − 5 + 20) / 15 = 8.
    expect(rows).toEqual([
      { meter_id: 'm-1', period_ms: P0, p_kw: 8, readings: 15 },
      { meter_id: 'm-1', period_ms: P1, p_kw: 1, readings: 15 },
      { meter_id: 'm-2', period_ms: P0, p_kw: 2, readings: 1 },
      { meter_id: 'm-2', period_ms: P1, p_kw: 3, readings: 1 },
    ]);
  });

  it('a reading stamped exactly at a period boundary opens that period; one stamped before from is out', async () => {
    const rows = await runQuery(warehouse, queries.meter_period_means, {
      meter_ids: ['m-2'],
      from_ms: P0 - 1,
      to_ms: P2 + 1,
    });
    expect(rows.map((r) => [r.period_ms, r.p_kw])).toEqual([
      [P0, 2],
      [P1, 3],
      [P2, 4],
    ]);
  });

  it('no meters, or a range without readings, give no rows', async () => {
    expect(
      await runQuery(warehouse, queries.meter_period_means, { meter_ids: [], from_ms: P0, to_ms: P2 }),
    ).toEqual([]);
    expect(
      await runQuery(warehouse, queries.meter_period_means, {
        meter_ids: ['m-1'],
        from_ms: P2,
        to_ms: P2 + SLOT_MS,
      }),
    ).toEqual([]);
  });
});
