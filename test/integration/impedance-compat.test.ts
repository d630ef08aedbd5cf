import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { interfaceRow } from '../../api/routes/impedance-compat.js';
import type { ImpedanceRowOut } from '../../serving/impedance-store.js';
import { DAY_MS } from '../../core/time.js';
import { runQuery } from '../../io/warehouse/query.js';
import { queries, type ImpedanceDailyRowsParams } from '../../io/warehouse/queries.gen.js';
import { impedanceDailyRow } from '../../io/warehouse/rows.js';
import { TABLES } from '../../io/warehouse/tables.js';
import { planSimulation, simulateTopology } from '../../simulator/command.js';
import { createSimulation, type SimMessage } from '../../simulator/model.js';
import { publishMessages } from '../../simulator/publisher.js';
import { impedanceParams } from '../support/clickhouse-server.js';
import {
  OTHER_TENANT_KEY,
  startTestGridstream,
  TEST_API_KEY,
  testMqttUrl,
} from '../support/test-gridstream.js';

/*
 * The impedance-statistics interface as its clients speak it (api/routes/impedance-compat.ts), against a
 * running embedded gridstream whose impedance the real pipeline computed from simulated meters in July 2024 (the
 * process's clock is set back so that the interface's own sample requests, dated July 2024, select them). The
 * meters share the four service points of the interface's samples, and report their legs as 0, 6 and 4 instead
 * of 1, 2 and 3 (single-leg meters alternately as 0 and 6): the same wires under the interface's other numbers.
 */

type Running = Awaited<ReturnType<typeof startTestGridstream>>;
type Row = Record<string, unknown>;

const START = Date.UTC(2024, 6, 1);
// Five days: enough current steps that legs 0 and 6 both get daily medians.
const DAYS = 5;
// Customers at the busbar (no LV feeder spans): the impedance estimates then rest on the service drops alone.
const OPTIONS = { seed: 11, transformers: 1, meters: 30, feeders: 1, silentShare: 0, lvFeederScale: 0 };
/** The service points of the interface's sample requests. */
const SAMPLE_SERVICE_POINTS = ['9000053409', '9002036306', '9000910527', '9001640122'];
/** The interface's on-demand sample request, as it gives it. */
const ON_DEMAND_SAMPLE = {
  startEventDate: '2024-07-01',
  endEventDate: '2024-08-01',
  startReceivedDateTime: '2024-07-01T00:00:00Z',
  endReceivedDateTime: '2024-08-01T00:00:00Z',
  ServicePoint: '9000053409,9002036306,9000910527,9001640122',
};
/** The interface's batch sample request, as it gives it. */
const BATCH_SAMPLE = {
  filetype: 'csv',
  tokens: {
    StartEventDate: '2024-01-01',
    EndEventDate: '2025-01-01',
    StartReceivedDateTime: '',
    EndReceivedDateTime: '',
    Device: '',
    ElectronicSerialNumber: '',
    Meter: '',
    MeterNumber: '',
    ServicePoint: '9000053409,9002036306,9000910527,9001640122',
    Premises: '',
    Transformer: '',
    Feeder: '',
  },
  isOhsRequest: false,
};
/** The first row of the interface's on-demand sample response. */
const SAMPLE_ROW = {
  MeterLeg: 1,
  MedianImpedance: 44.38334,
  EventDate: '2023-09-13',
  RecievedTime: '2023-09-13T00:29:55.55Z',
  EventCount: 1,
  ServicePointId: 9000372474,
  MeterId: 1000634831,
  MeterNumber: 1000634831,
  ElectronicSerialNumber: '2.16.840.1.114416.15.80.1000634831',
  TransformerId: '4929542183-90777887',
  PremiseId: 'P9000372474',
};
/** The header line of the interface's batch sample response (ReceivedTime spelt right there). */
const SAMPLE_CSV_HEADER =
  'MeterLeg,MedianImpedance,EventDate,ReceivedTime,EventCount,ServicePointId,MeterId,MeterNumber,ElectronicSerialNumber,TransformerId,PremiseId';
