import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { redactUrl } from '../../core/redact.js';
import { DEFAULT_INGEST_LIMITS } from '../../ingest/decode.js';
import { mayPublish, maySubscribe, type MqttAccount, type MqttAccounts } from './mqtt-accounts.js';
import { handleWithOrderedAcks, type MessageHandler } from './ordered-acks.js';

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
export type { MessageHandler };

export interface Broker {
  /** Where clients connect, without credentials. */
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
    // What is shown of the broker: the credentials stay in the URL the consumer connects with.
    url: redactUrl(url),
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

export interface EmbeddedBrokerOptions {
  /** 0 = a free port. */
  port: number;
  /** The address to listen on (GRIDSTREAM_MQTT_HOST; 127.0.0.1 unless told otherwise). */
  host: string;
  /** Who may connect, publish and subscribe (mqtt-accounts.ts). */
  accounts: MqttAccounts;
  /** MQTT filters ingest consumes: a publish on them is refused while nothing consumes it. */
  consumedTopics?: readonly string[];
  /** PEM certificate chain and key: the listener speaks MQTT over TLS only (mqtts://). */
  tls?: { cert: Buffer; key: Buffer };
  /** Packets larger than this (remaining length, bytes) end the connection as they arrive. */
  maxPacketBytes?: number;
}

/**
 * The largest packet the embedded broker reads: a payload at ingest's limit (what Mosquitto's
 * message_size_limit lets through) plus room for the topic, packet id and MQTT 5 properties.
 */
export const MAX_PACKET_BYTES = DEFAULT_INGEST_LIMITS.maxPayloadBytes + 1024;

/**
 * Starts aedes. A client logs in to an account (anonymous clients and wrong passwords get CONNACK "not
 * authorized"); a publish the account may not make, or on a consumed topic while nothing consumes it, is
 * refused: not acknowledged, the connection closed (MQTT 3.1.1 has no negative PUBACK). A subscription the
 * account may not make is answered with failure (0x80). Other topics are nobody's.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<Broker> {
  const { accounts, consumedTopics = [], maxPacketBytes = MAX_PACKET_BYTES } = options;
  const handlers: Array<{ match: (topic: string) => boolean; handler: MessageHandler }> = [];
  const accountOf = new WeakMap<object, MqttAccount>();
  const aedes = await Aedes.createBroker({
    concurrency: 1000,
    drainTimeout: 120_000,
    authenticate(client, username, password, done) {
      accounts.authenticate(username, password).then(
        (account) => {
          if (!account) return done(Object.assign(new Error('not authorized'), { returnCode: 5 }), false);
          accountOf.set(client, account);
          done(null, true);
        },
        (error: Error) => {
          console.error(`embedded broker: checking ${username ?? 'an anonymous client'}: ${error.message}`);
          done(Object.assign(error, { returnCode: 3 }), false);
        },
      );
    },
    authorizeSubscribe(client, subscription, done) {
      const account = accountOf.get(client);
      done(null, account && maySubscribe(account, subscription.topic) ? subscription : null);
    },
    // Called for what clients publish (their wills included), not aedes' own $SYS messages, before any
    // acknowledgement.
    authorizePublish(client, packet, done) {
      const account = client && accountOf.get(client);
      if (!account || !mayPublish(account, packet.topic))
        return done(new Error(`${account?.username ?? 'nobody'} may not publish to ${packet.topic}`));
      const matching = handlers.filter((h) => h.match(packet.topic));
      if (matching.length === 0) {
        if (consumedTopics.some((filter) => matchesFilter(filter, packet.topic)))
          return done(new Error(`nothing consumes ${packet.topic} yet: not acknowledged`));
        return done(null);
      }
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      const handled =
        matching.length === 1
          ? matching[0]!.handler(packet.topic, payload)
          : Promise.all(matching.map((h) => h.handler(packet.topic, payload)));
      handled.then(
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
  const accept = (socket: Socket) => limitPacketSize(socket, aedes.handle(socket), maxPacketBytes);
  const server = options.tls ? createTlsServer(options.tls, accept) : createServer(accept);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const host = ['0.0.0.0', '::', ''].includes(options.host) ? '127.0.0.1' : options.host;
  return {
    url: `${options.tls ? 'mqtts' : 'mqtt'}://${host.includes(':') ? `[${host}]` : host}:${actual}`,
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

interface PacketParser {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(error: Error): void;
}

/**
 * mqtt-packet (9.x) has no size limit: it buffers a packet whole, whatever length its header declares. The
 * check sits in the client's parser right after the length is read, so a large packet ends the connection
 * after its first chunk instead of being held in memory.
 */
function limitPacketSize(socket: Socket, client: unknown, maxBytes: number): void {
  const parser = (client as { _parser?: PacketParser })._parser;
  if (typeof parser?._parseLength !== 'function' || typeof parser._emitError !== 'function') {
    // Another aedes or mqtt-packet than this was written for: no connection rather than no limit.
    console.error(
      'embedded broker: cannot limit packet sizes (aedes without its mqtt-packet parser): refused',
    );
    socket.destroy();
    return;
  }
  const parseLength = parser._parseLength;
  parser._parseLength = function (this: PacketParser) {
    const parsed = parseLength.call(this);
    if (parsed && this.packet.length > maxBytes) {
      this._emitError(new Error(`packet of ${this.packet.length} bytes refused (limit ${maxBytes})`));
      return false;
    }
    return parsed;
  };
}

/**
 * MQTT topic filter matching (`+` one level, `#` the rest). Runs for every message the embedded broker takes,
 * so it walks both strings level by level instead of splitting them.
 */
export function matchesFilter(filter: string, topic: string): boolean {
  let f = 0;
  let t = 0;
  for (;;) {
    const fEnd = levelEnd(filter, f);
    const single = fEnd - f === 1;
    if (single && filter.charCodeAt(f) === 35 /* # */) return true;
    if (t > topic.length) return false;
    const tEnd = levelEnd(topic, t);
    if (!(single && filter.charCodeAt(f) === 43) /* + */) {
      if (fEnd - f !== tEnd - t) return false;
      for (let k = 0; k < fEnd - f; k++)
        if (filter.charCodeAt(f + k) !== topic.charCodeAt(t + k)) return false;
    }
    f = fEnd + 1;
    t = tEnd + 1;
    if (f > filter.length) return t > topic.length;
  }
}

/** Where the topic level starting at `from` ends (the next `/`, or the string's end). */
function levelEnd(text: string, from: number): number {
  const slash = text.indexOf('/', from);
  return slash < 0 ? text.length : slash;
}
