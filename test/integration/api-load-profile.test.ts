import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../api/auth.js';
import { buildApi } from '../../api/server.js';
import { startGridstream, type Gridstream } from '../../app/start-gridstream.js';
import { DAY_MS, SLOT_MS } from '../../core/time.js';
import { runQuery } from '../../io/warehouse/query.js';
import { queries } from '../../io/warehouse/queries.gen.js';
import { envelopeOfRow } from '../../io/warehouse/records.js';
import { envelopeRow } from '../../io/warehouse/rows.js';
import { TABLES } from '../../io/warehouse/tables.js';
import { OTHER_TENANT_KEY, TEST_API_KEY, testConfig, testMqttUrl } from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

const topology = {
  transformers: [transformer('dt-a'), transformer('dt-other', { tenant: 'utility-b' })],
  meters: [meter('m-1', 'dt-a'), meter('m-2', 'dt-a'), meter('m-9', 'dt-other')],
};

// Two hours of readings ending an hour ago.
const NOW = Date.now();
const START = NOW - (NOW % SLOT_MS) - 3 * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** GET with the raw response bytes and headers (fetch would decode gzip and hide that it was gzip). */
function getRaw(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe("load profiles served from the warehouse's pieces (sql/029_load_profile_days.sql)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-profiles-'));
  const config = testConfig(dataDir);
  let g: Gridstream;
  /** The same routes without the topology table: every answer from the envelope rows. */
  let fromWarehouse: FastifyInstance;
  const paths = [
    `/v1/dt/dt-a/load-profile?days=1&to=${iso(NOW)}`,
    `/v1/dt/dt-a/load-profile?days=30&to=${iso(NOW)}`,
    `/v1/dt/dt-a/load-profile?from=${iso(START + 20 * 60_000)}&to=${iso(START + 75 * 60_000)}`,
    // Ending over two hours ago: final slots, from the pieces alone (api/routes/dt.ts LIVE_MS).
    `/v1/dt/dt-a/load-profile?from=${iso(START)}&to=${iso(START + 60 * 60_000)}`,
    `/v1/dt/dt-a/load-profile?from=${iso(NOW - DAY_MS)}&to=${iso(NOW + 300 * DAY_MS)}`,
    `/v1/dt/dt-other/load-profile?days=2&to=${iso(NOW)}`,
  ];
  const keyOf = (path: string) => (path.includes('dt-other') ? OTHER_TENANT_KEY : TEST_API_KEY);
  const reference = async (path: string) => {
    const response = await fromWarehouse.inject({
      method: 'GET',
      url: path,
      headers: { 'x-api-key': keyOf(path) },
    });
    expect(response.statusCode, path).toBe(200);
    return response.body;
  };

  beforeAll(async () => {
    g = await startGridstream(config, { host: '127.0.0.1' });
    await g.pipeline.loadTopology(topology, 'load-profile test');
    const client = await mqtt.connectAsync(testMqttUrl(g));
    for (let m = 0; m < 120; m++)
      for (const [id, kw] of [
        ['m-1', 2 + Math.sin(m / 7)],
        ['m-2', m % 3 === 0 ? -1.5 : 0.75],
        ['m-9', 4],
      ] as const)
        await client.publishAsync(
          `gridstream/v1/meters/${id}/telemetry`,
          JSON.stringify({
            ts: iso(START + m * 60_000),
            p_kw: kw,
            legs: [{ leg: 1, v: 229 + m / 100, i: 8.7 }],
          }),
          { qos: 1 },
        );
    await client.endAsync();
    // The pieces are written by their own task before its offsets are committed: settled, they are in.
    await g.pipeline.settle();
    fromWarehouse = await buildApi({
      warehouse: g.edges.warehouse,
      keys: parseApiKeys(config.apiKeys!),
      registry: g.metrics.registry,
      retentionDays: config.retentionDays,
    });
  });
  afterAll(async () => {
    await fromWarehouse?.close();
    await g?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers byte for byte as the warehouse does, plain and gzip (read back with GNU gzip)', async () => {
    for (const path of paths) {
      const expected = await reference(path);
      const plain = await getRaw(`${g.url}${path}`, { 'x-api-key': keyOf(path) });
      expect(plain.status, path).toBe(200);
      expect(plain.headers['content-encoding'], path).toBeUndefined();
      expect(plain.body.toString(), path).toBe(expected);
      const gzip = await getRaw(`${g.url}${path}`, {
        'x-api-key': keyOf(path),
        'accept-encoding': 'gzip, br',
      });
      expect(gzip.headers['content-encoding'], path).toBe('gzip');
      expect(gzip.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(execFileSync('gzip', ['-dc'], { input: gzip.body }).toString(), path).toBe(expected);
    }
    const day = JSON.parse(await reference(paths[0]!)) as {
      slots: Array<{ readings: number; is_final: boolean }>;
      data_quality: string;
    };
    // 120 minutes of two meters' readings: eight slots, every reading in them.
    expect(day.slots).toHaveLength(8);
    expect(day.slots.reduce((n, s) => n + s.readings, 0)).toBe(240);
    // Final slots from the stored pieces, the last (no reading closed it) provisional from the envelope rows.
    expect(day.slots.map((s) => s.is_final)).toEqual([true, true, true, true, true, true, true, false]);
    expect(day.data_quality).not.toBe('modelled-only');
    // Every answer above came from the pieces: the envelope rows' path was the other API instance's.
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`^gridstream_api_load_profiles_total\\{source="pieces"\\} ${2 * paths.length}$`, 'm'),
    );
    expect(metrics).not.toMatch(/^gridstream_api_load_profiles_total\{source="rows"\}/m);
    // Each path was asked twice: the second time its current pieces came from the API's bounded cache.
    expect(metrics).toMatch(/^gridstream_api_piece_cache_total\{result="hit"\} [1-9]\d*$/m);
  });

  it("refuses another tenant's DT and an unknown one alike (404) and a tier below the minimum (422)", async () => {
    const status = async (path: string, key: string) =>
      (await fetch(`${g.url}${path}`, { headers: { 'x-api-key': key } })).status;
    expect(await status(`/v1/dt/dt-a/load-profile?days=1`, OTHER_TENANT_KEY)).toBe(404);
    expect(await status(`/v1/dt/dt-other/load-profile?days=1`, TEST_API_KEY)).toBe(404);
    expect(await status(`/v1/dt/dt-zzz/load-profile?days=1`, TEST_API_KEY)).toBe(404);
    // Two hours of readings in 30 days: AMI coverage far below 90 %, so the profile is ami-imputed.
    expect((JSON.parse(await reference(paths[0]!)) as { data_quality: string }).data_quality).toBe(
      'ami-imputed',
    );
    const below = await fetch(`${g.url}${paths[0]}&min_data_quality=ami-direct`, {
      headers: { 'x-api-key': TEST_API_KEY },
    });
    expect(below.status).toBe(422);
    expect(((await below.json()) as { error: string }).error).toBe('data_quality_below_minimum');
    expect(await status(`${paths[0]}&min_data_quality=ami-imputed`, TEST_API_KEY)).toBe(200);
  });

  it('answers the same after a restart, reading nothing at start', async () => {
    const before = await Promise.all(paths.map(reference));
    await fromWarehouse.close();
    await g.stop();
    g = await startGridstream(config, { host: '127.0.0.1' });
    for (const [i, path] of paths.entries()) {
      const response = await fetch(`${g.url}${path}`, { headers: { 'x-api-key': keyOf(path) } });
      expect(await response.text(), path).toBe(before[i]);
    }
    fromWarehouse = await buildApi({
      warehouse: g.edges.warehouse,
      keys: parseApiKeys(config.apiKeys!),
      registry: g.metrics.registry,
      retentionDays: config.retentionDays,
    });
  });
  it('answers a day without a current piece from the envelope rows, byte for byte: none yet, stale, none at all', async () => {
    const served = async (path: string) => {
      const plain = await getRaw(`${g.url}${path}`, { 'x-api-key': keyOf(path) });
      const gzip = await getRaw(`${g.url}${path}`, {
        'x-api-key': keyOf(path),
        'accept-encoding': 'gzip',
      });
      // The envelope rows' answer is not compressed by the route; the pieces' always is.
      const text =
        gzip.headers['content-encoding'] === 'gzip'
          ? execFileSync('gzip', ['-dc'], { input: gzip.body }).toString()
          : gzip.body.toString();
      expect(text, path).toBe(plain.body.toString());
      return plain.body.toString();
    };
    const sources = async () => {
      const text = await (await fetch(`${g.url}/metrics`)).text();
      const count = (source: string) =>
        Number(
          new RegExp(`^gridstream_api_load_profiles_total\\{source="${source}"\\} (\\d+)$`, 'm').exec(
            text,
          )?.[1] ?? 0,
        );
      return { pieces: count('pieces'), rows: count('rows') };
    };
    const rows = await runQuery(g.edges.warehouse, queries.envelopes_for_dt, {
      dt_id: 'dt-a',
      from_ms: START - DAY_MS,
      to_ms: NOW + DAY_MS,
    });
    const final = rows.map(envelopeOfRow).filter((e) => e.is_final);
    expect(final.length).toBeGreaterThan(2);
    // Three days earlier, rows the pieces task never saw (a warehouse written before the pieces).
    await g.edges.warehouse.insert(
      TABLES.envelopes,
      final.map((e) => envelopeRow({ ...e, slot_start: e.slot_start - 3 * DAY_MS })) as unknown as Array<
        Record<string, unknown>
      >,
    );
    const before = await sources();
    for (const path of paths) expect(await served(path), path).toBe(await reference(path));
    const month = JSON.parse(await served(paths[1]!)) as { slots: unknown[] };
    expect(month.slots).toHaveLength(8 + final.length);
    // The DT's current pieces still answered, the older day from the rows.
    expect((await sources()).pieces - before.pieces).toBe(2 * paths.length + 2);
    // A revision the pieces task has not applied yet: the piece of its day is stale and is not served.
    const revised = { ...final[1]!, version: final[1]!.version + 1, net_mean_kw: final[1]!.net_mean_kw + 1 };
    await g.edges.warehouse.insert(TABLES.envelopes, [envelopeRow(revised)] as unknown as Array<
      Record<string, unknown>
    >);
    const path = paths[3]!;
    expect(await served(path)).toBe(await reference(path));
    expect(await served(path)).toContain(`"net_mean_kw":${revised.net_mean_kw}`);
    // No piece at all: the envelope rows answer everything, the same bytes.
    await g.edges.warehouse.command(`TRUNCATE TABLE ${TABLES.loadProfileDays}`);
    const truncated = await sources();
    for (const p of paths) expect(await served(p), p).toBe(await reference(p));
    // (Pieces the API cached that are still current may answer their days: the same bytes.)
    const after = await sources();
    expect(after.rows - truncated.rows).toBeGreaterThan(0);
    expect(after.rows - truncated.rows + after.pieces - truncated.pieces).toBe(2 * paths.length);
  });
});
