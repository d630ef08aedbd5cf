import type { GridstreamConfig } from '../core/config.js';
import { isOwnGroup, type ConsumerOptions, type Log } from '../io/log/log.js';
import { GROUPS, TOPICS, type GroupId, type TopicId } from './log-topics.js';

/**
 * The gridstream dataflow as data: every task and table a process can run, with the role that runs it, its
 * consumer group, the topics it reads and writes, what it reads or writes outside the log, and its side
 * inputs. startPipeline (pipelines/start-pipeline.ts) starts the nodes of its roles in this order and stops
 * them in STOP_ORDER; the diagram at the top of start-pipeline.ts is renderDataflow()'s, and
 * test/unit/dataflow.test.ts checks the graph is whole (every topic written is read, groups unique, roles
 * cover every node, side inputs started first, a stop order that lets the last outputs through).
 */

/**
 * What a process runs: the bridge (MQTT → log), the processor (log → envelopes → warehouse) and the API.
 * On Kafka each can run alone and scale on its own; on the in-process log they run together.
 */
export type Role = 'bridge' | 'processor' | 'api';
export const ALL_ROLES: readonly Role[] = ['bridge', 'processor', 'api'];

/** The ends outside the log a node reads from or writes to. */
export type Outside = 'MQTT' | 'ClickHouse' | 'webhooks' | 'API' | 'topology loads';

/**
 * State a node reads besides its input topics: a table another node keeps (started before it), or the
 * warehouse (history read at start or when a partition is assigned, look-ups).
 */
export type SideInput = 'topology table' | 'weather table' | 'warehouse';

export interface DataflowNode {
  readonly id: string;
  readonly what: string;
  readonly roles: readonly Role[];
  /**
   * Its consumer group: `shared` by the instances of its role (the partitions dealt among them, offsets kept
   * as its progress), `own` for a table each process keeps whole (reads every partition afresh at start), or
   * null for a node that reads no topic.
   */
  readonly group: { readonly shared: GroupId } | { readonly own: string } | null;
  readonly inputs: readonly TopicId[];
  readonly from: readonly Outside[];
  readonly outputs: readonly TopicId[];
  readonly to: readonly Outside[];
  readonly sideInputs: readonly SideInput[];
  /** The side input it keeps for the nodes after it. */
  readonly provides?: SideInput;
  /** Stages run on its one consumer, each record read and decoded once for all of them. */
  readonly stages?: readonly string[];
  /** Started only if the configuration asks for it (the node's roles running). */
  readonly enabled?: (config: GridstreamConfig) => boolean;
}

