import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DAY_MS } from '../../core/time.js';
import { simulateTopology } from '../../simulator/command.js';
import { apiCall, OTHER_TENANT_KEY, simulateInto, startTestGridstream } from '../support/test-gridstream.js';

/*
 * The impedance-statistics interface over HTTP on impedance the real pipeline computed from the simulator: the on-demand look-up with
 * its filters, paging and refusals, and the batch export in each file type read back independently.
 */

type Running = Awaited<ReturnType<typeof startTestGridstream>>;
type Row = Record<string, unknown>;

const START = Date.UTC(2026, 6, 1);
const DAYS = 3;
const OPTIONS = { seed: 5, transformers: 2, meters: 40, feeders: 2, silentShare: 0 };
const SEED_COLUMNS = [
  'MeterLeg',
  'MedianImpedance',
  'EventDate',
  'ReceivedTime',
  'EventCount',
  'ServicePointId',
  'MeterId',
  'MeterNumber',
  'ElectronicSerialNumber',
  'TransformerId',
  'PremiseId',
];

describe('impedance look-ups and exports over HTTP', () => {
  let g: Running;
  let dir: string;
  /** The default tenant's DT and utility-b's. */
  let ours: { dt_id: string; feeder_id: string };
  let theirs: { dt_id: string; feeder_id: string };
  /** Every row the default tenant may see, from one unfiltered on-demand call. */
  let all: Row[];

  const post = (path: string, body: unknown, key?: string | null) => apiCall(g.url, 'POST', path, body, key);
  const get = (path: string, key?: string) => apiCall(g.url, 'GET', path, undefined, key);
  const onDemand = async (body: Row, key?: string) => {
    const response = await post('/v1/impedance/on-demand', body, key);
    expect(response.status).toBe(200);
    return (await response.json()) as {
      rows: Row[];
      limit: number;
      offset: number;
      next_offset: number | null;
    };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gridstream-impedance-api-'));
    g = await startTestGridstream();
    const topology = simulateTopology(OPTIONS);
    ours = topology.transformers[0]!;
    theirs = topology.transformers[1]!;
    topology.transformers[1] = { ...topology.transformers[1]!, tenant: 'utility-b' };
    await g.pipeline.loadTopology(topology, 'impedance api');
    const end = START + DAYS * DAY_MS;
    await simulateInto(g, { ...OPTIONS, start: START, end, now: end }, 180_000);
    all = (await onDemand({})).rows;
  }, 400_000);

  afterAll(async () => {
    await g?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("returns the tenant's rows with the seed's columns, exactly what the warehouse holds", async () => {
    const stored = await g.edges.warehouse.query<{ n: string }>(
      `SELECT count() AS n FROM impedance_daily FINAL WHERE dt_id = '${ours.dt_id}'`,
    );
    expect(all.length).toBeGreaterThan(5);
    expect(all.length).toBe(Number(stored[0]!.n));
    expect(Object.keys(all[0]!)).toEqual(SEED_COLUMNS);
    expect(new Set(all.map((r) => r.TransformerId))).toEqual(new Set([ours.dt_id]));
    expect(all[0]!.ReceivedTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(all[0]!.EventDate).toMatch(/^2026-07-0[1-3]$/);
    // The other tenant sees its own DT's rows only.
    const other = (await onDemand({}, OTHER_TENANT_KEY)).rows;
    expect(other.length).toBeGreaterThan(0);
    expect(new Set(other.map((r) => r.TransformerId))).toEqual(new Set([theirs.dt_id]));
  });

  it('filters by each list (comma-separated or arrays) and by event and receive dates', async () => {
    const a = all[0]!;
    const b = all.find((r) => r.MeterId !== a.MeterId)!;
    const want = (pick: (r: Row) => boolean) => all.filter(pick);
    const both = (r: Row) => r.MeterId === a.MeterId || r.MeterId === b.MeterId;
    expect((await onDemand({ ServicePoint: `${a.ServicePointId}, ${b.ServicePointId}` })).rows).toEqual(
      want(both),
    );
    expect((await onDemand({ Meter: [a.MeterId, b.MeterId] })).rows).toEqual(want(both));
    expect((await onDemand({ Device: String(a.MeterId) })).rows).toEqual(
      want((r) => r.MeterId === a.MeterId),
    );
    expect((await onDemand({ MeterNumber: String(a.MeterNumber) })).rows).toEqual(
      want((r) => r.MeterId === a.MeterId),
    );
    expect((await onDemand({ ElectronicSerialNumber: String(b.ElectronicSerialNumber) })).rows).toEqual(
      want((r) => r.MeterId === b.MeterId),
    );
    expect((await onDemand({ Premises: String(a.PremiseId) })).rows).toEqual(
      want((r) => r.MeterId === a.MeterId),
    );
    expect((await onDemand({ Transformer: ours.dt_id, Feeder: ours.feeder_id })).rows).toEqual(all);
    expect((await onDemand({ Feeder: theirs.feeder_id })).rows).toEqual([]);
    const day = '2026-07-02';
    expect((await onDemand({ startEventDate: day, endEventDate: day })).rows).toEqual(
      want((r) => r.EventDate === day),
    );
    const received = String(all[Math.floor(all.length / 2)]!.ReceivedTime);
    expect((await onDemand({ startReceivedDateTime: received })).rows).toEqual(
      want((r) => String(r.ReceivedTime) >= received),
    );
    expect((await onDemand({ endReceivedDateTime: received, ServicePoint: '' })).rows).toEqual(
      want((r) => String(r.ReceivedTime) <= received),
    );
  });

  it('pages with limit and offset through the same sequence', async () => {
    const pages: Row[] = [];
    let offset: number | null = 0;
    while (offset !== null) {
      const page = await onDemand({ limit: 4, offset });
      expect(page.rows.length).toBeLessThanOrEqual(4);
      pages.push(...page.rows);
      offset = page.next_offset;
    }
    expect(pages).toEqual(all);
  });

  it.each([
    ['limit', { limit: 1001 }],
    ['limit', { limit: 0 }],
    ['offset', { offset: -1 }],
    ['startEventDate', { startEventDate: 'yesterday' }],
    ['startEventDate', { startEventDate: '2026-02-30' }],
    ['endReceivedDateTime', { endReceivedDateTime: '2026-07-01 10:00' }],
    ['startEventDate', { startEventDate: '2026-07-03', endEventDate: '2026-07-01' }],
    ['Meter', { Meter: Array.from({ length: 1001 }, (_, i) => `m-${i}`) }],
    ['Meter.0', { Meter: [''] }],
    ['colour', { colour: 'blue' }],
  ])('answers a bad %s with a 400 naming it', async (field: string, body: Row) => {
    const response = await post('/v1/impedance/on-demand', body);
    expect(response.status).toBe(400);
    const error = (await response.json()) as { error: string; fields: Array<{ field: string }> };
    expect(error.error).toBe('bad_request');
    expect(error.fields.map((f) => f.field)).toContain(field);
  });

  it("refuses missing and wrong keys (401), and answers another tenant's transformer as an unknown one", async () => {
    expect((await post('/v1/impedance/on-demand', {}, null)).status).toBe(401);
    expect(
      (await post('/v1/impedance/on-demand', {}, 'wrong-key-00000000000000000000000000000')).status,
    ).toBe(401);
    // Both are a filter that matches none of the key's tenant's rows: the answer does not tell them apart.
    expect((await onDemand({ Transformer: theirs.dt_id })).rows).toEqual([]);
    expect((await onDemand({ Transformer: 'dt-nowhere' })).rows).toEqual([]);
  });

  it('treats injection-shaped values as data', async () => {
    for (const value of ["x' OR '1'='1", "1') OR 1=1 --", "'; DROP TABLE impedance_daily; --"]) {
      expect((await onDemand({ ServicePoint: value, Meter: [value] })).rows).toEqual([]);
    }
    expect((await onDemand({})).rows).toEqual(all);
  });

  /** Submits an export, waits for it and downloads it. */
  async function exported(filetype: string, tokens: Row = {}) {
    const submitted = await post('/v1/impedance/exports', { filetype, tokens, isOhsRequest: false });
    expect(submitted.status).toBe(202);
    let job = (await submitted.json()) as { export_id: string; status: string; file_url: string | null };
    expect(submitted.headers.get('location')).toBe(`/v1/impedance/exports/${job.export_id}`);
    while (job.status === 'queued' || job.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = (await (await get(`/v1/impedance/exports/${job.export_id}`)).json()) as typeof job;
    }
    expect(job.status).toBe('done');
    const file = await get(job.file_url!);
    expect(file.status).toBe(200);
    return { job, file };
  }

  it('exports CSV whose rows are the on-demand rows', async () => {
    const { file } = await exported('csv', { StartEventDate: '', Transformer: ours.dt_id });
    expect(file.headers.get('content-type')).toMatch(/^text\/csv/);
    const text = await file.text();
    expect((parseCsv(text, { to_line: 1 }) as string[][])[0]).toEqual(SEED_COLUMNS);
    // ClickHouse writes numbers in CSV as in JSON, so each value's text compares as is.
    const rows = parseCsv(text, { columns: true }) as Array<Record<string, string>>;
    expect(rows).toEqual(all.map(asText));
  });

  it('exports JSON lines whose rows are the on-demand rows', async () => {
    const { file } = await exported('json');
    const rows = (await file.text())
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Row);
    expect(rows).toEqual(all);
  });

  it('exports Parquet that ClickHouse reads back as the on-demand rows', async () => {
    const { file } = await exported('parquet', { ServicePoint: '' });
    const path = join(dir, 'export.parquet');
    writeFileSync(path, Buffer.from(await file.arrayBuffer()));
    const rows = await g.edges.warehouse.query<Row>(`SELECT * FROM file('${path}', 'Parquet')`);
    expect(rows.map(asText)).toEqual(all.map(asText));
  });

  it('refuses a bad file type, unknown or malformed export ids, and exports of another tenant', async () => {
    const bad = await post('/v1/impedance/exports', { filetype: 'xlsx' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { fields: Array<{ field: string }> }).fields[0]!.field).toBe('filetype');
    const missing = await post('/v1/impedance/exports', { tokens: {} });
    expect(((await missing.json()) as { fields: Array<{ field: string }> }).fields[0]!.field).toBe(
      'filetype',
    );
    const token = await post('/v1/impedance/exports', { filetype: 'csv', tokens: { Colour: 'x' } });
    expect(token.status).toBe(400);
    expect((await get('/v1/impedance/exports/6f1c3a4e-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await get(`/v1/impedance/exports/${encodeURIComponent("1' OR 1=1")}`)).status).toBe(400);
    // Another tenant's export is answered as an unknown one.
    const { job } = await exported('csv');
    expect((await get(`/v1/impedance/exports/${job.export_id}`, OTHER_TENANT_KEY)).status).toBe(404);
    expect((await get(`/v1/impedance/exports/${job.export_id}/file`, OTHER_TENANT_KEY)).status).toBe(404);
  });
});

/** A row with every value as text, the way the CSV export carries it (null as --). */
function asText(row: Row): Record<string, string> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? '--' : String(v)]));
}
