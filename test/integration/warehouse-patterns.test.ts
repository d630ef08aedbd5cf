import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DAY_MS, MINUTE_MS, SLOT_MS, SLOTS_PER_DAY } from '../../core/time.js';
import { TopologyIndex } from '../../core/topology.js';
import { migrate } from '../../io/warehouse/migrate.js';
import {
  envelopeRow,
  readingRow,
  topologyMeterRow,
  topologyTransformerRow,
} from '../../io/warehouse/rows.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { queryLoadPatterns } from '../../pipelines/load-envelope-stage.js';
import { shapeIndex } from '../../processors/load-envelope/imputation.js';
import { localCell, ZoneOffsets } from '../../core/zone-offsets.js';
import type { DtEnvelope, TopologyMeter, TopologyTransformer } from '../../schemas/types.gen.js';
import { sampleEnvelope } from '../support/records.js';
import { ENGINES, openTestWarehouse, type TestWarehouse } from '../support/clickhouse-server.js';
import { meter, transformer } from '../support/topology.js';

/**
 * The load-pattern queries (sql/queries/feeder_load_patterns.sql, dt_load_levels.sql, meter_load_patterns.sql)
 * on both engines, through queryLoadPatterns as the envelope stage runs them: local time in each DT's own zone
 * (the processors' cell for every slot), only final measured slots, the measured part of imputed ones, the
 * four-week window.
 */
// A recent Wednesday 10:00 UTC (rows older than the retention would be dropped on insert).
const NOW = Date.now();
const WED = (() => {
  const day = Math.floor(NOW / DAY_MS) - 7;
  for (let d = day; ; d--) if ((((d + 3) % 7) + 7) % 7 === 2) return d * DAY_MS + 10 * 3_600_000;
})();
/** A reading row of one meter, received a second after its time. */
function readingOf(meter_id: string, dt_id: string, ts: number, p_kw: number) {
  return readingRow({
    meter_id,
    dt_id,
    ts,
    p_kw,
    q_kvar: null,
    legs: [],
    e_imp_kwh: null,
    e_exp_kwh: null,
    received_at: ts + 1000,
  });
}

const LON = 77.59; // Bengaluru: Asia/Kolkata, UTC+5:30 (mean solar time in whole hours said UTC+5)

