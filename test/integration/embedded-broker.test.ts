import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type Broker } from '../../io/broker/broker.js';

/** The embedded broker acknowledges a QoS 1 publish on a consumed topic only once gridstream has handled it. */
describe('embedded broker acknowledgements', () => {
  const brokers: Broker[] = [];
  afterAll(async () => {
    for (const broker of brokers) await broker.close();
  });

  /** Resolves 'acked' on the PUBACK, 'refused' if the connection ends first or nothing comes within 2 s. */
  async function publish(url: string, topic: string): Promise<'acked' | 'refused'> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
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
    const broker = await startEmbeddedBroker(0, '127.0.0.1', ['meters/+/telemetry']);
    brokers.push(broker);
    // Before ingest starts: acknowledged now, the message would be dropped.
    expect(await publish(broker.url, 'meters/m-1/telemetry')).toBe('refused');
    // A topic nobody consumes is a plain broker's.
    expect(await publish(broker.url, 'elsewhere/x')).toBe('acked');

    const handled: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const subscription = await broker.consume(['meters/+/telemetry'], async (topic) => {
      await gate;
      handled.push(topic);
    });
    // The PUBACK waits for the handler.
    const acked = publish(broker.url, 'meters/m-2/telemetry');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handled).toEqual([]);
    release();
    expect(await acked).toBe('acked');
    expect(handled).toEqual(['meters/m-2/telemetry']);

    // A handler that fails: not acknowledged, so the publisher sends it again.
    await subscription.stop();
    await broker.consume(['meters/+/telemetry'], async () => {
      throw new Error('log away');
    });
    expect(await publish(broker.url, 'meters/m-3/telemetry')).toBe('refused');
  });
});
