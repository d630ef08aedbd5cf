import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../api/auth.js';
import { buildApi } from '../../api/server.js';
import { encode } from '../../core/codec.js';
import { DAY_MS } from '../../core/time.js';
import { TOPICS } from '../../pipelines/log-topics.js';
import type { ImpedanceDaily } from '../../schemas/types.gen.js';
import { OTHER_TENANT_KEY, startTestGridstream, TEST_API_KEY } from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;

const TODAY = Date.now() - (Date.now() % DAY_MS);
const dayText = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const topology = {
  transformers: [
    transformer('dt-a', { feeder_id: 'f-1' }),
    transformer('dt-b', { feeder_id: 'f-2' }),
    transformer('dt-o', { tenant: 'utility-b', feeder_id: 'f-1' }),
  ],
  meters: [meter('m-1', 'dt-a'), meter('m-2', 'dt-a'), meter('m-3', 'dt-b'), meter('m-o', 'dt-o')],
};

/** A leg-day row with identifiers derived from the meter unless overridden. */
function row(
  meterId: string,
  dtId: string,
  leg: number,
  day: number,
  over: Partial<ImpedanceDaily> = {},
): ImpedanceDaily {
  const received = day + DAY_MS + 3_600_000 + leg * 1000;
  return {
    dt_id: dtId,
    meter_id: meterId,
    leg,
    day,
    median_mohm: 150 + leg * 10 + ((day / DAY_MS) % 17) + meterId.length / 8,
    stderr_mohm: 3.5,
    event_count: 20 + leg,
    effective_events: 18.25,
    received_at: received,
    version: 2 * received + 1,
    is_final: true,
    service_point_id: `SP-${meterId}`,
    meter_number: `N-${meterId}`,
    electronic_serial_number: `E-${meterId}`,
    premise_id: `P-${meterId}`,
    ...over,
  };
}

const records: ImpedanceDaily[] = [];
for (let k = 1; k <= 5; k++) {
  const day = TODAY - k * DAY_MS;
  for (const [m, dt] of [
    ['m-1', 'dt-a'],
    ['m-2', 'dt-a'],
    ['m-3', 'dt-b'],
    ['m-o', 'dt-o'],
    ['m-gone', 'dt-gone'], // a DT the topology does not know: the default tenant's
  ] as const)
    for (const leg of m === 'm-1' ? [1, 2, 3] : [1]) records.push(row(m, dt, leg, day));
  // Two meters of one premise whose ids order differently by UTF-16 and by UTF-8 bytes (as ClickHouse orders).
  records.push(row('m-😀', 'dt-a', 1, day, { premise_id: 'P-shared' }));
  records.push(row('m-～', 'dt-a', 1, day, { premise_id: 'P-shared' }));
  // A meter without a service point or serial number.
  records.push(row('m-n', 'dt-b', 1, day, { service_point_id: null, electronic_serial_number: null }));
}
// m-2's newest day revised: a higher version with another median, received later, under a new service point.
const revisedDay = TODAY - DAY_MS;
records.push(
  row('m-2', 'dt-a', 1, revisedDay, {
    median_mohm: 999.5,
    received_at: TODAY + 7_200_000,
    version: 2 * (TODAY + 7_200_000) + 1,
    service_point_id: 'SP-m-2-new',
  }),
);
// m-3 moved to dt-a on its newest day.
records.push(row('m-3', 'dt-a', 1, revisedDay, { version: 2 * (TODAY + 9_000_000) + 1 }));
// A row 40 days back.
records.push(row('m-1', 'dt-a', 1, TODAY - 40 * DAY_MS));