/** Every node, in the order they start. */
export const DATAFLOW = [
  {
    id: 'topologyTable',
    what: 'topology table (meter → DT, meters per DT, nameplates)',
    roles: ALL_ROLES,
    group: { own: 'topology-table' },
    inputs: ['topologyTransformers', 'topologyMeters'],
    from: [],
    outputs: ['deadLetters'],
    to: [],
    sideInputs: [],
    provides: 'topology table',
  },
  {
    id: 'topologyLoads',
    what: 'topology loads (the API, or a newer version only the warehouse holds, published at start)',
    roles: ALL_ROLES,
    group: null,
    inputs: [],
    from: ['topology loads'],
    outputs: ['topologyTransformers', 'topologyMeters', 'topologyAssets'],
    to: [],
    sideInputs: ['topology table', 'warehouse'],
  },
  {
    id: 'warehouseSink',
    what: 'warehouse sink',
    roles: ['processor'],
    group: { shared: 'warehouseSink' },
    inputs: [
      'envelopes',
      'impedance',
      'impedanceFlags',
      'stress',
      'operatingEnvelopes',
      'deadLetters',
      'weather',
      'dispatches',
      'dispatchChecks',
      'topologyMeters',
      'topologyTransformers',
      'topologyAssets',
    ],
    from: [],
    outputs: [],
    to: ['ClickHouse'],
    sideInputs: [],
  },
  {
    id: 'readings',
    what: 'readings task (the readings read once)',
    roles: ['processor'],
    group: { shared: 'readings' },
    inputs: ['readings'],
    from: [],
    outputs: ['envelopes', 'impedance', 'impedanceFlags', 'deadLetters'],
    to: ['ClickHouse'],
    sideInputs: ['topology table', 'warehouse'],
    stages: ['envelopes', 'impedance'],
  },
  {
    id: 'weatherTable',
    what: 'weather table',
    roles: ['processor'],
    group: { own: 'weather-table' },
    inputs: ['weather'],
    from: [],
    outputs: ['deadLetters'],
    to: [],
    sideInputs: ['warehouse'],
    provides: 'weather table',
  },
  {
    id: 'stress',
    what: 'stress stage',
    roles: ['processor'],
    group: { shared: 'stress' },
    inputs: ['envelopes'],
    from: [],
    outputs: ['stress', 'operatingEnvelopes', 'deadLetters'],
    to: [],
    sideInputs: ['topology table', 'weather table', 'warehouse'],
    stages: ['stress'],
  },
  {
    id: 'dispatchChecks',
    what: 'dispatch checks',
    roles: ['processor'],
    group: { shared: 'dispatchChecks' },
    inputs: ['dispatches'],
    from: [],
    outputs: ['dispatchChecks', 'deadLetters'],
    to: [],
    sideInputs: ['warehouse'],
  },
  {
    id: 'events',
    what: 'flexibility events (lifecycle, baselines, stats)',
    roles: ['processor'],
    group: { shared: 'events' },
    inputs: ['envelopes', 'dispatches', 'events'],
    from: [],
    outputs: ['events', 'eventLifecycle', 'deadLetters'],
    to: ['ClickHouse'],
    sideInputs: ['warehouse'],
  },
  {
    id: 'webhooks',
    what: 'alerts → signed webhooks',
    roles: ['processor'],
    group: { shared: 'webhooks' },
    inputs: ['stress', 'impedanceFlags', 'dispatchChecks', 'eventLifecycle'],
    from: [],
    outputs: ['deadLetters'],
    to: ['webhooks', 'ClickHouse'],
    sideInputs: ['warehouse'],
  },
  {
    id: 'loadProfileDays',
    what: 'load-profile pieces (one per DT-day, which the API reads)',
    roles: ['processor'],
    group: { shared: 'loadProfileDays' },
    inputs: ['envelopes'],
    from: [],
    outputs: [],
    to: ['ClickHouse'],
    sideInputs: ['warehouse'],
  },
  {
    id: 'ingest',
    what: 'ingest',
    roles: ['bridge'],
    group: null,
    inputs: [],
    from: ['MQTT'],
    outputs: ['readings', 'weather', 'dispatches', 'deadLetters'],
    to: [],
    sideInputs: ['topology table'],
  },
  {
    id: 'parkedReadings',
    what: 'parked readings (unknown meters placed since)',
    roles: ['bridge'],
    group: null,
    inputs: [],
    from: ['ClickHouse'],
    outputs: ['readings'],
    to: ['ClickHouse'],
    sideInputs: ['topology table', 'warehouse'],
  },
  {
    id: 'readingImport',
    what: "reading import (the API's energy-consumption import, validated as ingest does)",
    roles: ['api'],
    group: null,
    inputs: [],
    from: ['API'],
    outputs: ['readings', 'deadLetters'],
    to: [],
    sideInputs: ['topology table'],
  },
  {
    id: 'eventCommands',
    what: "event commands (the API's flexibility-event schedules and cancels)",
    roles: ['api'],
    group: null,
    inputs: [],
    from: ['API'],
    outputs: ['events'],
    to: [],
    sideInputs: [],
  },
] as const satisfies readonly DataflowNode[];

export type NodeId = (typeof DATAFLOW)[number]['id'];

/**
 * The order nodes stop in. What writes the log stops before what reads it, so what a node sends as it
 * stops still reaches its readers before they stop: ingest first, then the readings task (the envelopes it
 * flushes on stopping still reach the stress stage), the warehouse sink after every writer, and the tables
 * others read as side inputs after their readers (the topology table last).
 */
