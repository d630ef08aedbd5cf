import type { MqttClient } from 'mqtt';

/** Handles one message: its PUBACK waits for the promise to resolve, and a rejection withholds it. */
export type MessageHandler = (topic: string, payload: Buffer) => Promise<void>;

/**
 * QoS 1 acknowledgements that mean "on the log", without handling one message at a time.
 *
 * mqtt.js handles incoming PUBLISH packets one after another and sends each PUBACK when `handleMessage`
 * calls back; waiting there for a Kafka delivery would allow one message per round trip. Instead, handlers
 * start in arrival order and run concurrently; the PUBACK that mqtt.js sends is held back and released only
 * when the message's handler has finished (its records are on the log), in arrival order, as MQTT requires.
 * At most `window` messages are unacknowledged: beyond that mqtt.js is held, the socket stops being read and
 * the broker stops sending. A message whose handler failed is never acknowledged; the connection is dropped so
 * the broker redelivers everything unacknowledged to the persistent session. Acknowledgements from a lost
 * connection are discarded (their message ids mean nothing on the next one).
 *
 * This reaches into mqtt.js's `_sendPacket` (the one place PUBACKs leave); the behaviour is pinned by tests.
 */
export function handleWithOrderedAcks(client: MqttClient, handler: MessageHandler, window: number): void {
  interface Entry {
    generation: number;
    ready: boolean;
    release: (() => void) | null;
  }
  type SendPacket = (packet: { cmd: string; messageId?: number }, cb?: (error?: Error) => void) => void;
  const internals = client as unknown as { _sendPacket: SendPacket };
  const sendPacket = internals._sendPacket.bind(client);
  const queue: Entry[] = [];
  const byMessageId = new Map<number, Entry>();
  let generation = 0;
  let blocked: (() => void) | null = null;

  const releaseReady = () => {
    while (queue.length && queue[0]!.ready && queue[0]!.release) queue.shift()!.release!();
    if (blocked && queue.length < window) {
      const resume = blocked;
      blocked = null;
      resume();
    }
  };

  client.on('close', () => {
    generation++;
    queue.length = 0;
    byMessageId.clear();
    releaseReady();
  });

  internals._sendPacket = (packet, cb) => {
    const entry =
      packet.cmd === 'puback' && packet.messageId !== undefined
        ? byMessageId.get(packet.messageId)
        : undefined;
    if (!entry) return sendPacket(packet, cb);
    byMessageId.delete(packet.messageId!);
    entry.release = () => {
      if (entry.generation === generation) sendPacket(packet);
    };
    // mqtt.js goes on to the next packet now; the PUBACK itself leaves when the entry reaches the head.
    cb?.();
    releaseReady();
  };

  client.handleMessage = (packet, done) => {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (packet.qos === 0 || packet.messageId === undefined) {
      handler(packet.topic, payload).then(
        () => done(),
        () => done(),
      );
      return;
    }
    const entry: Entry = { generation, ready: false, release: null };
    queue.push(entry);
    byMessageId.set(packet.messageId, entry);
    handler(packet.topic, payload).then(
      () => {
        entry.ready = true;
        releaseReady();
      },
      (error: Error) => {
        console.error(
          `MQTT consumer: handling ${packet.topic} failed, reconnecting for redelivery: ${error.message}`,
        );
        client.stream.destroy();
      },
    );
    if (queue.length < window) done();
    else blocked = () => done();
  };
}
