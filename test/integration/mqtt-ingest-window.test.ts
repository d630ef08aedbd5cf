import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { externalBroker } from '../../io/broker/broker.js';
import { mosquittoInstalled, startMosquitto, type TestMosquitto } from '../support/mosquitto.js';

/**
 * The bridge's window of unacknowledged messages on a real Mosquitto: over MQTT 3.1.1 Mosquitto sends a
 * subscriber at most max_inflight_messages (20 by default) unacknowledged QoS 1 messages whatever the client
 * can take, and every PUBACK of the bridge waits for Kafka; over MQTT 5 the bridge's Receive Maximum sets the
 * window. The session must still outlive the connection.
 */
const installed = mosquittoInstalled();
const TOPIC = 'gridstream/v1/meters/m-1/telemetry';

const until = async (condition: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe.skipIf(!installed)('the bridge on Mosquitto: window and session', () => {
  let broker: TestMosquitto;
  beforeAll(async () => {
    broker = await startMosquitto({ users: { 'm-1': 'pw-meter-1', 'gridstream-ingest': 'ingest-secret' } });
  });
  afterAll(() => broker?.stop());

  it('takes its whole window of messages before acknowledging any, and gets them again after a restart', async () => {
    const held: string[] = [];
    const first = await externalBroker(broker.urlFor('gridstream-ingest')).consume(
      ['gridstream/v1/#'],
      // Never done: as if every message were still on its way to Kafka.
      (_topic, payload) => {
        held.push(payload.toString());
        return new Promise<void>(() => {});
      },
      { clientId: 'window-bridge', maxUnacknowledged: 200 },
    );
    const meter = await mqtt.connectAsync(broker.urlFor('m-1'), { clientId: 'window-meter' });
    for (let i = 0; i < 150; i++) await meter.publishAsync(TOPIC, `m${i}`, { qos: 1 });
    await until(() => held.length === 150);
    expect(held).toEqual(Array.from({ length: 150 }, (_, i) => `m${i}`));
    await first.stop();

    // Nothing was acknowledged: the persistent session hands every message to the restarted bridge.
    const again: string[] = [];
    const second = await externalBroker(broker.urlFor('gridstream-ingest')).consume(
      ['gridstream/v1/#'],
      async (_topic, payload) => void again.push(payload.toString()),
      { clientId: 'window-bridge', maxUnacknowledged: 200 },
    );
    await until(() => again.length >= 150);
    expect(again).toEqual(held);
    await second.stop();
    await meter.endAsync();
  }, 60_000);
});
