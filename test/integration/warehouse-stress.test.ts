import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DAY_MS, SLOT_MS, slotStart } from '../../core/time.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { runQuery } from '../../io/warehouse/query.js';
import { queries } from '../../io/warehouse/queries.gen.js';
import { sqlQuery } from '../../io/warehouse/sql-files.js';
import {
  dtOperatingEnvelopeRow,
  dtStressRow,
  envelopeRow,
  topologyTransformerRow,
  weatherRow,
} from '../../io/warehouse/rows.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { queryRecentWeather, queryStressHistory } from '../../pipelines/stress-restore.js';
import type { DtEnvelope, WeatherObservation } from '../../schemas/types.gen.js';
import { ENGINES, openTestWarehouse, type TestWarehouse } from '../support/clickhouse-server.js';
import { operatingEnvelope, sampleEnvelope, stressRow } from '../support/records.js';
import { transformer } from '../support/topology.js';

/**
 * The stress tables (sql/009_stress.sql) and the restore queries (sql/queries/stress_*.sql) on both engines:
 * rows written by the sink's mappers read back as the records the stress stage resumes from.
 */
// Recent times: rows older than the retention would be dropped on insert.
const SLOT = slotStart(Date.now() - DAY_MS);
const HISTORY_MS = 2 * 3_600_000;

const envelope = (dt: string, slot: number, over: Partial<DtEnvelope> = {}): DtEnvelope => ({
  ...sampleEnvelope,
  dt_id: dt,
  slot_start: slot,
  version: 2 * (slot + SLOT_MS) + 1,
  is_final: true,
  ...over,
});

/** Per-meter slots of an envelope: what the stress processor learns customers' sensitivities from. */
const METERS = [
  { meter_id: 'mtr-000001', p_kw: 1.25, v_low: 228.5, v_high: 229.75 },
  { meter_id: 'mtr-000002', p_kw: -2.5, v_low: 231, v_high: 231 },
];