const inWindow = { startEventDate: dayText(TODAY - 6 * DAY_MS), endEventDate: dayText(TODAY) };
/** Look-ups answered from the named meters' rows (each names meters), with the key to use. */
const byMeter: Array<[Record<string, unknown>, string]> = [
  [{ ServicePoint: 'SP-m-1' }, TEST_API_KEY],
  [{ ServicePoint: 'SP-m-1,SP-m-2', Meter: 'm-2' }, TEST_API_KEY],
  [{ ServicePoint: 'SP-m-2' }, TEST_API_KEY], // the revised day now carries SP-m-2-new: not in this answer
  [{ ServicePoint: 'SP-m-2-new' }, TEST_API_KEY],
  [{ Premises: 'P-shared' }, TEST_API_KEY],
  [{ Premises: ['P-shared', 'P-m-1'], limit: 4, offset: 3 }, TEST_API_KEY],
  [{ Transformer: 'dt-a' }, TEST_API_KEY],
  [{ Transformer: 'dt-gone' }, TEST_API_KEY],
  [{ Meter: 'm-3', Feeder: 'f-2' }, TEST_API_KEY],
  [{ Device: 'm-3,m-1', Feeder: 'f-1,f-9' }, TEST_API_KEY],
  [{ MeterNumber: 'N-m-n' }, TEST_API_KEY],
  [{ ElectronicSerialNumber: 'E-m-n,E-m-1' }, TEST_API_KEY],
  [
    { Meter: 'm-1', startEventDate: dayText(TODAY - 3 * DAY_MS), endEventDate: dayText(TODAY - 2 * DAY_MS) },
    TEST_API_KEY,
  ],
  [
    {
      Meter: 'm-1,m-2',
      startReceivedDateTime: new Date(TODAY - 2 * DAY_MS).toISOString(),
      endReceivedDateTime: new Date(TODAY + 3_600_000).toISOString(),
    },
    TEST_API_KEY,
  ],
  [{ ServicePoint: 'SP-m-o' }, TEST_API_KEY], // another tenant's meter: nothing
  [{ ServicePoint: 'SP-m-o,SP-m-1' }, OTHER_TENANT_KEY],
  [{ Meter: 'm-nobody' }, TEST_API_KEY],
  [{ Meter: 'm-1', startEventDate: dayText(TODAY - 45 * DAY_MS) }, TEST_API_KEY],
  [{ Meter: 'm-1', startEventDate: '' }, TEST_API_KEY],
];
/** Look-ups the warehouse's whole query answers: no list naming meters. */
const byQuery: Array<[Record<string, unknown>, string]> = [
  [{ Feeder: 'f-1' }, TEST_API_KEY],
  [{ Feeder: 'f-1,f-2', startEventDate: '' }, TEST_API_KEY],
];

describe("on-demand impedance from the named meters' rows", () => {
  let g: Running;
  let warehouseOnly: FastifyInstance;

  const viaApi = async (body: Record<string, unknown>, key: string) => {
    const response = await fetch(`${g.url}/v1/impedance/on-demand`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status, JSON.stringify(body)).toBe(200);
    return response.text();
  };
  const viaWarehouse = async (body: Record<string, unknown>, key: string) => {
    const response = await warehouseOnly.inject({
      method: 'POST',
      url: '/v1/impedance/on-demand',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      payload: body,
    });
    expect(response.statusCode, JSON.stringify(body)).toBe(200);
    return response.body;
  };
  const lookups = async (source: string) => {
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    const match = new RegExp(
      `^gridstream_api_impedance_lookups_total\\{source="${source}"\\} (\\d+)$`,
      'm',
    ).exec(metrics);
    return Number(match?.[1] ?? 0);
  };

  beforeAll(async () => {
    g = await startTestGridstream();
    await g.pipeline.loadTopology(topology, 'impedance memory test');
    await g.edges.log.producer().send(
      TOPICS.impedance.name,
      records.map((r) => ({ key: r.dt_id, value: encode('ImpedanceDaily', r), timestamp: r.day })),
    );
    await g.pipeline.settle();
    warehouseOnly = await buildApi({
      warehouse: g.edges.warehouse,
      keys: parseApiKeys(`${TEST_API_KEY},${OTHER_TENANT_KEY}:utility-b`),
      registry: g.metrics.registry,
      retentionDays: 395,
    });
  });
  afterAll(async () => {
    await warehouseOnly?.close();
    await g?.stop();
  });

  it("answers every look-up naming meters from those meters' rows, exactly as the warehouse query does", async () => {
    const before = await lookups('meters');
    let rows = 0;
    for (const [filters, key] of byMeter) {
      const body = { ...inWindow, ...filters };
      const expected = await viaWarehouse(body, key);
      expect(await viaApi(body, key), JSON.stringify(body)).toBe(expected);
      rows += (JSON.parse(expected) as { rows: unknown[] }).rows.length;
    }
    expect(await lookups('meters')).toBe(before + byMeter.length);
    expect(rows).toBeGreaterThan(60); // the comparisons were of real answers, not of empty ones
    const shared = JSON.parse(await viaApi({ ...inWindow, Premises: 'P-shared' }, TEST_API_KEY)) as {
      rows: Array<{ MeterId: string }>;
    };
    expect(shared.rows.slice(0, 2).map((r) => r.MeterId)).toEqual(['m-～', 'm-😀']); // UTF-8 byte order
    const old = JSON.parse(
      await viaApi(
        { Meter: 'm-1', startEventDate: dayText(TODAY - 45 * DAY_MS), endEventDate: dayText(TODAY) },
        TEST_API_KEY,
      ),
    ) as { rows: unknown[] };
    expect(old.rows).toHaveLength(1 + 5 * 3); // the day 40 days back and m-1's five days of three legs
  });

  it('leaves look-ups without a meter-naming list to the warehouse query', async () => {
    const before = await lookups('query');
    for (const [filters, key] of byQuery) {
      const body = { ...inWindow, ...filters };
      expect(await viaApi(body, key), JSON.stringify(body)).toBe(await viaWarehouse(body, key));
    }
    expect(await lookups('query')).toBe(before + byQuery.length);
  });
});
