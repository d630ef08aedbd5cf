import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode } from '../../core/codec.js';
import { DAY_MS, SLOT_MS, iso } from '../../core/time.js';
import type { LogConsumer } from '../../io/log/log.js';
import { TOPICS } from '../../pipelines/log-topics.js';
import type { FlexEventCommand } from '../../schemas/types.gen.js';
import { Registry } from 'prom-client';
import { parseApiKeys } from '../../api/auth.js';
import { buildApi } from '../../api/server.js';
import { OTHER_TENANT_KEY, startTestGridstream, TEST_API_KEY } from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;
type Body = Record<string, unknown>;
interface Event {
  id: string;
  status: string;
  source: string;
  asset_ids: string[];
  start: string;
  end: string;
  target: { amount: string; unit: string } | null;
  methodology: Record<string, unknown> | null;
  baseline_issue: string | null;
  created_at: string;
  steps: Array<{ type: string; status: string; sequence: number; at: string }>;
  delivered_kwh: number | null;
  target_kwh: number | null;
}

const D = Date.UTC(2030, 0, 7);
const at = (h: number, m = 0, day = 0) => D + day * DAY_MS + h * 3_600_000 + m * 60_000;

// dt-a and its two batteries belong to default (TEST_API_KEY); dt-o and bess-o to utility-b.
const topology = {
  transformers: [transformer('dt-a'), transformer('dt-o', { tenant: 'utility-b' })],
  meters: [meter('m-1', 'dt-a'), meter('m-2', 'dt-a'), meter('m-o', 'dt-o')],
  assets: [
    { asset_id: 'bess-1', dt_id: 'dt-a', meter_id: 'm-1', asset_type: 'BESS', nominal_kw: 30 },
    { asset_id: 'bess-2', dt_id: 'dt-a', meter_id: 'm-2', asset_type: 'BESS', nominal_kw: 10 },
    { asset_id: 'bess-o', dt_id: 'dt-o', meter_id: 'm-o', asset_type: 'BESS', nominal_kw: 10 },
  ],
};

const REQUEST = {
  asset_ids: ['bess-1', 'bess-2'],
  direction: 'turn-down',
  start: iso(at(17)),
  end: iso(at(19)),
  target: { amount: 12.5, unit: 'kW' },
  baseline: { methodology: 'high-4-of-5', weekday: { x: 3 } },
};

/** A flex_events row as the events task writes one: the event as it stands after `step`. */
function stepRow(
  eventId: string,
  step: string,
  status: string,
  sequence: number,
  atMs: number,
  more: Partial<Record<string, unknown>> = {},
) {
  return {
    event_id: eventId,
    tenant: 'default',
    step,
    status,
    sequence,
    at_ms: atMs,
    source: 'api',
    asset_ids: ['bess-1', 'bess-2'],
    direction: 'turn-down',
    start_ms: at(17),
    end_ms: at(19),
    target_amount: '12.5',
    target_unit: 'kW',
    methodology: JSON.stringify({ name: 'high-4-of-5', kind: 'like-days' }),
    baseline_issue: null,
    delivered_kwh: null,
    target_kwh: 25,
    share_with_data: null,
    data_quality: null,
    reason: null,
    ...more,
  };
}