export const STOP_ORDER: readonly NodeId[] = [
  'ingest',
  'parkedReadings',
  'readingImport',
  'eventCommands',
  'topologyLoads',
  'readings',
  'stress',
  'weatherTable',
  'dispatchChecks',
  'events',
  'webhooks',
  'loadProfileDays',
  'warehouseSink',
  'topologyTable',
];

/** Whether a process of `roles` with `config` runs `node`. */
export function runs(node: DataflowNode, roles: readonly Role[], config: GridstreamConfig): boolean {
  return node.roles.some((role) => roles.includes(role)) && (node.enabled?.(config) ?? true);
}

/** The nodes reading in a shared consumer group: their lag is exported per group. */
export function sharedGroups(): Array<{ id: NodeId; group: string }> {
  return DATAFLOW.flatMap((node: DataflowNode) =>
    node.group && 'shared' in node.group ? [{ id: node.id as NodeId, group: GROUPS[node.group.shared] }] : [],
  );
}

const short = (topic: TopicId) => TOPICS[topic].name.replace(/^gridstream\./, '');

/**
 * The diagram of the dataflow, a few lines per node: what it is [its roles; its consumer group], then what it
 * reads ──(its stages)──▶ what it writes, then its side inputs. Lines are wrapped to `width`.
 */
export function renderDataflow(width = 104): string[] {
  const lines: string[] = [];
  for (const node of DATAFLOW as readonly DataflowNode[]) {
    const roles = node.roles.length === ALL_ROLES.length ? 'every role' : node.roles.join(', ');
    const group = !node.group
      ? ''
      : 'shared' in node.group
        ? `; group ${GROUPS[node.group.shared]}`
        : `; own group ${node.group.own}`;
    lines.push(`${node.what} [${roles}${group}]`);
    const ins = [...node.from, ...node.inputs.map(short)].join(', ');
    const arrow = node.stages ? `──${node.stages.join(', ')}──▶` : '──▶';
    const outs = [...node.outputs.map(short), ...node.to].join(', ');
    lines.push(...wrap(`${ins} ${arrow} ${outs}`, '    ', width));
    if (node.sideInputs.length)
      lines.push(...wrap(`side inputs: ${node.sideInputs.join(', ')}`, '    ', width));
  }
  return lines;
}

function wrap(text: string, indent: string, width: number): string[] {
  const lines: string[] = [];
  let line = indent;
  for (const word of text.split(' ')) {
    if (line.length > indent.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = `${indent}  `;
    }
    line += line.trim() ? ` ${word}` : word;
  }
  lines.push(line);
  return lines;
}

/**
 * The log as the nodes see it: a consumer the dataflow does not declare (its group and topics) is refused,
 * so the description cannot drift from what the tasks read. A group of its own (ownGroup) is matched by its
 * topics: its name carries the process and a random part.
 */
export function declaredLog(log: Log): Log {
  const declared = (options: ConsumerOptions): boolean => {
    const topics = [...options.topics].sort().join();
    return DATAFLOW.some((node: DataflowNode) => {
      if (!node.group) return false;
      const group = 'shared' in node.group ? GROUPS[node.group.shared] : null;
      if (group ? options.group !== group : !isOwnGroup(options.group)) return false;
      return (
        node.inputs
          .map((t) => TOPICS[t].name)
          .sort()
          .join() === topics
      );
    });
  };
  return {
    kind: log.kind,
    ensureTopics: (specs) => log.ensureTopics(specs),
    producer: () => log.producer(),
    consumer: (options) => {
      if (!declared(options))
        throw new Error(
          `consumer group ${options.group} reading ${options.topics.join(', ')} is not in the dataflow: declare it in pipelines/dataflow.ts`,
        );
      return log.consumer(options);
    },
    replay: (topic, partition, untilOffset, lookbackMs) =>
      log.replay(topic, partition, untilOffset, lookbackMs),
    close: () => log.close(),
  };
}
