import mqtt, { type MqttClient } from 'mqtt';
import { encode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import {
  decodeMessage,
  type IngestLimits,
  type MeterLookup,
  DEFAULT_INGEST_LIMITS,
} from '../ingest/decode.js';
import { MQTT_SUBSCRIPTIONS, parseMqttTopic } from '../ingest/topics.js';
import type { LogProducer, ProduceRecord } from '../io/log/log.js';
import { TOPICS } from './topics.js';

/**
 * MQTT → log. Subscribes with QoS 1 and acknowledges a message (PUBACK) only after the log has accepted
 * everything it became, readings and dead letters alike. While the log applies backpressure, acknowledgements
 * wait, the MQTT client stops reading, and the broker holds the messages: a full pipeline slows ingest down
 * instead of dropping or buffering without bound.
 */
export interface IngestTask {
  /** Messages fully handled (on the log as records or dead letters). */
  handled(): number;
  stop(): Promise<void>;
}

export async function startIngest(options: {
  mqttUrl: string;
  producer: LogProducer;
  meters: MeterLookup;
  metrics: Metrics;
  clientId?: string;
  limits?: IngestLimits;
  username?: string;
  password?: string;
}): Promise<IngestTask> {
  const { producer, meters, metrics } = options;
  const limits = options.limits ?? DEFAULT_INGEST_LIMITS;
  let handled = 0;
  const client: MqttClient = await mqtt.connectAsync(options.mqttUrl, {
    clientId:
      options.clientId ?? `gridstream-ingest-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    // A persistent session: messages published while ingest reconnects are kept for it by the broker.
    clean: false,
    reconnectPeriod: 1000,
    username: options.username,
    password: options.password,
  });

  client.handleMessage = (packet, done) => {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const decoded = decodeMessage(packet.topic, payload, Date.now(), meters, limits);
    metrics.mqttMessages.inc({ kind: parseMqttTopic(packet.topic)?.kind ?? 'unknown' });
    const sends: Promise<void>[] = [];
    const send = (topic: string, records: ProduceRecord[]) =>
      records.length && sends.push(producer.send(topic, records));
    send(
      TOPICS.readings.name,
      decoded.readings.map((r) => ({ key: r.dt_id, value: encode('MeterReading', r), timestamp: r.ts })),
    );
    send(
      TOPICS.weather.name,
      decoded.weather.map((w) => ({
        key: w.station_id,
        value: encode('WeatherObservation', w),
        timestamp: w.ts,
      })),
    );
    send(
      TOPICS.dispatches.name,
      decoded.dispatches.map((d) => ({
        key: d.asset_id,
        value: encode('DispatchCommand', d),
        timestamp: d.dispatch_time,
      })),
    );
    send(
      TOPICS.deadLetters.name,
      decoded.deadLetters.map((d) => ({
        key: d.key ?? d.source_topic,
        value: encode('DeadLetter', d),
        timestamp: d.received_at,
      })),
    );
    Promise.all(sends).then(
      () => {
        metrics.readingsIn.inc(decoded.readings.length);
        metrics.weatherIn.inc(decoded.weather.length);
        metrics.dispatchesIn.inc(decoded.dispatches.length);
        for (const d of decoded.deadLetters) metrics.deadLetters.inc({ reason: d.reason_code });
        handled++;
        done();
      },
      // Not acknowledged: the broker redelivers the message to the persistent session.
      (error: Error) => done(error),
    );
  };

  // Errors are reported and the client reconnects by itself; an unhandled 'error' would end the process.
  client.on('error', (error) => console.error(`ingest: MQTT client error: ${error.message}`));
  await client.subscribeAsync(
    Object.fromEntries(MQTT_SUBSCRIPTIONS.map((topic) => [topic, { qos: 1 as const }])),
  );

  return {
    handled: () => handled,
    stop: async () => {
      await client.endAsync();
    },
  };
}
