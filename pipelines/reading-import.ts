import type { Metrics } from '../core/metrics.js';
import type { TopologyIndex } from '../core/topology.js';
import { decodeMessage, DEFAULT_INGEST_LIMITS, type Decoded, type IngestLimits } from '../ingest/decode.js';
import { parseMqttTopic, telemetryTopic } from '../ingest/mqtt-topics.js';
import type { LogProducer } from '../io/log/log.js';
import { sendDecoded } from './ingest-task.js';

/**
 * Readings imported in bulk through the API (the energy-consumption import): each record is a reading of one
 * meter, `meter_id` beside the fields a meter publishes on its telemetry topic. A record of a meter of the
 * key's tenant goes through exactly what that meter's MQTT message would: decodeMessage on its telemetry
 * topic, then sendDecoded onto the log, readings and dead letters alike, and the import resolves only once
 * the log has all of them (as MQTT acknowledges only after the log write). A record naming no meter, or a
 * meter that is not on a DT of the key's tenant (another tenant's, or one the topology does not place), is
 * refused in the answer only: it is not the tenant's reading, so it is neither parked nor dead-lettered.
 */
export type ImportResult =
  | { index: number; status: 'accepted' }
  | { index: number; status: 'rejected'; reason_code: string; reason: string };

export interface ReadingImport {
  /** The result of each record, by index, once everything accepted and dead-lettered is on the log. */
  import(records: readonly unknown[], tenant: string): Promise<ImportResult[]>;
}

export function readingImport(options: {
  producer: LogProducer;
  topology: TopologyIndex;
  metrics: Metrics;
  limits?: IngestLimits;
}): ReadingImport {
  const { producer, topology, metrics } = options;
  const limits = options.limits ?? DEFAULT_INGEST_LIMITS;
  return {
    async import(records, tenant) {
      const receivedAt = Date.now();
      const all: Decoded = { readings: [], weather: [], dispatches: [], deadLetters: [] };
      const results = records.map((record, index): ImportResult => {
        const refuse = (reason_code: string, reason: string): ImportResult => ({
          index,
          status: 'rejected',
          reason_code,
          reason,
        });
        if (record === null || typeof record !== 'object' || Array.isArray(record))
          return refuse('schema', 'expected a JSON object with meter_id');
        const { meter_id: meterId, ...payload } = record as Record<string, unknown>;
        if (typeof meterId !== 'string') return refuse('schema', 'meter_id: expected a string');
        const topic = telemetryTopic(meterId);
        const parsed = parseMqttTopic(topic);
        if (parsed?.kind !== 'telemetry' || parsed.meterId !== meterId)
          return refuse('schema', `meter_id: ${JSON.stringify(meterId)} is not a meter id`);
        const dt = topology.dtOf(meterId);
        const owner = dt === undefined ? undefined : (topology.transformers.get(dt)?.tenant ?? 'default');
        // Another tenant's meter is answered as an unknown one: a key cannot learn which meters exist elsewhere.
        if (owner !== tenant)
          return refuse(
            'not_found',
            `meter ${JSON.stringify(meterId)} is not on a transformer of tenant ${JSON.stringify(tenant)}`,
          );
        const decoded = decodeMessage(
          topic,
          Buffer.from(JSON.stringify(payload)),
          receivedAt,
          topology,
          limits,
        );
        all.readings.push(...decoded.readings);
        all.deadLetters.push(...decoded.deadLetters);
        const [dead] = decoded.deadLetters;
        return dead ? refuse(dead.reason_code, dead.reason) : { index, status: 'accepted' };
      });
      await sendDecoded(producer, all);
      metrics.readingsIn.inc(all.readings.length);
      for (const d of all.deadLetters) metrics.deadLetters.inc({ reason: d.reason_code });
      return results;
    },
  };
}
