import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, startTestGridstream, testMqttUrl } from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;

/**
 * Flexibility events made and cancelled by dispatch commands over MQTT (docs/methods/flexibility-events.md,
 * "Events from dispatch commands"; docs/api.md, "Cancelling a flexibility event over MQTT"). No readings flow:
 * without ticks an event stays SCHEDULED, which is all scheduling and cancelling need.
 */
const EVENT = '5e1f0c2a-0000-4000-8000-000000000019';
const START = Date.UTC(2026, 6, 1, 10, 0);
const Q = 15 * 60_000;

const topology = {
  transformers: [transformer('dt-a')],
  meters: [meter('m-1', 'dt-a'), meter('m-2', 'dt-a'), meter('m-3', 'dt-a')],
  // Three batteries of one DT: bess-1 and bess-2 are dispatched in the event, bess-3 is not.
  assets: ['1', '2', '3'].map((k) => ({
    asset_id: `bess-${k}`,
    dt_id: 'dt-a',
    meter_id: `m-${k}`,
    asset_type: 'BESS',
    nominal_kw: 1000,
  })),
};

interface EventAnswer {
  status: string;
  source: string;
  asset_ids: string[];
  start: string;
  end: string;
  target: { amount: string; unit: string } | null;
  steps: Array<{ type: string; sequence: number }>;
  reason: string | null;
}

describe('flexibility events from dispatch commands over MQTT', () => {
  let g: Running;
  let client: MqttClient;

  const publish = async (assetId: string, message: Record<string, unknown>) => {
    await client.publishAsync(
      `gridstream/v1/dispatch/${assetId}`,
      JSON.stringify({ event_id: EVENT, asset_id: assetId, ...message }),
      { qos: 1 },
    );
    await g.pipeline.settle();
  };
  const event = async (): Promise<EventAnswer> => {
    const response = await apiCall(g.url, 'GET', `/v1/events/${EVENT}`);
    expect(response.status).toBe(200);
    return (await response.json()) as EventAnswer;
  };

  beforeAll(async () => {
    g = await startTestGridstream();
    await g.pipeline.loadTopology(topology, 'dispatch events');
    client = await mqtt.connectAsync(testMqttUrl(g));
  });
  afterAll(async () => {
    await client?.endAsync();
    await g?.stop();
  });

  it('makes one event of two commands with the same event id for two assets and adjacent periods', async () => {
    // bess-1 discharges 0.5 MW in 10:15–10:30, bess-2 250 kW in 10:30–10:45: one turn-down event.
    await publish('bess-1', {
      dispatch_time: new Date(START).toISOString(),
      delivery_period_start: new Date(START + Q).toISOString(),
      target_power: { amount: '0.5', unit: 'MW' },
    });
    await publish('bess-2', {
      dispatch_time: new Date(START + 60_000).toISOString(),
      delivery_period_start: new Date(START + 2 * Q).toISOString(),
      target_power: { amount: '250', unit: 'kW' },
    });
    const answer = await event();
    expect(answer).toMatchObject({
      status: 'SCHEDULED',
      source: 'dispatch',
      asset_ids: ['bess-1', 'bess-2'],
      start: new Date(START + Q).toISOString(),
      end: new Date(START + 3 * Q).toISOString(),
      target: { amount: '750', unit: 'kW' },
    });
    expect(answer.steps.map((s) => [s.type, s.sequence])).toEqual([['SCHEDULED', 1]]);
  });

  it('does not cancel it on the dispatch topic of an asset that is not in the event', async () => {
    await publish('bess-3', { dispatch_time: new Date(START + 2 * 60_000).toISOString(), action: 'cancel' });
    const answer = await event();
    expect(answer.status).toBe('SCHEDULED');
    expect(answer.steps.map((s) => s.type)).toEqual(['SCHEDULED']);
  });

  it('cancels it on the dispatch topic of one of its assets', async () => {
    await publish('bess-2', { dispatch_time: new Date(START + 3 * 60_000).toISOString(), action: 'cancel' });
    const answer = await event();
    expect(answer.status).toBe('CANCELLED');
    expect(answer.asset_ids).toEqual(['bess-1', 'bess-2']);
    expect(answer.steps.map((s) => [s.type, s.sequence])).toEqual([
      ['SCHEDULED', 1],
      ['CANCELLED', 2],
    ]);
    expect(answer.reason).toBe('cancelled by dispatch');
    const [stored] = await g.edges.warehouse.query<{ n: string }>(
      `SELECT count() AS n FROM flex_events FINAL WHERE event_id = {id:String} AND step = 'CANCELLED'`,
      { id: EVENT },
    );
    expect(Number(stored!.n)).toBe(1);
  });
});
