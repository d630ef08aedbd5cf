import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { createServer, type AddressInfo } from 'node:net';
import { handleWithOrderedAcks } from './ordered-acks.js';

/**
 * The MQTT broker edge. Meters publish to `url`; gridstream consumes what they publish through `consume`.
 *
 * - Embedded (aedes, in this process): messages are handed over in-process through aedes' `published` hook,
 *   which waits for the handler before aedes takes the publisher's next packets: backpressure reaches the
 *   meters' TCP connections, and no second MQTT hop is spent inside one process.
 * - External (Mosquitto or any MQTT 3.1.1/5 broker): a QoS 1 subscription on a persistent session; each
 *   PUBACK is sent only once the handler has finished (see ordered-acks.ts), so the broker redelivers what
 *   was not handled, while many messages are handled concurrently.
 */
export type MessageHandler = (topic: string, payload: Buffer) => Promise<void>;

export interface Broker {
  readonly url: string;
  readonly embedded: boolean;
  /** Delivers every message published on `topics` (MQTT filters) to `handler`, one at a time per publisher. */
  consume(
    topics: string[],
    handler: MessageHandler,
    options?: ConsumeOptions,
  ): Promise<{ stop(): Promise<void> }>;
  close(): Promise<void>;
}

export interface ConsumeOptions {
  clientId?: string;
  /** External broker: messages handled concurrently whose PUBACK is still held back (default 1000). */
  maxUnacknowledged?: number;
  username?: string;
  password?: string;
}

export function externalBroker(url: string): Broker {
  return {
    url,
    embedded: false,
    consume: (topics, handler, options = {}) => consumeWithClient(url, topics, handler, options),
    close: async () => {},
  };
}

async function consumeWithClient(
  url: string,
  topics: string[],
  handler: MessageHandler,
  options: ConsumeOptions,
) {
  const client: MqttClient = await mqtt.connectAsync(url, {
    clientId:
      options.clientId ?? `gridstream-ingest-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    // A persistent session: messages published while ingest reconnects are kept for it by the broker.
    clean: false,
    reconnectPeriod: 1000,
    username: options.username,
    password: options.password,
  });
  // PUBACKs leave once the handler's records are on the log, in order; at most `window` are outstanding.
  handleWithOrderedAcks(client, handler, options.maxUnacknowledged ?? 1000);
  // Errors are reported and the client reconnects by itself; an unhandled 'error' would end the process.
  client.on('error', (error) => console.error(`MQTT consumer: ${error.message}`));
  await client.subscribeAsync(Object.fromEntries(topics.map((topic) => [topic, { qos: 1 as const }])));
  return { stop: () => client.endAsync() };
}

/** Starts aedes on `port` (0 = a free port) on `host`. */
export async function startEmbeddedBroker(port: number, host = '0.0.0.0'): Promise<Broker> {
  const handlers: Array<{ match: (topic: string) => boolean; handler: MessageHandler }> = [];
  const aedes = await Aedes.createBroker({
    concurrency: 1000,
    drainTimeout: 120_000,
    published(packet, client, done) {
      // Only what a client published: not aedes' own $SYS messages.
      if (!client) return done();
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      const matching = handlers.filter((h) => h.match(packet.topic));
      if (matching.length === 0) return done();
      Promise.all(matching.map((h) => h.handler(packet.topic, payload))).then(
        () => done(),
        (error: Error) => {
          console.error(`embedded broker: handler failed for ${packet.topic}: ${error.message}`);
          done();
        },
      );
    },
  });
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    embedded: true,
    async consume(topics, handler) {
      const entry = {
        match: (topic: string) => topics.some((filter) => matchesFilter(filter, topic)),
        handler,
      };
      handlers.push(entry);
      return { stop: async () => void handlers.splice(handlers.indexOf(entry), 1) };
    },
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** MQTT topic filter matching (`+` one level, `#` the rest). */
export function matchesFilter(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
