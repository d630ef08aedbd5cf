import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneDt } from '../support/topology.js';
import { startTestGridstream, testMqttUrl } from '../support/test-gridstream.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;

const topology = oneDt('dt-a', ['m-1', 'm-2', 'm-3']);

const minute = (m: number) => new Date(Date.UTC(2026, 6, 1, 10, m)).toISOString();
const reading = (m: number, p = 1.5) => ({
  ts: minute(m),
  p_kw: p,
  q_kvar: 0.2,
  legs: [{ leg: 1, v: 231, i: 6.5 }],
});

describe('MQTT ingest into the warehouse', () => {
  let g: Running;
  let client: mqtt.MqttClient;

  beforeAll(async () => {
    g = await startTestGridstream();
    await g.pipeline.loadTopology(topology, 'test');
    client = await mqtt.connectAsync(testMqttUrl(g), { clientId: 'test-meters' });
  });
  afterAll(async () => {
    await client?.endAsync();
    await g?.stop();
  });

  it('accounts for every published reading: stored + dead-lettered = published', async () => {
    const publish = (topic: string, payload: unknown) =>
      client.publishAsync(
        topic,
        typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
        {
          qos: 1,
        },
      );
    const t = (meter: string) => `gridstream/v1/meters/${meter}/telemetry`;
    let published = 0;
    // Valid single readings.
    for (let m = 0; m < 10; m++) {
      await publish(t('m-1'), reading(m));
      published++;
    }
    // A batch of 5, with epoch-ms timestamps.
    await publish(
      t('m-2'),
      [0, 1, 2, 3, 4].map((m) => ({ ...reading(m), ts: Date.parse(minute(m)) })),
    );
    published += 5;
    // A batch with two bad elements out of four.
    await publish(t('m-3'), [
      reading(0),
      { ...reading(1), p_kw: 'x' },
      reading(2),
      { ...reading(3), legs: [{ leg: 9, v: 1, i: 1 }] },
    ]);
    published += 4;
    // Malformed messages.
    await publish(t('m-1'), '{not json');
    await publish(t('m-1'), Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    await publish(t('m-1'), '"a string"');
    published += 3;
    // Unknown meters are parked, not lost.
    await publish(t('m-404'), reading(0));
    await publish(t('m-405'), [reading(0), reading(1)]);
    published += 3;

    await g.pipeline.settle();
    const [stored] = await g.edges.warehouse.query<{ n: string }>('SELECT count() AS n FROM readings FINAL');
    const reasons = await g.edges.warehouse.query<{ reason_code: string; n: string }>(
      'SELECT reason_code, count() AS n FROM dead_letters GROUP BY reason_code ORDER BY reason_code',
    );
    const dead = Object.fromEntries(reasons.map((r) => [r.reason_code, Number(r.n)]));
    expect(Number(stored!.n)).toBe(10 + 5 + 2);
    expect(dead).toEqual({ invalid_json: 2, invalid_value: 1, schema: 2, unknown_meter: 3 });
    expect(Number(stored!.n) + Object.values(dead).reduce((a, b) => a + b, 0)).toBe(published);

    const metrics = await g.metrics.registry.getSingleMetricAsString('gridstream_dead_letters_total');
    expect(metrics).toMatch(/reason="unknown_meter"} 3/);
    expect(await g.metrics.registry.getSingleMetricAsString('gridstream_readings_ingested_total')).toMatch(
      / 17$/m,
    );
  });

  it('keeps the raw bytes and a reason naming the field in the dead letters', async () => {
    const rows = await g.edges.warehouse.query<{ reason: string; raw_hex: string; source_topic: string }>(
      "SELECT reason, hex(raw) AS raw_hex, source_topic FROM dead_letters WHERE reason_code IN ('invalid_json', 'schema') ORDER BY reason",
    );
    expect(rows.some((r) => r.raw_hex === 'FFFE0001')).toBe(true);
    expect(rows.some((r) => /^\[1\] p_kw: expected double/.test(r.reason))).toBe(true);
    expect(rows.every((r) => r.source_topic.startsWith('gridstream/v1/meters/'))).toBe(true);
  });

  it('survives a burst of garbage on every topic without losing later readings', async () => {
    for (let k = 0; k < 50; k++) {
      await client.publishAsync(`gridstream/v1/meters/m-1/telemetry`, Buffer.from([k, 0xff]), { qos: 1 });
      await client.publishAsync(`gridstream/v1/weather/ws-1`, '{"ts":1}', { qos: 1 });
      await client.publishAsync(`gridstream/v1/dispatch/a-1`, '[]', { qos: 1 });
    }
    await client.publishAsync('gridstream/v1/meters/m-1/telemetry', JSON.stringify(reading(40)), { qos: 1 });
    await g.pipeline.settle();
    const [row] = await g.edges.warehouse.query<{ n: string }>(
      "SELECT count() AS n FROM readings WHERE meter_id = 'm-1' AND ts = toDateTime64('2026-07-01 10:40:00', 3, 'UTC')",
    );
    expect(Number(row!.n)).toBe(1);
  });
});