describe.each(ENGINES)('stress tables on %s', (engine) => {
  let opened: TestWarehouse;
  let warehouse: Warehouse;
  const latest = stressRow('dt-a', SLOT + SLOT_MS, { state_initialised: true, thermal_exceeded: true });

  beforeAll(async () => {
    opened = await openTestWarehouse(engine);
    warehouse = opened.warehouse;
    await migrate(warehouse);
    await warehouse.insert(
      'dt_stress',
      [
        stressRow('dt-a', SLOT),
        latest,
        stressRow('dt-b', SLOT - SLOT_MS, { data_quality: 'modelled_only', v_min: null }),
      ].map(dtStressRow),
    );
    await warehouse.insert(
      'envelopes',
      [
        envelope('dt-a', SLOT - 3 * 3_600_000), // before the history window
        envelope('dt-a', SLOT - SLOT_MS),
        envelope('dt-a', SLOT, { version: 5 }),
        envelope('dt-a', SLOT, { version: 9, net_mean_kw: 7.5, meters: METERS }), // a revision: the newest is learnt
        envelope('dt-a', SLOT + SLOT_MS),
        envelope('dt-a', SLOT + 2 * SLOT_MS), // after the resume point: from the log, not the warehouse
        envelope('dt-c', SLOT, { is_final: false }),
      ].map(envelopeRow),
    );
  });

  afterAll(async () => {
    await opened?.close();
  });

  it('resumes each DT from its newest row, with the final envelopes of the window before it', async () => {
    const history = await queryStressHistory(warehouse, ['dt-a', 'dt-b', 'dt-c'], HISTORY_MS);
    // The customers' sensitivities are not resumed: the envelopes' per-meter slots teach them again.
    expect(history.resume).toEqual([
      { ...latest, customers: [] },
      stressRow('dt-b', SLOT - SLOT_MS, { data_quality: 'modelled_only', v_min: null, customers: [] }),
    ]);
    expect(history.envelopes.map((e) => [e.dt_id, e.slot_start - SLOT])).toEqual([
      ['dt-a', -SLOT_MS],
      ['dt-a', 0],
      ['dt-a', SLOT_MS],
    ]);
    expect(history.envelopes[1]).toEqual(
      envelope('dt-a', SLOT, { version: 9, net_mean_kw: 7.5, meters: METERS }),
    );
    expect(await queryStressHistory(warehouse, ['dt-x'], HISTORY_MS)).toEqual({ resume: [], envelopes: [] });
  });

  it('keeps the newest issue of an operating-envelope slot', async () => {
    const issue = (issuedAt: number, importKw: number) =>
      operatingEnvelope('dt-a', SLOT + 4 * SLOT_MS, issuedAt, {
        import_kw: importKw,
        import_slot_kw: importKw + 20,
      });
    await warehouse.insert(
      'dt_operating_envelopes',
      [issue(SLOT, 50), issue(SLOT + SLOT_MS, 45)].map(dtOperatingEnvelopeRow),
    );
    const rows = await warehouse.query<Record<string, unknown>>(
      `SELECT import_kw, import_limited_by, data_quality FROM dt_operating_envelopes FINAL`,
    );
    expect(rows).toEqual([{ import_kw: 45, import_limited_by: 'hot_spot', data_quality: 'ami-imputed' }]);
  });

  it("reads a DT's stress rows, operating envelopes and newest tier for the API, in slot order", async () => {
    const range = { dt_id: 'dt-a', from_ms: SLOT - DAY_MS, to_ms: SLOT + DAY_MS };
    const stress = await warehouse.query<Record<string, unknown>>(sqlQuery('dt_stress_rows'), range);
    expect(
      stress.map((r) => [Number(r.slot_start_ms) - SLOT, r.thermal_exceeded, r.state_initialised]),
    ).toEqual([
      [0, false, false],
      [SLOT_MS, true, true],
    ]);
    expect(stress[1]).toMatchObject({
      loss_of_life_min: latest.loss_of_life_min,
      data_quality: 'ami-direct',
    });
    expect(
      await warehouse.query(sqlQuery('dt_stress_rows'), {
        ...range,
        from_ms: SLOT + SLOT_MS,
        to_ms: SLOT + SLOT_MS,
      }),
    ).toEqual([]);

    // The operating-envelope test above stored two issues of one slot: the newest is served.
    const doe = await warehouse.query<Record<string, unknown>>(sqlQuery('dt_operating_envelope_rows'), range);
    expect(
      doe.map((r) => [Number(r.slot_start_ms) - SLOT, Number(r.issued_at_ms) - SLOT, r.import_kw]),
    ).toEqual([[4 * SLOT_MS, SLOT_MS, 45]]);
    expect(doe[0]).toMatchObject({
      import_limited_by: 'hot_spot',
      v_max_high: null,
      data_quality: 'ami-imputed',
    });

    const [quality] = await warehouse.query<Record<string, unknown>>(sqlQuery('dt_newest_quality'), {
      dt_id: 'dt-a',
    });
    expect(Number(quality!.slots)).toBeGreaterThan(0);
    expect(quality!.data_quality).toBe('ami-direct');
    const [none] = await warehouse.query<Record<string, unknown>>(sqlQuery('dt_newest_quality'), {
      dt_id: 'dt-x',
    });
    expect(Number(none!.slots)).toBe(0);
  });

  it("reads a DT's newest operating-envelope issue, slot by slot, and where the DT stands", async () => {
    const row = (slot: number, issuedAt: number, importKw: number) =>
      operatingEnvelope('dt-n', slot, issuedAt, {
        confidence: 0.9,
        base_kw: 80,
        base_kw_high: 95,
        base_kw_low: 65,
        import_kw: importKw,
        import_slot_kw: importKw + 30,
        import_limited_by: 'top_oil',
        data_quality: 'ami_direct',
      });
    const first = SLOT;
    const second = SLOT + SLOT_MS;
    await warehouse.insert(
      'dt_operating_envelopes',
      [
        row(SLOT + SLOT_MS, first, 60),
        row(SLOT + 2 * SLOT_MS, first, 61),
        row(SLOT + 2 * SLOT_MS, second, 70),
        row(SLOT + 3 * SLOT_MS, second, 71),
      ].map(dtOperatingEnvelopeRow),
    );
    const newest = await warehouse.query<Record<string, unknown>>(sqlQuery('dt_envelope_newest_issues'), {
      dts: ['dt-n', 'dt-a', 'dt-x'],
    });
    // dt-a's newest issue is the one the test above stored last.
    expect(
      newest.map((r) => [
        r.dt_id,
        Number(r.slot_start_ms) - SLOT,
        Number(r.issued_at_ms) - SLOT,
        r.import_kw,
      ]),
    ).toEqual([
      ['dt-a', 4 * SLOT_MS, SLOT_MS, 45],
      ['dt-n', 2 * SLOT_MS, SLOT_MS, 70],
      ['dt-n', 3 * SLOT_MS, SLOT_MS, 71],
    ]);
    expect(newest[1]).toMatchObject({
      confidence: 0.9,
      base_kw_low: 65,
      export_limited_by: 'voltage',
      data_quality: 'ami-direct',
    });
    expect(await warehouse.query(sqlQuery('dt_envelope_newest_issues'), { dts: ['dt-x'] })).toEqual([]);

    await warehouse.insert('topology_transformers', [
      topologyTransformerRow({
        ...transformer('dt-n', { latitude: 12.5, longitude: 77.25 }),
        topology_version: 1,
      }),
    ]);
    expect(await warehouse.query(sqlQuery('dt_location'), { dt_id: 'dt-n' })).toEqual([
      { latitude: 12.5, longitude: 77.25, timezone: null, nominal_voltage_v: 230 },
    ]);

    // A judgement's tier and coverage: those of the load-envelope slot dt-n's newest issue (issued at
    // SLOT + SLOT_MS) was forecast from, SLOT, whatever slot is newer.
    await warehouse.insert('envelopes', [
      envelopeRow(envelope('dt-n', SLOT, { ami_coverage_pct: 80, data_quality: 'ami_imputed' })),
      envelopeRow(envelope('dt-n', SLOT + SLOT_MS, { ami_coverage_pct: 100, data_quality: 'ami_direct' })),
    ]);
    expect(await runQuery(warehouse, queries.dt_issue_quality, { dts: ['dt-n', 'dt-x'] })).toEqual([
      { dt_id: 'dt-n', ami_coverage_pct: 80, data_quality: 'ami-imputed' },
    ]);
    // The nameplates of the DT's feeder, with their meter counts (none here).
    expect(await runQuery(warehouse, queries.feeder_nameplates, { dts: ['dt-n'] })).toEqual([
      expect.objectContaining({
        dt_id: 'dt-n',
        rated_kva: transformer('dt-n').rated_kva,
        meters_connected: 0,
      }),
    ]);
  });

  it("reads every station's recent weather back in time order", async () => {
    const obs = (station: string, ts: number, c: number): WeatherObservation => ({
      station_id: station,
      ts,
      ambient_c: c,
      received_at: ts + 1000,
    });
    await warehouse.insert(
      'weather',
      [obs('ws-2', SLOT, 20.5), obs('ws-1', SLOT, 21), obs('ws-1', SLOT - 3 * 3_600_000, 15)].map(weatherRow),
    );
    expect(await queryRecentWeather(warehouse, HISTORY_MS)).toEqual([
      obs('ws-1', SLOT, 21),
      obs('ws-2', SLOT, 20.5),
    ]);
  });
});