describe('flexibility-events API', () => {
  let g: Running;
  let commands: LogConsumer;
  const seen: FlexEventCommand[] = [];

  const call = async (method: string, path: string, body?: unknown, key = TEST_API_KEY) => {
    const res = await fetch(`${g.url}${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Body };
  };
  /** The next command on gridstream.events that `match` picks (read back from the log itself). */
  const nextCommand = async (match: (c: FlexEventCommand) => boolean, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = seen.findIndex(match);
      if (found >= 0) return seen.splice(found, 1)[0]!;
      if (Date.now() > deadline) throw new Error('no such command on gridstream.events');
      for (const r of await commands.poll(100, 200)) {
        const command = decode('FlexEventCommand', r.value);
        expect(r.key).toBe(command.event_id);
        seen.push(command);
      }
    }
  };
  const insertSteps = (rows: Array<ReturnType<typeof stepRow>>) =>
    g.edges.warehouse.insert('flex_events', rows);

  beforeAll(async () => {
    g = await startTestGridstream();
    await g.pipeline.loadTopology(topology, 'events api test');
    commands = g.edges.log.consumer({
      group: 'events-api-test',
      topics: [TOPICS.events.name],
      fromBeginning: true,
    });
  }, 120_000);

  afterAll(async () => {
    await commands?.close();
    await g?.stop();
  });

  it('POST puts a schedule command on gridstream.events and answers 201 with the event once the events task has scheduled it', async () => {
    const before = Date.now();
    const { status, body } = await call('POST', '/v1/events', REQUEST);
    expect(status).toBe(201);
    const command = await nextCommand((c) => c.command === 'schedule' && c.event_id === body.id);
    expect(command).toMatchObject({
      command: 'schedule',
      tenant: 'default',
      source: 'api',
      asset_ids: ['bess-1', 'bess-2'],
      direction: 'turn-down',
      start_ms: at(17),
      end_ms: at(19),
      target: { amount: '12.5', unit: 'kW' },
    });
    expect(JSON.parse(command.baseline!)).toEqual({ methodology: 'high-4-of-5', weekday: { x: 3 } });
    expect(command.event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(command.at_ms).toBeGreaterThanOrEqual(before);
    expect(body).toMatchObject({
      id: command.event_id,
      status: 'SCHEDULED',
      source: 'api',
      asset_ids: ['bess-1', 'bess-2'],
      direction: 'turn-down',
      start: iso(at(17)),
      end: iso(at(19)),
      target: { amount: '12.5', unit: 'kW' },
      // The events task resolves the methodology: every parameter, the request's override among them.
      methodology: { name: 'high-4-of-5', kind: 'like-days', weekday: { x: 3, y: 5 } },
      baseline_issue: null,
      created_at: iso(command.at_ms),
      steps: [{ type: 'SCHEDULED', status: 'SCHEDULED', sequence: 1, at: iso(command.at_ms) }],
      target_kwh: 25,
      delivered_kwh: null,
    });
  }, 30_000);

  it('answers 202 SCHEDULING with the event as asked for when the events task has not scheduled it in time', async () => {
    // An API whose commands reach no events task (one that is behind, or down): it waits, then answers 202.
    const sent: FlexEventCommand[] = [];
    const api = await buildApi({
      warehouse: g.edges.warehouse,
      keys: parseApiKeys(TEST_API_KEY),
      registry: new Registry(),
      retentionDays: 90,
      loadTopology: () => Promise.resolve(1),
      exportDir: g.dataDir,
      events: { sendCommand: (c) => Promise.resolve(void sent.push(c)), scheduleWaitMs: 300 },
    });
    const response = await api.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'x-api-key': TEST_API_KEY },
      payload: {
        ...REQUEST,
        asset_ids: ['bess-2'],
        direction: 'turn-up',
        target: { amount: '0.04', unit: 'MWh' },
        baseline: undefined,
      },
    });
    await api.close();
    const status = response.statusCode;
    const body = response.json<Body>();
    expect(status).toBe(202);
    expect(body).toMatchObject({
      status: 'SCHEDULING',
      asset_ids: ['bess-2'],
      direction: 'turn-up',
      target: { amount: '0.04', unit: 'MWh' },
      methodology: null,
      steps: [],
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      command: 'schedule',
      event_id: body.id,
      baseline: null,
      target: { amount: '0.04', unit: 'MWh' },
    });
    // Not scheduled, so not there to read back.
    expect((await call('GET', `/v1/events/${String(body.id)}`)).status).toBe(404);
  }, 30_000);

  it('refuses a request that breaks the rules with a 400 naming the field, and a methodology parameter baselineMethod() refuses with a 422', async () => {
    const refused = async (change: Body, field: string, expected = 400) => {
      const { status, body } = await call('POST', '/v1/events', { ...REQUEST, ...change });
      expect(status, JSON.stringify(body)).toBe(expected);
      expect((body.fields as Array<{ field: string }>).map((f) => f.field)).toContain(field);
    };
    await refused({ end: iso(at(17)) }, 'end');
    await refused({ start: iso(at(17, 5)) }, 'start');
    await refused({ end: iso(at(17, 15, 1)) }, 'end');
    await refused({ target: { amount: '0', unit: 'kW' } }, 'target.amount');
    await refused({ target: { amount: 5, unit: 'kVA' } }, 'target.unit');
    await refused({ asset_ids: ['bess-1', 'bess-1'] }, 'asset_ids');
    await refused({ baseline: { methodology: 'best-guess' } }, 'baseline.methodology');
    await refused(
      { baseline: { methodology: 'high-4-of-5', weekday: { x: 6, y: 5 } } },
      'baseline.weekday',
      422,
    );
    await refused(
      { baseline: { methodology: 'same-period-yesterday', lookbackDays: 3 } },
      'baseline.methodology',
      422,
    );
    await refused(
      { baseline: { methodology: '10-of-10', adjustment: { windowStartMinutes: 50 } } },
      'baseline.adjustment',
      422,
    );
  });

  it('answers 404 for an asset the topology does not place and 403 for another tenant’s, and puts nothing on the log', async () => {
    const unknown = await call('POST', '/v1/events', { ...REQUEST, asset_ids: ['bess-1', 'bess-x'] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toContain('bess-x');
    const foreign = await call('POST', '/v1/events', { ...REQUEST, asset_ids: ['bess-1', 'bess-o'] });
    expect(foreign.status).toBe(403);
    expect(foreign.body.message).toContain('bess-o');
    expect(await commands.poll(100, 500)).toEqual([]);
  });

  describe('reading events the events task wrote', () => {
    // ev-old: started at 08:00 and ended, stats ready; ev-new: scheduled at 17:00 the next day; ev-mid: started;
    // ev-other: utility-b's.
    beforeAll(async () => {
      const methodology = { baseline_issue: 'adjusted' };
      await insertSteps([
        stepRow('ev-old', 'SCHEDULED', 'SCHEDULED', 1, at(6), { start_ms: at(8), end_ms: at(9) }),
        stepRow('ev-old', 'BASELINES_READY', 'SCHEDULED', 2, at(7), {
          start_ms: at(8),
          end_ms: at(9),
          baseline_issue: 'day-ahead',
        }),
        stepRow('ev-old', 'STARTED', 'STARTED', 3, at(8), { start_ms: at(8), end_ms: at(9), ...methodology }),
        stepRow('ev-old', 'ENDED', 'ENDED', 4, at(9), { start_ms: at(8), end_ms: at(9), ...methodology }),
        stepRow('ev-old', 'STATS_READY', 'STATS_READY', 5, at(10), {
          start_ms: at(8),
          end_ms: at(9),
          ...methodology,
          delivered_kwh: 20,
          share_with_data: 1,
          data_quality: 'ami_direct',
        }),
        stepRow('ev-new', 'SCHEDULED', 'SCHEDULED', 1, at(9), {
          start_ms: at(17, 0, 1),
          end_ms: at(18, 0, 1),
        }),
        stepRow('ev-mid', 'SCHEDULED', 'SCHEDULED', 1, at(9), { start_ms: at(12), end_ms: at(13) }),
        stepRow('ev-mid', 'STARTED', 'STARTED', 2, at(12), { start_ms: at(12), end_ms: at(13) }),
        stepRow('ev-other', 'SCHEDULED', 'SCHEDULED', 1, at(9), {
          tenant: 'utility-b',
          asset_ids: ['bess-o'],
          start_ms: at(12),
          end_ms: at(13),
        }),
      ]);
      const baseline = (issue: string, asset: string, k: number, kw: number | null) => ({
        event_id: 'ev-old',
        issue,
        asset_id: asset,
        meter_id: asset === 'bess-1' ? 'm-1' : null,
        period_start_ms: at(8) + k * SLOT_MS,
        baseline_kw: kw,
        unadjusted_kw: kw === null ? null : 2,
        issued_at_ms: issue === 'day-ahead' ? at(7) : at(7, 45),
        methodology: 'high-4-of-5',
        days_used: kw === null ? [] : ['2030-01-01', '2030-01-02'],
        reason: kw === null ? 'no meter' : null,
      });
      await g.edges.warehouse.insert('flex_event_baselines', [
        ...[0, 1, 2, 3].map((k) => baseline('day-ahead', 'bess-1', k, 2)),
        ...[0, 1, 2, 3].map((k) => baseline('adjusted', 'bess-1', k, 2.5)),
        ...[0, 1, 2, 3].map((k) => baseline('adjusted', 'bess-2', k, null)),
      ]);
      await g.edges.warehouse.insert(
        'flex_event_stats',
        [0, 1, 2, 3].map((k) => ({
          event_id: 'ev-old',
          asset_id: 'bess-1',
          meter_id: 'm-1',
          period_start_ms: at(8) + k * SLOT_MS,
          baseline_kw: 2.5,
          metered_kw: k === 3 ? null : 0.5,
          delivered_kw: k === 3 ? null : 2,
          delivered_kwh: k === 3 ? null : 0.5,
          readings: k === 3 ? 0 : 15,
          data_quality: k === 3 ? 'none' : 'ami_direct',
          computed_at_ms: at(10),
        })),
      );
    });

    it('lists the tenant’s events newest start first, paged, filtered by status and start', async () => {
      const list = async (query: string) => {
        const { status, body } = await call(
          'GET',
          `/v1/events?from=${iso(D)}&to=${iso(D + 2 * DAY_MS)}${query}`,
        );
        expect(status, JSON.stringify(body)).toBe(200);
        return body as { events: Event[]; total: number; page?: number; pageSize?: number };
      };
      const all = await list('');
      // The first test's event starts at 17:00 on day D too.
      expect(all.events.map((e) => e.id).filter((id) => id.startsWith('ev-'))).toEqual([
        'ev-new',
        'ev-mid',
        'ev-old',
      ]);
      expect(all.total).toBe(4);
      const second = await list('&page=2&pageSize=2');
      expect(second).toMatchObject({ total: 4, page: 2, pageSize: 2 });
      expect(second.events.map((e) => e.id)).toEqual(['ev-mid', 'ev-old']);
      expect((await list('&status=STARTED')).events.map((e) => e.id)).toEqual(['ev-mid']);
      expect((await list(`&status=STATS_READY`)).total).toBe(1);
      const early = await call('GET', `/v1/events?from=${iso(at(8))}&to=${iso(at(12))}`);
      expect((early.body.events as Event[]).map((e) => e.id)).toEqual(['ev-old']);
      const other = await call('GET', '/v1/events', undefined, OTHER_TENANT_KEY);
      expect((other.body.events as Event[]).map((e) => e.id)).toEqual(['ev-other']);
    });

    it('reads one event back with every step by sequence, its creation and its stats; another tenant’s is a 404', async () => {
      const { status, body } = await call('GET', '/v1/events/ev-old');
      expect(status).toBe(200);
      expect(body).toMatchObject({
        id: 'ev-old',
        status: 'STATS_READY',
        baseline_issue: 'adjusted',
        created_at: iso(at(6)),
        delivered_kwh: 20,
        target_kwh: 25,
        share_with_data: 1,
        data_quality: 'ami_direct',
      });
      expect((body.steps as Event['steps']).map((s) => [s.sequence, s.type, s.status])).toEqual([
        [1, 'SCHEDULED', 'SCHEDULED'],
        [2, 'BASELINES_READY', 'SCHEDULED'],
        [3, 'STARTED', 'STARTED'],
        [4, 'ENDED', 'ENDED'],
        [5, 'STATS_READY', 'STATS_READY'],
      ]);
      expect((await call('GET', '/v1/events/ev-other')).status).toBe(404);
      expect((await call('GET', '/v1/events/ev-old', undefined, OTHER_TENANT_KEY)).status).toBe(404);
      expect((await call('GET', '/v1/events/ev-old/stats', undefined, OTHER_TENANT_KEY)).status).toBe(404);
      expect((await call('GET', '/v1/events/ev-old/baselines', undefined, OTHER_TENANT_KEY)).status).toBe(
        404,
      );
      expect((await call('GET', '/v1/events/no-such-event')).status).toBe(404);
    });

    it('cancels a scheduled or started event (202, a cancel command on the log) and refuses an ended one (409)', async () => {
      const ended = await call('POST', '/v1/events/ev-old/cancel');
      expect(ended.status).toBe(409);
      expect(ended.body.error).toBe('not_cancellable');
      expect((await call('POST', '/v1/events/ev-mid/cancel', undefined, OTHER_TENANT_KEY)).status).toBe(404);
      const before = Date.now();
      const { status, body } = await call('POST', '/v1/events/ev-mid/cancel');
      expect(status).toBe(202);
      expect(body).toMatchObject({ id: 'ev-mid', status: 'STARTED' });
      const command = await nextCommand((c) => c.event_id === 'ev-mid');
      expect(command).toMatchObject({ command: 'cancel', tenant: 'default', source: 'api', target: null });
      expect(command.at_ms).toBeGreaterThanOrEqual(before);
    });

    it('answers the newest baseline issue by default, the one asked for with issue, paged', async () => {
      const { status, body } = await call('GET', '/v1/events/ev-old/baselines?limit=5');
      expect(status).toBe(200);
      expect(body).toMatchObject({ event_id: 'ev-old', issue: 'adjusted', total: 8, limit: 5, offset: 0 });
      const rows = body.baselines as Body[];
      expect(rows).toHaveLength(5);
      expect(rows[0]).toEqual({
        asset_id: 'bess-1',
        meter_id: 'm-1',
        period_start: iso(at(8)),
        baseline: { amount: '2.5', unit: 'kW' },
        unadjusted: { amount: '2', unit: 'kW' },
        issued_at: iso(at(7, 45)),
        methodology: 'high-4-of-5',
        days_used: ['2030-01-01', '2030-01-02'],
        reason: null,
      });
      expect(rows[4]).toMatchObject({ asset_id: 'bess-2', baseline: null, reason: 'no meter' });
      const dayAhead = await call('GET', '/v1/events/ev-old/baselines?issue=day-ahead&page=1&pageSize=10');
      expect(dayAhead.body).toMatchObject({ issue: 'day-ahead', total: 4, page: 1, pageSize: 10 });
      expect((dayAhead.body.baselines as Body[]).map((r) => r.baseline)).toEqual(
        Array(4).fill({ amount: '2', unit: 'kW' }),
      );
      // An event without baselines yet: none, and no issue.
      const none = await call('GET', '/v1/events/ev-new/baselines');
      expect(none.body).toMatchObject({ issue: null, baselines: [], total: 0 });
    });

    it('answers the stats summary with the delivery ratio, and the rows per asset and period, paged', async () => {
      const { status, body } = await call('GET', '/v1/events/ev-old/stats?limit=3&offset=1');
      expect(status).toBe(200);
      expect(body).toMatchObject({
        event_id: 'ev-old',
        status: 'STATS_READY',
        delivered_kwh: 20,
        target_kwh: 25,
        delivery_ratio: 0.8,
        share_with_data: 1,
        data_quality: 'ami_direct',
        total: 4,
        limit: 3,
        offset: 1,
      });
      const rows = body.stats as Body[];
      expect(rows.map((r) => r.period_start)).toEqual([1, 2, 3].map((k) => iso(at(8) + k * SLOT_MS)));
      expect(rows[0]).toEqual({
        asset_id: 'bess-1',
        meter_id: 'm-1',
        period_start: iso(at(8, 15)),
        baseline: { amount: '2.5', unit: 'kW' },
        metered: { amount: '0.5', unit: 'kW' },
        delivered: { amount: '2', unit: 'kW' },
        delivered_energy: { amount: '0.5', unit: 'kWh' },
        readings: 15,
        data_quality: 'ami_direct',
        computed_at: iso(at(10)),
      });
      expect(rows[2]).toMatchObject({ metered: null, delivered: null, readings: 0, data_quality: 'none' });
      const pending = await call('GET', '/v1/events/ev-new/stats');
      expect(pending.body).toMatchObject({ delivered_kwh: null, delivery_ratio: null, stats: [], total: 0 });
    });
  });
});
