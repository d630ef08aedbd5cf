import { encode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import {
  decodeMessage,
  type Decoded,
  type IngestLimits,
  type MeterLookup,
  DEFAULT_INGEST_LIMITS,
} from '../ingest/decode.js';
import { MQTT_SUBSCRIPTIONS, parseMqttTopic } from '../ingest/mqtt-topics.js';
import { encodeTelemetryUpload } from '../ingest/telemetry-upload.js';
import type { Broker } from '../io/broker/broker.js';
import type { LogProducer, ProduceRecord } from '../io/log/log.js';
import type { MeterReading } from '../schemas/types.gen.js';
import { TOPICS } from './log-topics.js';

/**
 * MQTT → log. A message is done only once the log has accepted everything it became, readings and dead
 * letters alike; until then the broker edge holds back the publisher's next messages, so a full pipeline
 * slows ingest down instead of dropping or buffering without bound.
 */
export interface IngestTask {
  /** Messages fully handled (on the log as records or dead letters). */
  handled(): number;
  stop(): Promise<void>;
}

export async function startIngest(options: {
  broker: Broker;
  producer: LogProducer;
  meters: MeterLookup;
  metrics: Metrics;
  /** Stable MQTT client id, so a restarted bridge resumes its session (and what was queued for it). */
  clientId?: string;
  limits?: IngestLimits;
  /**
   * Telemetry uploads parsed straight into their log record (ingest/telemetry-upload.ts), no objects made. Off
   * on the in-process log, whose consumers get the encoded objects themselves back instead of decoding.
   */
  encodeDirectly?: boolean;
}): Promise<IngestTask> {
  const { producer, meters, metrics } = options;
  const limits = options.limits ?? DEFAULT_INGEST_LIMITS;
  let handled = 0;
  // Counters by label, resolved once rather than per message.
  const messagesOf = new Map<string, { inc(): void }>();
  const messages = (kind: string) => {
    let counter = messagesOf.get(kind);
    if (!counter) messagesOf.set(kind, (counter = metrics.mqttMessages.labels({ kind })));
    return counter;
  };

  const direct = options.encodeDirectly ?? false;
  const handle = async (topic: string, payload: Buffer) => {
    const receivedAt = Date.now();
    const parsed = parseMqttTopic(topic);
    const kind = parsed?.kind ?? 'unknown';
    if (direct && parsed?.kind === 'telemetry') {
      const dtId = meters.dtOf(parsed.meterId);
      const upload =
        dtId !== undefined &&
        encodeTelemetryUpload(payload, parsed.meterId, dtId, receivedAt, limits, READINGS_PER_RECORD);
      if (upload) {
        messages(kind).inc();
        await producer.send(TOPICS.readings.name, [{ key: dtId, value: upload.value, timestamp: upload.ts }]);
        metrics.readingsIn.inc(upload.readings);
        handled++;
        return;
      }
    }
    const decoded = decodeMessage(topic, payload, receivedAt, meters, limits);
    messages(kind).inc();
    await sendDecoded(producer, decoded);
    metrics.readingsIn.inc(decoded.readings.length);
    if (decoded.weather.length) metrics.weatherIn.inc(decoded.weather.length);
    if (decoded.dispatches.length) metrics.dispatchesIn.inc(decoded.dispatches.length);
    for (const d of decoded.deadLetters) metrics.deadLetters.inc({ reason: d.reason_code });
    handled++;
  };

  const subscription = await options.broker.consume(MQTT_SUBSCRIPTIONS, handle, {
    clientId: options.clientId,
  });
  return { handled: () => handled, stop: () => subscription.stop() };
}

/**
 * Puts what one MQTT message became on the log, resolving once the log has accepted all of it: MQTT ingest,
 * and parked readings sent again once their meter is placed (pipelines/parked-readings.ts).
 */
export async function sendDecoded(producer: LogProducer, decoded: Decoded): Promise<void> {
  const { readings, weather, dispatches, deadLetters } = decoded;
  if (
    readings.length > 0 &&
    readings.length <= READINGS_PER_RECORD &&
    weather.length + dispatches.length + deadLetters.length === 0 &&
    readings.every((r) => r.meter_id === readings[0]!.meter_id)
  )
    // A meter's message, nearly every one: its record, without the general case's arrays and Promise.all.
    return producer.send(TOPICS.readings.name, [readingsRecord(readings)]);
  const sends: Promise<void>[] = [];
  const send = (logTopic: string, records: ProduceRecord[]) => {
    if (records.length) sends.push(producer.send(logTopic, records));
  };
  // An MQTT message's readings are one meter's, so one DT's: one record (a quarter hour of one-minute readings
  // costs the producer, the broker and every consumer one record, not fifteen). A bulk import holds many
  // meters: a record per meter, of at most READINGS_PER_RECORD readings.
  send(TOPICS.readings.name, readingRuns(decoded.readings).map(readingsRecord));
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
  await Promise.all(sends);
}

/** One MeterReadings record of a meter's readings, keyed by their DT. */
function readingsRecord(readings: MeterReading[]): ProduceRecord {
  return {
    key: readings[0]!.dt_id,
    value: encode('MeterReadings', { readings }),
    timestamp: readings[0]!.ts,
  };
}

/**
 * Readings in one MeterReadings record at most: about 120 KB of Avro, well under Kafka's default message size
 * limit (1 MB) however many readings of one meter a bulk import holds.
 */
export const READINGS_PER_RECORD = 1_000;

/** Readings grouped by meter (in their order within each), cut into runs of at most READINGS_PER_RECORD. */
function readingRuns(readings: MeterReading[]): MeterReading[][] {
  if (readings.length === 0) return [];
  const meter = readings[0]!.meter_id;
  let byMeter = [readings];
  if (!readings.every((r) => r.meter_id === meter)) {
    const runs = new Map<string, MeterReading[]>();
    for (const r of readings) {
      const run = runs.get(r.meter_id);
      if (run) run.push(r);
      else runs.set(r.meter_id, [r]);
    }
    byMeter = [...runs.values()];
  }
  return byMeter.flatMap((run) => {
    if (run.length <= READINGS_PER_RECORD) return [run];
    const runs: MeterReading[][] = [];
    for (let k = 0; k < run.length; k += READINGS_PER_RECORD)
      runs.push(run.slice(k, k + READINGS_PER_RECORD));
    return runs;
  });
}