describe.each(ENGINES)('load patterns on %s', (engine) => {
  let opened: TestWarehouse;
  let warehouse: Warehouse;
  const index = new TopologyIndex();

  beforeAll(async () => {
    opened = await openTestWarehouse(engine);
    warehouse = opened.warehouse;
    await migrate(warehouse);
    const transformers: TopologyTransformer[] = [
      { ...transformer('dt-a', { feeder_id: 'f1', longitude: LON, rated_kva: 100 }), topology_version: 1 },
      { ...transformer('dt-b', { feeder_id: 'f1', longitude: LON, rated_kva: 100 }), topology_version: 1 },
    ];
    const meters: TopologyMeter[] = ['a1', 'a2', 'b1', 'b2'].map((id) => ({
      ...meter(id, `dt-${id[0]}`),
      topology_version: 1,
    }));
    index.apply(transformers, meters);
    await warehouse.insert('topology_transformers', transformers.map(topologyTransformerRow));
    await warehouse.insert('topology_meters', meters.map(topologyMeterRow));
    const envelope = (dt: string, slot: number, over: Partial<DtEnvelope>): DtEnvelope => ({
      ...sampleEnvelope,
      dt_id: dt,
      slot_start: slot,
      version: 3,
      is_final: true,
      meters_connected: 2,
      ...over,
    });
    await warehouse.insert('envelopes', [
      // dt-a: 4 kW on 2 meters; dt-b: 2 kW on 1 meter, plus 5 imputed kW that must not count.
      envelopeRow(envelope('dt-a', WED, { net_mean_kw: 4, meters_reporting: 2 })),
      envelopeRow(
        envelope('dt-b', WED, {
          net_mean_kw: 7,
          imputed_kw: 5,
          imputed_meters: 1,
          meters_reporting: 1,
          profile_source: 'imputed',
        }),
      ),
      // Not final, modelled, or older than four weeks before the newest final slot: left out.
      envelopeRow(
        envelope('dt-a', WED + SLOT_MS, { net_mean_kw: 100, meters_reporting: 2, is_final: false }),
      ),
      envelopeRow(
        envelope('dt-b', WED + SLOT_MS, {
          net_mean_kw: 100,
          meters_reporting: 0,
          imputed_kw: 100,
          profile_source: 'modelled',
        }),
      ),
      envelopeRow(envelope('dt-a', WED - 29 * DAY_MS, { net_mean_kw: 100, meters_reporting: 2 })),
      // Saturday at the same time.
      envelopeRow(envelope('dt-a', WED + 3 * DAY_MS, { net_mean_kw: 6, meters_reporting: 2 })),
    ]);
    const reading = (meterId: string, ts: number, p_kw: number) =>
      readingOf(meterId, `dt-${meterId[0]}`, ts, p_kw);
    await warehouse.insert('readings', [
      reading('a1', WED, 1),
      reading('a1', WED + 5 * MINUTE_MS, 3),
      reading('a1', WED + 3 * DAY_MS, 8),
      reading('b1', WED + 10 * MINUTE_MS, 2),
    ]);
  });

  afterAll(async () => {
    await opened?.close();
  });

  it('gives per-meter feeder patterns by local day type and slot, DT scales, per-kVA patterns and meter shapes', async () => {
    const patterns = await queryLoadPatterns(warehouse, { index } as never);
    const offset = ZoneOffsets.of('Asia/Kolkata');
    expect(offset.offsetMs(WED)).toBe(5.5 * 3_600_000);
    const feeder = patterns.perMeter.get('f1')!;
    // Weekday 15:30 local: (4 + 2) kW on 3 reporting meters.
    expect(feeder[localCell(WED, offset)]).toBeCloseTo(2, 9);
    expect(localCell(WED, offset)).toBe(62);
    expect(feeder[localCell(WED + 3 * DAY_MS, offset)]).toBeCloseTo(3, 9);
    expect(localCell(WED + 3 * DAY_MS, offset)).toBe(SLOTS_PER_DAY + 62);
    expect(feeder.filter((v) => !Number.isNaN(v)).length).toBe(2);
    // Feeder level: 12 kW over 5 meter-slots; dt-a 10 / 4, dt-b 2 / 1.
    expect(patterns.dtScale.get('dt-a')).toBeCloseTo(2.5 / 2.4, 9);
    expect(patterns.dtScale.get('dt-b')).toBeCloseTo(2 / 2.4, 9);
    expect([...patterns.metered].sort()).toEqual(['dt-a', 'dt-b']);
    // 4 meters on 200 kVA.
    expect(patterns.perKva.get('f1')![62]).toBeCloseTo((2 * 4) / 200, 9);
    const a1 = patterns.meterShapes.get('dt-a')!.get('a1')!;
    expect(a1[shapeIndex(WED, offset)]).toBeCloseTo(2, 6);
    expect(a1[shapeIndex(WED + 3 * DAY_MS, offset)]).toBeCloseTo(8, 6);
    expect(patterns.meterShapes.get('dt-b')!.get('b1')![15]).toBeCloseTo(2, 6);
  });
});

/**
 * Day types and local slots in each DT's own zone, on both engines: a Berlin DT (zone from its coordinates)
 * across its latest change to or from summer time, a Kolkata DT (zone named by its topology row, UTC+5:30).
 * Every slot must land in the cell the processors give it (core/zone-offsets.ts localCell, imputation.ts
 * shapeIndex), which needs the offset in force at each slot, not mean solar time.
 */
