import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DAY_MS, MINUTE_MS, SLOT_MS, slotStart } from '../../core/time.js';
import type {
  DeadLetter,
  DispatchCheck,
  DispatchCommand,
  DtEnvelope,
  MeterReading,
  TopologyMeter,
  TopologyTransformer,
  WeatherObservation,
} from '../../schemas/types.gen.js';
import { ChdbWarehouse } from '../../io/warehouse/chdb-warehouse.js';
import { supports } from '../../io/warehouse/dialect.js';
import { migrate } from '../../io/warehouse/migrate.js';
import {
  dateTime64,
  deadLetterRow,
  dispatchCheckRow,
  dispatchRow,
  dtOperatingEnvelopeRow,
  envelopeRow,
  parseDateTime64,
  readingRow,
  topologyAssetRow,
  topologyMeterRow,
  topologyTransformerRow,
  topologyVersionRow,
  weatherRow,
} from '../../io/warehouse/rows.js';
import { ServerWarehouse } from '../../io/warehouse/server-warehouse.js';
import { sqlQuery } from '../../io/warehouse/sql-files.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import {
  ENGINE_LABELS,
  ENGINES,
  openTestWarehouse,
  type TestWarehouse,
} from '../support/clickhouse-server.js';
import { operatingEnvelope } from '../support/records.js';

// Recent instants: rows older than the retention (TTL) would be dropped on insert.
const SLOT = slotStart(Date.now() - DAY_MS);
const RECEIVED = SLOT + 20 * MINUTE_MS;

function envelope(dtId: string, version: number, overrides: Partial<DtEnvelope> = {}): DtEnvelope {
  return {
    dt_id: dtId,
    slot_start: SLOT,
    version,
    is_final: false,
    net_mean_kw: 41.5,
    min_kw: 12.25,
    max_kw: 80.125,
    p95_kw: 77,
    import_kwh: 10.5,
    export_kwh: 0.25,
    q_mean_kvar: null,
    legs: [
      { leg: 1, v_min: 228.5, v_mean: 231.25, v_max: 236 },
      { leg: 2, v_min: 227, v_mean: 230, v_max: 235.5 },
    ],
    meters_reporting: 38,
    meters_connected: 40,
    readings: version,
    ami_coverage_pct: 95,
    data_quality: 'ami_direct',
    imputed_kw: 0,
    imputed_meters: 0,
    profile_source: 'measured',
    meters: [],
    ...overrides,
  };
}

