import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { createServer, type AddressInfo } from 'node:net';
import { handleWithOrderedAcks } from './ordered-acks.js';

/**
 * The MQTT broker edge. Meters publish to `url`; gridstream consumes what they publish through `consume`.
 *
 * - Embedded (aedes, in this process): messages are handed over in-process through aedes'
 *   `authorizePublish` hook, the last step before aedes writes a QoS 1 PUBACK (its `published` hook runs only
 *   after it), so a PUBACK leaves only once the handler has finished; a handler that fails closes the
 *   publisher's connection unacknowledged, and it sends the message again; so does a publish that arrives
 *   while nothing consumes (before ingest starts, after it stops). aedes reads a publisher's next socket chunk
 *   only once the packets of the current one are handled (those are handled concurrently, so their PUBACKs
 *   follow completion, not arrival): backpressure reaches the meters' TCP connections.
 * - External (Mosquitto or any MQTT 3.1.1/5 broker): a QoS 1 subscription on a persistent session; each
 *   PUBACK is sent only once the handler has finished (see ordered-acks.ts), so the broker redelivers what
 *   was not handled, while many messages are handled concurrently.
 */
export type MessageHandler = (topic: string, payload: Buffer) => Promise<void>;

export interface Broker {
  readonly url: string;
  readonly embedded: boolean;
  /** Delivers every message published on `topics` (MQTT filters) to `handler`; acknowledged once it has finished. */
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
  const window = options.maxUnacknowledged ?? 1000;
  const connect = (protocolVersion: 4 | 5) =>
    new Promise<MqttClient>((resolve, reject) => {
      const client = mqtt.connect(url, {
        clientId:
          options.clientId ?? `gridstream-ingest-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
        // A persistent session: messages published while ingest reconnects are kept for it by the broker.
        clean: false,
        reconnectPeriod: 1000,
        username: options.username,
        password: options.password,
        protocolVersion,
        // MQTT 5 lets the broker send `window` messages before the first PUBACK (Receive Maximum). Over MQTT
        // 3.1.1 a broker sends what its own setting allows (Mosquitto's max_inflight_messages, 20 by
        // default), whatever the window: with each PUBACK waiting for Kafka, that caps ingest at 20 messages
        // per delivery round trip. The session outlives a disconnect for a week (MQTT 5 ends it at once by
        // default).
        properties:
          protocolVersion === 5
            ? { receiveMaximum: window, sessionExpiryInterval: 7 * 24 * 3600 }
            : undefined,
      });
      // PUBACKs leave once the handler's records are on the log, in order; at most `window` are outstanding.
      // Installed before the connection is up: a resumed session's unacknowledged messages arrive right
      // behind the CONNACK, and mqtt.js's own handler would acknowledge them unhandled.
      handleWithOrderedAcks(client, handler, window);
      const settle = (error?: Error) => {
        client.off('connect', connected);
        client.off('error', failed);
        if (!error) return resolve(client);
        client.end(true);
        reject(error);
      };
      const connected = () => settle();
      const failed = (error: Error) => settle(error);
      client.on('connect', connected);
      client.on('error', failed);
    });
  let client: MqttClient;
  try {
    client = await connect(5);
  } catch (error) {
    // A broker that only speaks MQTT 3.1.1 refuses the protocol version (CONNACK return code 1).
    if ((error as { code?: number }).code !== 1 && !/protocol version/i.test((error as Error).message))
      throw error;
    client = await connect(4);
  }
  // Errors are reported and the client reconnects by itself; an unhandled 'error' would end the process.
  client.on('error', (error) => console.error(`MQTT consumer: ${error.message}`));
  await client.subscribeAsync(Object.fromEntries(topics.map((topic) => [topic, { qos: 1 as const }])));
  return { stop: () => client.endAsync() };
}

/**
 * Starts aedes on `port` (0 = a free port) on `host`. A publish on one of `consumedTopics` (MQTT filters) is
 * refused, not acknowledged, while no handler consumes it (before ingest starts, after it stops):
 * acknowledged, it would be dropped. Other topics are a plain broker's.
 */
export async function startEmbeddedBroker(
  port: number,
  host = '0.0.0.0',
  consumedTopics: readonly string[] = [],
): Promise<Broker> {
  const handlers: Array<{ match: (topic: string) => boolean; handler: MessageHandler }> = [];
  const aedes = await Aedes.createBroker({
    concurrency: 1000,
    drainTimeout: 120_000,
    // Called for what clients publish only (not aedes' own $SYS messages), before any acknowledgement.
    authorizePublish(_client, packet, done) {
      // aedes' own rule, which this hook replaces: clients do not publish to its $SYS topics.
      if (packet.topic.startsWith('$SYS')) return done(new Error('$SYS topic is reserved'));
      const matching = handlers.filter((h) => h.match(packet.topic));
      if (matching.length === 0) {
        if (consumedTopics.some((filter) => matchesFilter(filter, packet.topic)))
          return done(new Error(`nothing consumes ${packet.topic} yet: not acknowledged`));
        return done(null);
      }
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      Promise.all(matching.map((h) => h.handler(packet.topic, payload))).then(
        () => done(null),
        (error: Error) => {
          console.error(
            `embedded broker: not acknowledged, the publisher sends it again: ${packet.topic}: ${error.message}`,
          );
          done(error);
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
