import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { externalBroker } from '../../io/broker/broker.js';

/** A broker that records which messages its subscribers acknowledged (PUBACK), by payload. */
async function recordingBroker() {
  const acked: string[] = [];
  const aedes = await Aedes.createBroker();
  aedes.on('ack', (packet) => {
    if (packet && 'payload' in packet && packet.topic?.startsWith('t/')) acked.push(String(packet.payload));
  });
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    acked,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const until = async (condition: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('QoS 1 acknowledgements from an external broker', () => {
  let broker: Awaited<ReturnType<typeof recordingBroker>>;
  beforeAll(async () => {
    broker = await recordingBroker();
  });
  afterAll(() => broker?.close());

  it('acknowledges only handled messages, in arrival order, and the broker redelivers the rest to a new consumer', async () => {
    const handled: string[] = [];
    let finishThird: () => void = () => {};
    const first = await externalBroker(broker.url).consume(
      ['t/#'],
      async (_topic, payload) => {
        const body = payload.toString();
        // The third message is still "on its way to the log" when the consumer dies.
        if (body === 'm3') await new Promise<void>((resolve) => (finishThird = resolve));
        handled.push(body);
      },
      { clientId: 'bridge-1' },
    );
    const meter = await mqtt.connectAsync(broker.url);
    for (let i = 1; i <= 5; i++) await meter.publishAsync('t/x', `m${i}`, { qos: 1 });
    await until(() => handled.length === 4);
    expect(handled).toEqual(['m1', 'm2', 'm4', 'm5']);
    // m4 and m5 are handled but wait behind m3: MQTT acknowledges QoS 1 messages in order.
    await until(() => broker.acked.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(broker.acked).toEqual(['m1', 'm2']);

    // The consumer dies before m3 is on the log: nothing after m2 was acknowledged...
    await first.stop();
    finishThird();
    // ...so the same persistent session gets m3, m4 and m5 again, and acknowledges them once handled.
    const again: string[] = [];
    const second = await externalBroker(broker.url).consume(
      ['t/#'],
      async (_t, payload) => void again.push(payload.toString()),
      {
        clientId: 'bridge-1',
      },
    );
    await until(() => again.length >= 3);
    expect(again).toEqual(['m3', 'm4', 'm5']);
    await until(() => broker.acked.length === 5);
    expect(broker.acked).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    await second.stop();
    await meter.endAsync();
  });

  it('stops taking messages while the window of unacknowledged ones is full', async () => {
    const started: string[] = [];
    const releases: Array<() => void> = [];
    const consumer = await externalBroker(broker.url).consume(
      ['t/#'],
      (_topic, payload) =>
        new Promise<void>((resolve) => {
          started.push(payload.toString());
          releases.push(resolve);
        }),
      { clientId: 'bridge-2', maxUnacknowledged: 3 },
    );
    const meter = await mqtt.connectAsync(broker.url);
    for (let i = 1; i <= 6; i++) await meter.publishAsync('t/y', `w${i}`, { qos: 1 });
    await until(() => started.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(started).toEqual(['w1', 'w2', 'w3']);
    releases.shift()!();
    await until(() => started.length === 4);
    for (const release of releases.splice(0)) release();
    await until(() => started.length === 6);
    for (const release of releases.splice(0)) release();
    await consumer.stop();
    await meter.endAsync();
  });
});