describe.each(ENGINES)("load patterns in each DT's zone on %s", (engine) => {
  let opened: TestWarehouse;
  let warehouse: Warehouse;
  const index = new TopologyIndex();
  const berlin = ZoneOffsets.of('Europe/Berlin');
  const kolkata = ZoneOffsets.of('Asia/Kolkata');
  // The latest change of Berlin's offset at least ten days ago (within the retention), and slots around it.
  const { changes } = berlin.changes(NOW - 250 * DAY_MS, NOW - 10 * DAY_MS);
  const change = changes.at(-1)!.atMs;
  const slots = Array.from({ length: 120 }, (_, k) => change - 3 * DAY_MS + k * 5 * SLOT_MS);
  // A Friday 18:45 UTC among them: Saturday 00:15 in Kolkata.
  const friday = (() => {
    for (let d = Math.floor(change / DAY_MS) + 2; ; d--)
      if ((((d + 3) % 7) + 7) % 7 === 4) return d * DAY_MS + 18 * 3_600_000 + 45 * 60_000;
  })();
  const kw = (k: number) => 1 + (k % 13);
  const meters = (k: number) => 1 + (k % 3);

  beforeAll(async () => {
    opened = await openTestWarehouse(engine);
    warehouse = opened.warehouse;
    await migrate(warehouse);
    const transformers: TopologyTransformer[] = [
      {
        ...transformer('dt-ber', { feeder_id: 'f-ber', latitude: 52.52, longitude: 13.4 }),
        topology_version: 1,
      },
      { ...transformer('dt-kol', { feeder_id: 'f-kol', timezone: 'Asia/Kolkata' }), topology_version: 1 },
    ];
    const topologyMeters: TopologyMeter[] = [
      { ...meter('ber-1', 'dt-ber'), topology_version: 1 },
      { ...meter('kol-1', 'dt-kol'), topology_version: 1 },
    ];
    index.apply(transformers, topologyMeters);
    await warehouse.insert('topology_transformers', transformers.map(topologyTransformerRow));
    await warehouse.insert('topology_meters', topologyMeters.map(topologyMeterRow));
    const envelope = (dt: string, slot: number, k: number): DtEnvelope => ({
      ...sampleEnvelope,
      dt_id: dt,
      slot_start: slot,
      version: 3,
      is_final: true,
      meters_connected: 3,
      meters_reporting: meters(k),
      net_mean_kw: kw(k),
      imputed_kw: 0,
      imputed_meters: 0,
      profile_source: 'measured',
    });
    await warehouse.insert('envelopes', [
      ...slots.map((slot, k) => envelopeRow(envelope('dt-ber', slot, k))),
      ...slots.flatMap((slot, k) => (slot === friday ? [] : [envelopeRow(envelope('dt-kol', slot, k))])),
      envelopeRow(envelope('dt-kol', friday, 100)),
    ]);
    const reading = (meterId: string, ts: number, p_kw: number) =>
      readingOf(meterId, `dt-${meterId.slice(0, 3)}`, ts, p_kw);
    await warehouse.insert('readings', [
      ...slots.map((slot, k) => reading('ber-1', slot + 7 * MINUTE_MS, kw(k))),
      ...slots.map((slot, k) => reading('kol-1', slot + 14 * MINUTE_MS, kw(k))),
      reading('kol-1', friday + MINUTE_MS, 50),
    ]);
  });

  afterAll(async () => {
    await opened?.close();
  });

  it('puts every slot into the local cell the processors give it, across a summer-time change', async () => {
    const patterns = await queryLoadPatterns(warehouse, { index } as never);
    for (const [dt, feederId, zone] of [
      ['dt-ber', 'f-ber', berlin],
      ['dt-kol', 'f-kol', kolkata],
    ] as const) {
      const sums = new Map<number, { kw: number; meters: number }>();
      const shapeSums = new Map<number, { kw: number; n: number }>();
      const add = (slot: number, k: number, value: number) => {
        const cell = localCell(slot, zone);
        const sum = sums.get(cell) ?? { kw: 0, meters: 0 };
        sum.kw += value;
        sum.meters += meters(k);
        sums.set(cell, sum);
        const hour = shapeIndex(slot, zone);
        const shape = shapeSums.get(hour) ?? { kw: 0, n: 0 };
        shape.kw += value;
        shape.n++;
        shapeSums.set(hour, shape);
      };
      slots.forEach((slot, k) => {
        if (dt === 'dt-ber' || slot !== friday) add(slot, k, kw(k));
      });
      if (dt === 'dt-kol') {
        add(friday, 100, kw(100));
        // Its reading is of 50 kW: take back the envelope's kW from the shape and count the reading's.
        const shape = shapeSums.get(shapeIndex(friday, zone))!;
        shape.kw += 50 - kw(100);
      }
      const expected = Array.from({ length: 2 * SLOTS_PER_DAY }, (_, cell) => {
        const sum = sums.get(cell);
        return sum ? sum.kw / sum.meters : NaN;
      });
      const got = [...patterns.perMeter.get(feederId)!];
      expect(got.map((v) => (Number.isNaN(v) ? null : Number(v.toFixed(9))))).toEqual(
        expected.map((v) => (Number.isNaN(v) ? null : Number(v.toFixed(9)))),
      );
      const shape = [...patterns.meterShapes.get(dt)!.get(`${dt.slice(3)}-1`)!];
      const expectedShape = Array.from({ length: 48 }, (_, hour) => {
        const sum = shapeSums.get(hour);
        return sum ? sum.kw / sum.n : NaN;
      });
      expect(shape.map((v) => (Number.isNaN(v) ? null : Number(v.toFixed(4))))).toEqual(
        expectedShape.map((v) => (Number.isNaN(v) ? null : Number(v.toFixed(4)))),
      );
    }
    // The Friday 18:45 UTC slot is Saturday 00:15 in Kolkata: a weekend cell of its own.
    expect(localCell(friday, kolkata)).toBe(SLOTS_PER_DAY + 1);
    expect(patterns.perMeter.get('f-kol')![SLOTS_PER_DAY + 1]).toBeCloseTo(kw(100) / meters(100), 9);
    expect(shapeIndex(friday, kolkata)).toBe(24);
    // Across the change the same UTC quarter hour is two different local slots.
    expect(localCell(change - DAY_MS, berlin) % SLOTS_PER_DAY).not.toBe(
      localCell(change + DAY_MS, berlin) % SLOTS_PER_DAY,
    );
  });
});