const SUBSCRIPTION = '/dpss/api/v1/subscriptions/sub-0001';

describe('the impedance-statistics interface on its own paths', () => {
  let g: Running;
  let dir: string;
  let dtId: string;
  /** The meter with missing identifiers (a row written straight to the warehouse). */
  const nullMeter = 'm-without-identifiers';

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${g.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_API_KEY}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify(body),
    });
  /** gridstream's own on-demand look-up (X-API-Key), every row. */
  const native = async (body: Row): Promise<ImpedanceRowOut[]> => {
    const response = await fetch(`${g.url}/v1/impedance/on-demand`, {
      method: 'POST',
      headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { rows: ImpedanceRowOut[] }).rows;
  };
  /** The warehouse's rows for a request (the export's query), straight. */
  const stored = (input: Record<string, string>) =>
    runQuery(
      g.edges.warehouse,
      queries.impedance_daily_rows,
      impedanceParams({
        service_points: input.ServicePoint ? input.ServicePoint.split(',') : [],
        start_event_date: '2024-01-01',
        end_event_date: '2025-01-01',
        limit: 1_000_000,
      }) as ImpedanceDailyRowsParams,
    );

  beforeAll(async () => {
    // The clock of this process three days after the simulated window: receive times fall in July 2024.
    const realNow = Date.now.bind(Date);
    const offset = realNow() - (START + DAYS * DAY_MS + 3_600_000);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() - offset);
    dir = mkdtempSync(join(tmpdir(), 'gridstream-impedance-compat-'));
    g = await startTestGridstream({ retentionDays: 3650 });
    const topology = simulateTopology(OPTIONS);
    dtId = topology.transformers[0]!.dt_id;
    topology.meters.forEach((m, i) => (m.service_point_id = SAMPLE_SERVICE_POINTS[i % 4]!));
    // Phase by phase (1 → 0, 2 → 6, 3 → 4), so meters on one phase still share a leg number: the impedance
    // estimate compares a meter leg with its neighbours on the same leg.
    const renumbering = new Map(
      topology.meters.map((m, i) => [m.meter_id, m.legs === 1 ? [0, i % 2 === 0 ? 0 : 6] : [0, 0, 6, 4]]),
    );
    await g.pipeline.loadTopology(topology, 'impedance compat');
    const plan = planSimulation({
      ...OPTIONS,
      mqttUrl: testMqttUrl(g),
      start: START,
      end: START + DAYS * DAY_MS,
      now: START + DAYS * DAY_MS,
    });
    function* messages(): Generator<SimMessage> {
      for (const message of createSimulation(plan).messages()) {
        if (message.kind === 'telemetry') {
          const numbers = renumbering.get(message.source)!;
          const renumbered = (r: { legs: Array<{ leg: number }> }) => ({
            ...r,
            legs: r.legs.map((l) => ({ ...l, leg: numbers[l.leg]! })),
          });
          const payload = Array.isArray(message.payload)
            ? message.payload.map(renumbered)
            : renumbered(message.payload);
          yield { ...message, payload } as SimMessage;
        } else yield message;
      }
    }
    await publishMessages(messages(), { url: testMqttUrl(g), startMs: START, endMs: START + DAYS * DAY_MS });
    await g.pipeline.settle(240_000);
    // A leg-day whose meter the topology gave no meter number or premise (NULL in the warehouse).
    await g.edges.warehouse.insert(TABLES.impedanceDaily, [
      impedanceDailyRow({
        dt_id: dtId,
        meter_id: nullMeter,
        leg: 1,
        day: START + DAY_MS,
        median_mohm: 123.456789,
        stderr_mohm: 1,
        event_count: 4,
        effective_events: 4,
        received_at: START + 2 * DAY_MS + 550,
        version: 1,
        is_final: true,
        service_point_id: SAMPLE_SERVICE_POINTS[3]!,
        meter_number: null,
        electronic_serial_number: 'esn-1',
        premise_id: null,
      }),
    ]);
  }, 600_000);

  afterAll(async () => {
    await g?.stop();
    vi.restoreAllMocks();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers the interface's on-demand sample request with a bare array in its shape, key by key", async () => {
    const correlation = '5e08ab90-b77e-4b8e-9b12-5874be4dbc02';
    const response = await post(`${SUBSCRIPTION}/on-demand`, ON_DEMAND_SAMPLE, {
      'Itron-CorrelationId': correlation,
      DataSubscriberId: 'subscriber-1',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('itron-correlationid')).toBe(correlation);
    const rows = (await response.json()) as Row[];
    expect(Array.isArray(rows)).toBe(true);
    expect(rows.length).toBeGreaterThan(2);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual(Object.keys(SAMPLE_ROW));
      expect(row.MeterLeg).toSatisfy((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 6);
      expect(row.MedianImpedance).toSatisfy(
        (v) => typeof v === 'number' && v > 0 && Number((v as number).toPrecision(7)) === v,
      );
      expect(row.EventDate).toMatch(/^2024-07-0[1-5]$/);
      expect(row.RecievedTime).toMatch(/^2024-07-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/);
      expect(row.EventCount).toSatisfy((v) => Number.isInteger(v) && (v as number) >= 0);
      // Strings, as the interface's table types them; never null (the sample's missing TransformerId is --).
      for (const key of [
        'ServicePointId',
        'MeterId',
        'MeterNumber',
        'ElectronicSerialNumber',
        'TransformerId',
      ])
        expect(typeof row[key]).toBe('string');
      expect(SAMPLE_SERVICE_POINTS).toContain(row.ServicePointId);
      expect(row.TransformerId).toBe(dtId);
    }
    // The same rows as gridstream's own look-up, in the interface's shape.
    const own = await native({ ...ON_DEMAND_SAMPLE, limit: 1000 });
    expect(rows).toEqual(own.map(interfaceRow));
  });

  it('stores and answers the readings of meter legs 0 and 6 (and 4)', async () => {
    const legs = await g.edges.warehouse.query<{ leg: number }>(
      `SELECT DISTINCT leg FROM ${TABLES.readings} ARRAY JOIN legs.leg AS leg ORDER BY leg`,
    );
    expect(legs.map((r) => Number(r.leg))).toEqual([0, 4, 6]);
    const dead = await g.edges.warehouse.query<{ n: string }>(
      `SELECT count() AS n FROM ${TABLES.deadLetters}`,
    );
    expect(Number(dead[0]!.n)).toBe(0);
    const response = await post(`${SUBSCRIPTION}/on-demand`, { Transformer: dtId });
    const rows = (await response.json()) as Row[];
    const answered = new Set(rows.filter((r) => r.MeterId !== nullMeter).map((r) => r.MeterLeg));
    expect(answered).toContain(0);
    expect(answered).toContain(6);
  });

  it('takes every spelling of the date bounds (the interface table, its examples), on both surfaces', async () => {
    const want = await native({ ServicePoint: ON_DEMAND_SAMPLE.ServicePoint, startEventDate: '2024-07-02' });
    expect(want.length).toBeGreaterThan(0);
    const spellings: Row[] = [
      { StartEventDate: '2024-07-02', EndEventDate: '2024-08-01' },
      { startEventDate: '2024-07-02', StartReceivedDatetime: '2024-07-01T00:00:00Z' },
      {
        StartEventDate: '2024-07-02',
        StartReceivedDateTime: '2024-07-01T00:00:00Z',
        EndReceivedDatetime: '',
      },
    ];
    for (const dates of spellings) {
      const body = { ServicePoint: ON_DEMAND_SAMPLE.ServicePoint, ...dates };
      expect(await native(body)).toEqual(want);
      const response = await post(`${SUBSCRIPTION}/on-demand`, body);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(want.map(interfaceRow));
    }
    const contradicting = await post(`${SUBSCRIPTION}/on-demand`, {
      startEventDate: '2024-07-02',
      StartEventDate: '2024-07-03',
    });
    expect(contradicting.status).toBe(400);
  });

  it('echoes the correlation id on refusals too, and gives the request id when there is none', async () => {
    const id = 'a23b8d08-2c95-4f78-9206-77e894e73c48';
    const wrongKey = await post(
      `${SUBSCRIPTION}/on-demand`,
      {},
      {
        authorization: 'Bearer not-the-key-0000000000000000000000000000',
        'Itron-CorrelationId': id,
      },
    );
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.headers.get('itron-correlationid')).toBe(id);
    const badBody = await post(
      `${SUBSCRIPTION}/on-demand`,
      { Colour: 'blue' },
      { 'Itron-CorrelationId': id },
    );
    expect(badBody.status).toBe(400);
    expect(badBody.headers.get('itron-correlationid')).toBe(id);
    const none = await post(`${SUBSCRIPTION}/on-demand`, {});
    expect(none.status).toBe(200);
    expect(none.headers.get('itron-correlationid')).toBe(none.headers.get('x-request-id'));
  });

  it('takes the API key as a Bearer token on every route, and keeps tenants apart', async () => {
    const bearer = await fetch(`${g.url}/v1/dt`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect(bearer.status).toBe(200);
    const other = await post(`${SUBSCRIPTION}/on-demand`, ON_DEMAND_SAMPLE, {
      authorization: `Bearer ${OTHER_TENANT_KEY}`,
    });
    expect(await other.json()).toEqual([]);
  });

  it("answers the interface's batch sample request with its CSV file, -- for a missing value", async () => {
    const response = await post(`${SUBSCRIPTION}/batch-request`, BATCH_SAMPLE, {
      'Itron-CorrelationId': 'a23b8d08-2c95-4f78-9206-77e894e73c48',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('itron-correlationid')).toBe('a23b8d08-2c95-4f78-9206-77e894e73c48');
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const text = await response.text();
    const [header] = parseCsv(text, { to_line: 1 }) as string[][];
    expect(header!.join(',')).toBe(SAMPLE_CSV_HEADER);
    const rows = parseCsv(text, { columns: true }) as Array<Record<string, string>>;
    const want = await stored(BATCH_SAMPLE.tokens);
    expect(rows).toEqual(
      want.map((r) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? '--' : String(v)])),
      ),
    );
    const missing = rows.find((r) => r.MeterId === nullMeter)!;
    expect([missing.MeterNumber, missing.PremiseId]).toEqual(['--', '--']);
    // Unquoted, as the interface writes it.
    expect(text).toMatch(/,--,"esn-1",/);
    // The export stays downloadable where Location says.
    const kept = await fetch(`${g.url}${response.headers.get('location')}`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    expect(((await kept.json()) as { status: string }).status).toBe('done');
  });

  it('writes an ORC file that an ORC reader reads back as the rows', async () => {
    const response = await post(`${SUBSCRIPTION}/batch-request`, { ...BATCH_SAMPLE, filetype: 'orc' });
    expect(response.status).toBe(200);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.subarray(0, 3).toString('latin1')).toBe('ORC');
    const path = join(dir, 'export.orc');
    writeFileSync(path, bytes);
    // ClickHouse's ORC input (Apache ORC's C++ reader), not the writer that made the file.
    const read = await g.edges.warehouse.query<Row>(`SELECT * FROM file('${path}', 'ORC')`);
    const text = (r: object) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)]));
    expect(read.map(text)).toEqual((await stored(BATCH_SAMPLE.tokens)).map(text));
  });
});
