import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type Broker } from '../../io/broker/broker.js';
import { openMqttAccounts } from '../../io/broker/mqtt-accounts.js';
import { TEST_MQTT_USERS, withTestMqttCredentials } from '../support/test-gridstream.js';

const TELEMETRY = 'gridstream/v1/meters/+/telemetry';

/** The embedded broker acknowledges a QoS 1 publish on a consumed topic only once gridstream has handled it. */
describe('embedded broker acknowledgements', () => {
  const brokers: Broker[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gridstream-embedded-broker-'));
  afterAll(async () => {
    for (const broker of brokers) await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Resolves 'acked' on the PUBACK, 'refused' if the connection ends first or nothing comes within 2 s. */
  async function publish(url: string, topic: string): Promise<'acked' | 'refused'> {
    const client = await mqtt.connectAsync(withTestMqttCredentials(url), { reconnectPeriod: 0 });
    client.on('error', () => {});
    try {
      return await Promise.race([
        client.publishAsync(topic, 'x', { qos: 1 }).then(
          () => 'acked' as const,
          () => 'refused' as const,
        ),
        new Promise<'refused'>((resolve) => client.once('close', () => resolve('refused'))),
        new Promise<'refused'>((resolve) => setTimeout(() => resolve('refused'), 2_000)),
      ]);
    } finally {
      await client.endAsync(true);
    }
  }

  it('refuses a publish on a consumed topic while nothing consumes it, and acknowledges once handled', async () => {
    const broker = await startEmbeddedBroker({
      port: 0,
      host: '127.0.0.1',
      consumedTopics: [TELEMETRY],
      accounts: await openMqttAccounts({ headEnd: TEST_MQTT_USERS, file: join(dir, 'passwd') }),
    });
    brokers.push(broker);
    // Before ingest starts: acknowledged now, the message would be dropped.
    expect(await publish(broker.url, 'gridstream/v1/meters/m-1/telemetry')).toBe('refused');
    // A topic of the contract that this broker was not told is consumed is acknowledged.
    expect(await publish(broker.url, 'gridstream/v1/weather/ws-1')).toBe('acked');

    const handled: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const subscription = await broker.consume([TELEMETRY], async (topic) => {
      await gate;
      handled.push(topic);
    });
    // The PUBACK waits for the handler.
    const acked = publish(broker.url, 'gridstream/v1/meters/m-2/telemetry');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handled).toEqual([]);
    release();
    expect(await acked).toBe('acked');
    expect(handled).toEqual(['gridstream/v1/meters/m-2/telemetry']);

    // A handler that fails: not acknowledged, so the publisher sends it again.
    await subscription.stop();
    await broker.consume([TELEMETRY], async () => {
      throw new Error('log away');
    });
    expect(await publish(broker.url, 'gridstream/v1/meters/m-3/telemetry')).toBe('refused');
  });
});
