import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, SLOT_MS } from '../../core/time.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { queries } from '../../io/warehouse/queries.gen.js';
import { runQuery } from '../../io/warehouse/query.js';
import { envelopeRow } from '../../io/warehouse/rows.js';
import { TABLES } from '../../io/warehouse/tables.js';
import { LoadProfileDays } from '../../serving/load-profile-days.js';
import { ENGINES, openTestWarehouse, type TestWarehouse } from '../support/clickhouse-server.js';
import { sampleEnvelope } from '../support/records.js';

const DAY = Date.UTC(2026, 10, 5);
const dayText = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe.each(ENGINES)('load-profile pieces on the %s warehouse', (engine) => {
  let opened: TestWarehouse;

  beforeAll(async () => {
    opened = await openTestWarehouse(engine);
    await migrate(opened.warehouse);
  });
  afterAll(async () => {
    await opened?.close();
  });

  it('reads back the newest piece of each DT-day asked for, by DT and day', async () => {
    const { warehouse } = opened;
    const envelope = (dt: string, slot: number, version: number) => ({
      ...sampleEnvelope,
      dt_id: dt,
      slot_start: slot,
      version,
      net_mean_kw: version / 10,
    });
    // Two DTs, two days; then a revision of dt-a's first day written as a new row (the older stays until a merge).
    const first = new LoadProfileDays();
    first.apply(
      ['dt-a', 'dt-b'].flatMap((dt) => [envelope(dt, DAY, 10), envelope(dt, DAY + DAY_MS + SLOT_MS, 10)]),
    );
    await warehouse.insert(TABLES.loadProfileDays, first.changed() as never);
    const stored = await runQuery(warehouse, queries.load_profile_days, {
      dt_ids: ['dt-a'],
      days: [dayText(DAY)],
    });
    const second = new LoadProfileDays();
    for (const row of stored) second.load({ ...row, day: row.day_text });
    second.apply([envelope('dt-a', DAY + 2 * SLOT_MS, 20)]);
    await warehouse.insert(TABLES.loadProfileDays, second.changed() as never);

    const rows = await runQuery(warehouse, queries.load_profile_days, {
      dt_ids: ['dt-a'],
      days: [dayText(DAY), dayText(DAY + DAY_MS), dayText(DAY + 2 * DAY_MS)],
    });
    expect(rows.map((r) => [r.dt_id, r.day_text, Number(r.version)])).toEqual([
      ['dt-a', dayText(DAY), 30],
      ['dt-a', dayText(DAY + DAY_MS), 10],
    ]);
    const read = new LoadProfileDays();
    for (const row of rows) read.load({ ...row, day: row.day_text });
    const profile = read.profile('dt-a', DAY, DAY + 2 * DAY_MS);
    expect(profile.segments).toHaveLength(2);
    // 20,000 DTs asked at once: on a server without query parameters they are inlined, past its 256 KiB default.
    const many = Array.from({ length: 20_000 }, (_, i) => `dt-many-${String(i).padStart(6, '0')}`);
    expect(
      (
        await runQuery(warehouse, queries.load_profile_days, {
          dt_ids: ['dt-b', 'dt-c', ...many],
          days: [dayText(DAY)],
        })
      ).length,
    ).toBe(1);
  });

  it("gives per UTC day the sum of the final slots' newest versions, which a current piece's version equals, and the open slots", async () => {
    const { warehouse } = opened;
    const dt = 'dt-versions';
    const envelope = (slot: number, version: number, isFinal: boolean) => ({
      ...sampleEnvelope,
      dt_id: dt,
      slot_start: slot,
      version,
      is_final: isFinal,
    });
    // Day one: two final slots, one revised (both revisions stored); day two: one final slot, one open.
    const records = [
      envelope(DAY, 7, false),
      envelope(DAY, 3_000_000_000_001, true),
      envelope(DAY + SLOT_MS, 11, true),
      envelope(DAY + SLOT_MS, 13, true),
      envelope(DAY + DAY_MS, 17, true),
      envelope(DAY + DAY_MS + SLOT_MS, 19, false),
    ];
    await warehouse.insert(TABLES.envelopes, records.map(envelopeRow) as never);
    const pieces = new LoadProfileDays();
    pieces.apply(records.filter((e) => e.is_final));
    const versions = await runQuery(warehouse, queries.envelope_day_versions, {
      dt_id: dt,
      from_ms: DAY,
      to_ms: DAY + 2 * DAY_MS,
    });
    expect(versions.map((v) => [Number(v.day_index), Number(v.final_sum), Number(v.open_slots)])).toEqual([
      [DAY / DAY_MS, 3_000_000_000_014, 0],
      [DAY / DAY_MS + 1, 17, 1],
    ]);
    expect(pieces.changed().map((row) => Number(row.version))).toEqual([3_000_000_000_014, 17]);
  });
});