describe.each(ENGINES)('warehouse tables on %s', (engine) => {
  let opened: TestWarehouse;
  let warehouse: Warehouse;

  beforeAll(async () => {
    opened = await openTestWarehouse(engine);
    warehouse = opened.warehouse;
    await migrate(warehouse);
  });

  afterAll(async () => {
    await opened?.close();
  });

  it(`is ${ENGINE_LABELS[engine]}`, () => {
    expect(warehouse.kind).toBe(engine);
    if (engine === 'embedded') {
      expect((warehouse as ChdbWarehouse).dataDir).toBe(join(opened.dataDir!, 'clickhouse'));
    } else {
      expect((warehouse as ServerWarehouse).version.text).toBe(opened.server!.version);
    }
  });

  it('round-trips a meter reading, legs and nullable fields included', async () => {
    const reading: MeterReading = {
      meter_id: 'm-rt-1',
      dt_id: 'dt-rt',
      ts: SLOT + 3_123,
      p_kw: -1.42,
      q_kvar: null,
      legs: [
        { leg: 1, v: 231.4, i: 6.2 },
        { leg: 2, v: 229.9, i: 5.75 },
      ],
      e_imp_kwh: 5120.4,
      e_exp_kwh: null,
      received_at: RECEIVED,
    };
    await warehouse.insert('readings', [readingRow(reading)]);
    // Ad-hoc SQL may use gates too: without DateTime64 the epoch milliseconds are a column (dialect.ts).
    const rows = await warehouse.query(
      `SELECT *,
       -- @if datetime64
         toUnixTimestamp64Milli(ts) AS ts_ms
       -- @else
       --  ts_ms
       -- @end
       FROM readings FINAL WHERE meter_id = {m:String}`,
      { m: 'm-rt-1' },
    );
    expect(rows).toEqual([
      {
        meter_id: 'm-rt-1',
        dt_id: 'dt-rt',
        ts: dateTime64(reading.ts),
        p_kw: -1.42,
        q_kvar: null,
        'legs.leg': [1, 2],
        'legs.v': [231.4, 229.9],
        'legs.i': [6.2, 5.75],
        e_imp_kwh: 5120.4,
        e_exp_kwh: null,
        received_at: dateTime64(RECEIVED),
        ts_ms: String(reading.ts), // Int64 (UInt64 without DateTime64): a string in JSON, on every engine
      },
    ]);
    expect(parseDateTime64(rows[0]!.ts as string)).toBe(reading.ts);
  });

  it('keeps one copy of a replayed reading (ReplacingMergeTree, FINAL)', async () => {
    const reading: MeterReading = {
      meter_id: 'm-replay',
      dt_id: 'dt-rt',
      ts: SLOT + MINUTE_MS,
      p_kw: 2,
      q_kvar: 0.5,
      legs: [{ leg: 1, v: 230, i: 8.7 }],
      e_imp_kwh: null,
      e_exp_kwh: null,
      received_at: RECEIVED,
    };
    await warehouse.insert('readings', [readingRow(reading)], { dedupToken: 'replay-a' });
    await warehouse.insert('readings', [readingRow(reading)], { dedupToken: 'replay-b' });
    const [row] = await warehouse.query<{ n: string }>(
      `SELECT count() AS n FROM readings FINAL WHERE meter_id = 'm-replay'`,
    );
    expect(row?.n).toBe('1');
  });

  it('round-trips an envelope with the seed spelling of data quality', async () => {
    const e = envelope('dt-quality', 7, {
      q_mean_kvar: 3.5,
      is_final: true,
      data_quality: 'modelled_only',
      imputed_kw: 2.5,
      imputed_meters: 2,
      profile_source: 'imputed',
      meters: [{ meter_id: 'mtr-000001', p_kw: 1.25, v_low: 228.5, v_high: 229.75 }],
    });
    await warehouse.insert('envelopes', [envelopeRow(e)]);
    const rows = await warehouse.query(
      `SELECT *, slot_end, toString(data_quality) AS label FROM envelopes FINAL WHERE dt_id = 'dt-quality'`,
    );
    expect(rows).toEqual([
      {
        dt_id: 'dt-quality',
        slot_start: dateTime64(SLOT),
        version: '7',
        is_final: true,
        net_mean_kw: 41.5,
        min_kw: 12.25,
        max_kw: 80.125,
        p95_kw: 77,
        import_kwh: 10.5,
        export_kwh: 0.25,
        q_mean_kvar: 3.5,
        'legs.leg': [1, 2],
        'legs.v_min': [228.5, 227],
        'legs.v_mean': [231.25, 230],
        'legs.v_max': [236, 235.5],
        meters_reporting: 38,
        meters_connected: 40,
        readings: 7,
        ami_coverage_pct: 95,
        data_quality: 'modelled-only',
        imputed_kw: 2.5,
        imputed_meters: 2,
        profile_source: 'imputed',
        'meters.meter_id': ['mtr-000001'],
        'meters.p_kw': [1.25],
        'meters.v_low': [228.5],
        'meters.v_high': [229.75],
        slot_end: dateTime64(SLOT + SLOT_MS),
        label: 'modelled-only',
      },
    ]);
  });

  it('refuses a data-quality value that is not one of the three tiers', async () => {
    const row = { ...envelopeRow(envelope('dt-bad', 1)), data_quality: 'ami_direct' };
    await expect(warehouse.insert('envelopes', [row])).rejects.toThrow(
      /ClickHouse insert failed.*envelopes/s,
    );
  });

  it('keeps the highest version of a slot: 3, then 5, then 3 again gives one row with version 5', async () => {
    for (const version of [3, 5, 3]) {
      await warehouse.insert('envelopes', [envelopeRow(envelope('dt-versions', version))], {
        dedupToken: `envelope-version-${version}-${Math.random()}`,
      });
    }
    const rows = await warehouse.query<{ version: string; readings: number }>(
      `SELECT version, readings FROM envelopes FINAL WHERE dt_id = 'dt-versions'`,
    );
    expect(rows).toEqual([{ version: '5', readings: 5 }]);
  });

  it('places each asset behind the DT of its newest topology row (asset_dts)', async () => {
    const asset = (asset_id: string, dt_id: string, topology_version: number) =>
      topologyAssetRow({
        asset_id,
        dt_id,
        meter_id: null,
        asset_type: 'BESS',
        nominal_kw: 250.5,
        topology_version,
      });
    await warehouse.insert('topology_assets', [
      asset('bess-q', 'dt-1', 1),
      asset('bess-q', 'dt-2', 3),
      asset('ev-q', 'dt-1', 2),
    ]);
    const rows = await warehouse.query(sqlQuery('asset_dts'), { asset_ids: ['bess-q', 'ev-q', 'nowhere'] });
    expect(rows).toEqual([
      { asset_id: 'bess-q', dt_id: 'dt-2' },
      { asset_id: 'ev-q', dt_id: 'dt-1' },
    ]);
  });

  it('finds the envelope in force at a dispatch time, and the newest check of each dispatch', async () => {
    const issue = (slot: number, issuedAt: number, importKw: number) =>
      dtOperatingEnvelopeRow(
        operatingEnvelope('dt-disp', slot, issuedAt, {
          import_kw: importKw,
          import_limited_by: 'top_oil',
          v_min_low: null,
          data_quality: 'ami_direct',
        }),
      );
    // Slot 4 has an issue made at SLOT (before the dispatch time below), slot 5 only ones made after it.
    await warehouse.insert('dt_operating_envelopes', [
      issue(SLOT + 4 * SLOT_MS, SLOT, 50),
      issue(SLOT + 5 * SLOT_MS, SLOT + 2 * SLOT_MS, 45),
      issue(SLOT + 5 * SLOT_MS, SLOT + 3 * SLOT_MS, 44),
    ]);
    const inForce = (slotMs: number, atMs: number) =>
      warehouse.query(sqlQuery('dispatch_envelope_in_force'), {
        dt_id: 'dt-disp',
        slot_ms: slotMs,
        at_ms: atMs,
      });
    expect(await inForce(SLOT + 4 * SLOT_MS, SLOT + SLOT_MS)).toEqual([
      {
        issued_at_ms: String(SLOT),
        import_kw: 50,
        export_kw: 80,
        import_limited_by: 'top_oil',
        export_limited_by: 'voltage',
        data_quality: 'ami-direct',
      },
    ]);
    // Only issues made after the time (a late check): the earliest left, whether or not the later merged it away.
    const late = (await inForce(SLOT + 5 * SLOT_MS, SLOT + SLOT_MS)) as Array<{ issued_at_ms: string }>;
    expect(late).toHaveLength(1);
    expect([String(SLOT + 2 * SLOT_MS), String(SLOT + 3 * SLOT_MS)]).toContain(late[0]!.issued_at_ms);
    expect(await inForce(SLOT + 6 * SLOT_MS, SLOT + SLOT_MS)).toEqual([]);

    const check = (checkedAt: number, verdict: DispatchCheck['verdict']): DispatchCheck => ({
      event_id: 'ev-1',
      asset_id: 'bess-1',
      dispatch_time: SLOT,
      delivery_period_start: SLOT + SLOT_MS,
      received_at: SLOT + 1,
      dt_id: verdict === 'unknown_asset' ? null : 'dt-disp',
      requested_kw: -12.5,
      headroom_kw: verdict === 'within' ? 50 : null,
      limited_by: verdict === 'within' ? 'top_oil' : null,
      envelope_issued_at: verdict === 'within' ? SLOT - SLOT_MS : null,
      data_quality: verdict === 'within' ? 'ami-direct' : null,
      limit_kw: verdict === 'within' ? -20 : null,
      limit_source: verdict === 'within' ? 'OPERATIONS' : null,
      network_share: verdict === 'within' ? 0.5 : null,
      verdict,
      checked_at: checkedAt,
    });
    await warehouse.insert(
      'dispatch_checks',
      [check(SLOT + 5, 'unknown_asset'), check(SLOT + 9, 'within')].map(dispatchCheckRow),
    );
    expect(
      await warehouse.query(sqlQuery('dispatch_checks_for_events'), { event_ids: ['ev-1', 'ev-x'] }),
    ).toEqual([
      {
        event_id: 'ev-1',
        dt_id: 'dt-disp',
        requested_kw: -12.5,
        headroom_kw: 50,
        limited_by: 'top_oil',
        envelope_issued_ms: String(SLOT - SLOT_MS),
        data_quality: 'ami-direct',
        limit_kw: -20,
        limit_source: 'OPERATIONS',
        network_share: 0.5,
        verdict: 'within',
      },
    ]);
  });

  it('serves the envelopes_for_dt query from sql/queries with bound parameters', async () => {
    await warehouse.insert('envelopes', [
      envelopeRow(envelope('dt-query', 1)),
      envelopeRow(envelope('dt-query', 2, { slot_start: SLOT + SLOT_MS, data_quality: 'ami_imputed' })),
      envelopeRow(envelope('dt-query', 1, { slot_start: SLOT + 2 * SLOT_MS })),
      envelopeRow(envelope('dt-other', 1, { slot_start: SLOT + SLOT_MS })),
    ]);
    const rows = await warehouse.query<Record<string, unknown>>(sqlQuery('envelopes_for_dt'), {
      dt_id: 'dt-query',
      from_ms: SLOT,
      to_ms: SLOT + 2 * SLOT_MS,
    });
    expect(rows.map((r) => [r.slot_start_ms, r.data_quality, r.leg])).toEqual([
      [String(SLOT), 'ami-direct', [1, 2]],
      [String(SLOT + SLOT_MS), 'ami-imputed', [1, 2]],
    ]);
  });

  it('stores dead-letter bytes exactly, including bytes that are not UTF-8', async () => {
    // hex(raw) works on every server (base64Encode is missing from Debian's 18.16 build).
    const raw = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22, 0x0a, 0x5c, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x80]);
    const letter: DeadLetter = {
      received_at: RECEIVED,
      source_topic: 'gridstream/v1/meters/m-17/telemetry',
      reason_code: 'invalid_json',
      reason: 'payload is not JSON: unexpected byte 0xff at offset 0',
      key: 'm-17',
      raw,
      source_partition: null,
      source_offset: null,
    };
    const empty: DeadLetter = { ...letter, key: null, raw: Buffer.alloc(0), reason_code: 'schema' };
    await warehouse.insert('dead_letters', [deadLetterRow(letter), deadLetterRow(empty)]);
    const rows = await warehouse.query<Record<string, unknown>>(
      `SELECT received_at, source_topic, reason_code, reason, key, hex(raw) AS raw_hex, length(raw) AS bytes
       FROM dead_letters FINAL ORDER BY reason_code`,
    );
    expect(rows).toEqual([
      {
        received_at: dateTime64(RECEIVED),
        source_topic: letter.source_topic,
        reason_code: 'invalid_json',
        reason: letter.reason,
        key: 'm-17',
        raw_hex: raw.toString('hex').toUpperCase(),
        bytes: String(raw.length),
      },
      {
        received_at: dateTime64(RECEIVED),
        source_topic: letter.source_topic,
        reason_code: 'schema',
        reason: letter.reason,
        key: null,
        raw_hex: '',
        bytes: '0',
      },
    ]);
    expect(Buffer.from(rows[0]!.raw_hex as string, 'hex').equals(raw)).toBe(true);
  });

  it('round-trips topology meters, transformers and versions; the highest topology version wins', async () => {
    const meter: TopologyMeter = {
      meter_id: 'm-topo',
      meter_number: 'MN-0001',
      electronic_serial_number: 'ESN-77',
      service_point_id: 'SP-1',
      premise_id: 'P-1',
      legs: 2,
      dt_id: 'dt-old',
      topology_version: 1,
    };
    const transformer: TopologyTransformer = {
      dt_id: 'dt-topo',
      feeder_id: 'F-9',
      rated_kva: 100,
      cooling_class: 'ONAN',
      latitude: -33.86,
      longitude: 151.2,
      weather_station_id: null,
      nominal_voltage_v: 230,
      top_oil_rise_k: 55,
      hot_spot_gradient_k: null,
      loss_ratio: 6,
      tau_oil_min: null,
      tau_winding_min: 4,
      tenant: 'default',
      timezone: null,
      topology_version: 2,
    };
    await warehouse.insert('topology_meters', [
      topologyMeterRow({ ...meter, topology_version: 2, dt_id: 'dt-new' }),
      topologyMeterRow(meter),
    ]);
    await warehouse.insert('topology_transformers', [topologyTransformerRow(transformer)]);
    await warehouse.insert('topology_versions', [
      topologyVersionRow({
        version: 2,
        loaded_at: RECEIVED,
        source: 'topology.csv',
        meters: 1,
        transformers: 1,
      }),
    ]);
    expect(await warehouse.query(`SELECT * FROM topology_meters FINAL`)).toEqual([
      { ...meter, dt_id: 'dt-new', topology_version: '2' },
    ]);
    expect(await warehouse.query(`SELECT * FROM topology_transformers FINAL`)).toEqual([
      { ...transformer, topology_version: '2' },
    ]);
    expect(await warehouse.query(`SELECT * FROM topology_versions FINAL`)).toEqual([
      { version: '2', loaded_at: dateTime64(RECEIVED), source: 'topology.csv', meters: 1, transformers: 1 },
    ]);
  });

  it('round-trips weather observations', async () => {
    const observation: WeatherObservation = {
      station_id: 'ws-1',
      ts: SLOT,
      ambient_c: 31.5,
      received_at: RECEIVED,
    };
    await warehouse.insert('weather', [weatherRow(observation)]);
    expect(await warehouse.query(`SELECT * FROM weather FINAL`)).toEqual([
      { station_id: 'ws-1', ts: dateTime64(SLOT), ambient_c: 31.5, received_at: dateTime64(RECEIVED) },
    ]);
  });

  it('round-trips dispatch commands and cancels, amounts as exact decimal strings', async () => {
    const command: DispatchCommand = {
      event_id: '6f1c2a4e-8d1b-4c57-9a43-1f0e6b2d7c90',
      source: 'vpp-platform',
      published_at: RECEIVED - 1_000,
      asset_id: 'bess-42',
      dispatch_time: SLOT - 5 * MINUTE_MS,
      delivery_period_start: SLOT,
      target_power: { amount: '-250.125000000000000001', unit: 'kW' },
      nominal_power: { amount: '0.5', unit: 'MW' },
      power_imbalance: null,
      soc_imbalance: null,
      received_at: RECEIVED,
      action: 'dispatch',
    };
    // A cancel of the same event, later: its own row (a different dispatch time).
    const cancel: DispatchCommand = {
      ...command,
      dispatch_time: SLOT,
      target_power: { amount: '0', unit: 'kW' },
      nominal_power: null,
      action: 'cancel',
    };
    await warehouse.insert('dispatches', [dispatchRow(command), dispatchRow(cancel)]);
    expect(
      await warehouse.query(`SELECT *, target_power_kw FROM dispatches FINAL ORDER BY dispatch_time`),
    ).toEqual([
      {
        event_id: command.event_id,
        source: 'vpp-platform',
        published_at: dateTime64(RECEIVED - 1_000),
        asset_id: 'bess-42',
        dispatch_time: dateTime64(SLOT - 5 * MINUTE_MS),
        delivery_period_start: dateTime64(SLOT),
        target_power_amount: '-250.125000000000000001',
        target_power_unit: 'kW',
        nominal_power_amount: '0.5',
        nominal_power_unit: 'MW',
        power_imbalance_amount: null,
        power_imbalance_unit: null,
        soc_imbalance_amount: null,
        soc_imbalance_unit: null,
        received_at: dateTime64(RECEIVED),
        action: 'dispatch',
        target_power_kw: -250.125,
      },
      expect.objectContaining({ dispatch_time: dateTime64(SLOT), action: 'cancel', target_power_kw: 0 }),
    ]);
  });

  it('counts a batch retried with the same dedup token once: de-duplicated on insert where the server can, else under FINAL', async () => {
    // Merges would collapse duplicates by themselves; stop them so the count shows what each insert wrote.
    await warehouse.command('SYSTEM STOP MERGES weather');
    try {
      const rows = [0, 1, 2].map((i) =>
        weatherRow({
          station_id: 'ws-dedup',
          ts: SLOT + i * MINUTE_MS,
          ambient_c: 20 + i,
          received_at: RECEIVED,
        }),
      );
      const count = async (final: '' | 'FINAL') =>
        (
          await warehouse.query<{ n: string }>(
            `SELECT count() AS n FROM weather ${final} WHERE station_id = 'ws-dedup'`,
          )
        )[0]?.n;
      await warehouse.insert('weather', rows, { dedupToken: 'batch-1' });
      await warehouse.insert('weather', rows, { dedupToken: 'batch-1' });
      expect(await count('FINAL')).toBe('3');
      const server = warehouse instanceof ServerWarehouse ? warehouse.version : warehouse.dialect;
      if (supports(server, 'insert_deduplication_token')) {
        expect(await count('')).toBe('3');
        // Control: the same rows under another token are inserted again (so the count above is the token's doing).
        await warehouse.insert('weather', rows, { dedupToken: 'batch-2' });
        expect(await count('')).toBe('6');
        expect(await count('FINAL')).toBe('3');
      } else {
        // No insert_deduplication_token (18.16): the retry is stored, and ReplacingMergeTree collapses it.
        expect(await count('')).toBe('6');
      }
    } finally {
      await warehouse.command('SYSTEM START MERGES weather');
    }
  });

  it('binds query parameters (server-side, or client-side on an old server): an injection-shaped value is data', async () => {
    const evil = "x' OR 1=1; DROP TABLE readings; --";
    const rows = await warehouse.query(
      'SELECT count() AS n, {evil:String} AS echoed FROM readings WHERE meter_id = {evil:String}',
      { evil },
    );
    expect(rows).toEqual([{ n: '0', echoed: evil }]);
    const all = await warehouse.query<{ n: string }>('SELECT count() AS n FROM readings');
    expect(Number(all[0]?.n)).toBeGreaterThan(0);
    const bound = await warehouse.query(
      'SELECT {ids:Array(String)} AS ids, {n:UInt32} AS n, {flag:Bool} AS flag, {none:Nullable(String)} AS none',
      { ids: ['a', "b'c"], n: 7, flag: true, none: null },
    );
    expect(bound).toEqual([{ ids: ['a', "b'c"], n: 7, flag: true, none: null }]);
  });

  it('names the failing statement and carries the ClickHouse message', async () => {
    await expect(warehouse.query('SELECT no_such_column FROM readings')).rejects.toThrow(
      /ClickHouse query failed: .*no_such_column[\s\S]*statement: SELECT no_such_column FROM readings/,
    );
    await expect(warehouse.command('ALTER TABLE no_such_table ADD COLUMN x UInt8')).rejects.toThrow(
      /ClickHouse command failed: .*no_such_table/s,
    );
  });

  it('keeps the data after the warehouse is closed and opened again', async () => {
    const before = await warehouse.query('SELECT count() AS n FROM envelopes');
    warehouse = await opened.reopen();
    expect(await warehouse.query('SELECT count() AS n FROM envelopes')).toEqual(before);
    expect(await warehouse.query(`SELECT version FROM envelopes FINAL WHERE dt_id = 'dt-versions'`)).toEqual([
      { version: '5' },
    ]);
    // A reopened database needs no migrations.
    expect((await migrate(warehouse)).applied).toEqual([]);
  });
});
