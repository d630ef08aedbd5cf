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
import { patternIndex, shapeIndex, utcOffsetMs } from '../../processors/load-envelope/imputation.js';
import type { DtEnvelope, TopologyMeter, TopologyTransformer } from '../../schemas/types.gen.js';
import { sampleEnvelope } from '../support/records.js';
import { ENGINES, openTestWarehouse, type TestWarehouse } from '../support/clickhouse-server.js';
import { meter, transformer } from '../support/topology.js';

/**
 * The load-pattern queries (sql/queries/feeder_load_patterns.sql, dt_load_levels.sql, meter_load_patterns.sql)
 * on both engines, through queryLoadPatterns as the envelope stage runs them: local time from the longitude,
 * only final measured slots, the measured part of imputed ones, the four-week window.
 */
// A recent Wednesday 10:00 UTC (rows older than the retention would be dropped on insert).
const NOW = Date.now();
const WED = (() => {
  const day = Math.floor(NOW / DAY_MS) - 7;
  for (let d = day; ; d--) if ((((d + 3) % 7) + 7) % 7 === 2) return d * DAY_MS + 10 * 3_600_000;
})();
const LON = 77.59; // UTC+5 by mean solar time

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
      readingRow({
        meter_id: meterId,
        dt_id: `dt-${meterId[0]}`,
        ts,
        p_kw,
        q_kvar: null,
        legs: [],
        e_imp_kwh: null,
        e_exp_kwh: null,
        received_at: ts + 1000,
      });
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
    const offset = utcOffsetMs(LON);
    expect(offset).toBe(5 * 3_600_000);
    const feeder = patterns.perMeter.get('f1')!;
    // Weekday 15:00 local: (4 + 2) kW on 3 reporting meters.
    expect(feeder[patternIndex(WED, offset)]).toBeCloseTo(2, 9);
    expect(patternIndex(WED, offset)).toBe(60);
    expect(feeder[patternIndex(WED + 3 * DAY_MS, offset)]).toBeCloseTo(3, 9);
    expect(patternIndex(WED + 3 * DAY_MS, offset)).toBe(SLOTS_PER_DAY + 60);
    expect(feeder.filter((v) => !Number.isNaN(v)).length).toBe(2);
    // Feeder level: 12 kW over 5 meter-slots; dt-a 10 / 4, dt-b 2 / 1.
    expect(patterns.dtScale.get('dt-a')).toBeCloseTo(2.5 / 2.4, 9);
    expect(patterns.dtScale.get('dt-b')).toBeCloseTo(2 / 2.4, 9);
    expect([...patterns.metered].sort()).toEqual(['dt-a', 'dt-b']);
    // 4 meters on 200 kVA.
    expect(patterns.perKva.get('f1')![60]).toBeCloseTo((2 * 4) / 200, 9);
    const a1 = patterns.meterShapes.get('dt-a')!.get('a1')!;
    expect(a1[shapeIndex(WED, offset)]).toBeCloseTo(2, 6);
    expect(a1[shapeIndex(WED + 3 * DAY_MS, offset)]).toBeCloseTo(8, 6);
    expect(patterns.meterShapes.get('dt-b')!.get('b1')![15]).toBeCloseTo(2, 6);
  });
});
