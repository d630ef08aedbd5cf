import type { LogSchemaName } from '../core/codec.js';
import type { TopicSpec } from '../io/log/log.js';

/** Log topics, the schema of their values, and how they are keyed. */
export const TOPICS = {
  readings: { name: 'gridstream.readings', schema: 'MeterReadings', key: 'DT id' },
  weather: { name: 'gridstream.weather', schema: 'WeatherObservation', key: 'station id' },
  dispatches: { name: 'gridstream.dispatches', schema: 'DispatchCommand', key: 'asset id' },
  dispatchChecks: { name: 'gridstream.dispatch-checks', schema: 'DispatchCheck', key: 'asset id' },
  envelopes: { name: 'gridstream.envelopes', schema: 'DtEnvelope', key: 'DT id' },
  impedance: { name: 'gridstream.impedance', schema: 'ImpedanceDaily', key: 'DT id' },
  impedanceFlags: { name: 'gridstream.impedance.flags', schema: 'ImpedanceFlag', key: 'DT id' },
  stress: { name: 'gridstream.stress', schema: 'DtStress', key: 'DT id' },
  operatingEnvelopes: {
    name: 'gridstream.operating-envelopes',
    schema: 'DtOperatingEnvelopes',
    key: 'DT id',
  },
  events: { name: 'gridstream.events', schema: 'FlexEventCommand', key: "event id ('clock' for a tick)" },
  eventLifecycle: { name: 'gridstream.event-lifecycle', schema: 'FlexEventLifecycle', key: 'event id' },
  deadLetters: { name: 'gridstream.deadletters', schema: 'DeadLetter', key: 'meter, station or asset id' },
  topologyMeters: { name: 'gridstream.topology.meters', schema: 'TopologyMeter', key: 'meter id' },
  topologyTransformers: {
    name: 'gridstream.topology.transformers',
    schema: 'TopologyTransformer',
    key: 'DT id',
  },
  topologyAssets: { name: 'gridstream.topology.assets', schema: 'TopologyAsset', key: 'asset id' },
} as const satisfies Record<string, { name: string; schema: LogSchemaName; key: string }>;

export type TopicId = keyof typeof TOPICS;

/**
 * The consumer groups whose members share a topic's partitions (one per role's task, across instances), and
 * whose committed offsets are the task's progress: renaming one starts that task over from the retained log.
 * Tables every instance keeps whole read in a group of their own instead (ownGroup, io/log/log.ts). Which
 * task reads what in which group: pipelines/dataflow.ts.
 */
export const GROUPS = {
  readings: 'gridstream-readings',
  stress: 'gridstream-stress',
  dispatchChecks: 'gridstream-dispatch-checks',
  webhooks: 'gridstream-webhooks',
  events: 'gridstream-events',
  warehouseSink: 'gridstream-warehouse-sink',
  loadProfileDays: 'gridstream-load-profile-days',
} as const satisfies Record<string, string>;

export type GroupId = keyof typeof GROUPS;

/**
 * Keyed topics keep a week: well beyond the revision horizon a processor replays to rebuild a partition, and
 * long enough to ride out a warehouse outage. Topology topics are compacted (the latest row of each key).
 */
export const TOPIC_RETENTION_MS = 7 * 24 * 3_600_000;

export function topicSpecs(partitions: number): TopicSpec[] {
  return Object.values(TOPICS).map((topic) =>
    topic.name.startsWith('gridstream.topology.')
      ? { name: topic.name, partitions: 1, compacted: true }
      : // Flexibility events' commands and clock ticks: one partition, one order (a replay repeats it).
        topic.name === TOPICS.events.name
        ? { name: topic.name, partitions: 1, retentionMs: TOPIC_RETENTION_MS }
        : { name: topic.name, partitions, retentionMs: TOPIC_RETENTION_MS },
  );
}

export function schemaOfTopic(topic: string): LogSchemaName {
  const found = Object.values(TOPICS).find((t) => t.name === topic);
  if (!found) throw new Error(`no schema for log topic ${topic}`);
  return found.schema;
}
