import { decode, encode } from '../core/codec.js';
import { TopologyIndex, type TopologyFile } from '../core/topology.js';
import { ownGroup, type Log, type LogConsumer } from '../io/log/log.js';
import type { TopologyMeter, TopologyTransformer } from '../schemas/types.gen.js';
import { TOPICS } from './topics.js';

/**
 * The topology as every pipeline instance sees it: a table materialised from the compacted topology topics
 * (Kafka Streams' GlobalKTable). Each instance reads the topics whole, in its own consumer group, so ingest
 * and processors anywhere agree on which DT a meter belongs to once a version has reached the log.
 */
export class TopologyTable {
  readonly index = new TopologyIndex();
  private consumer: LogConsumer | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly listeners: Array<(changedDts: Set<string>) => void> = [];

  constructor(private readonly log: Log) {}

  /** Called with the DTs whose meter count may have changed, after each batch of topology updates. */
  onChange(listener: (changedDts: Set<string>) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.consumer = this.log.consumer({
      group: ownGroup('topology-table'),
      topics: [TOPICS.topologyTransformers.name, TOPICS.topologyMeters.name],
      fromBeginning: true,
    });
    this.running = this.loop(this.consumer);
  }

  private async loop(consumer: LogConsumer): Promise<void> {
    while (!this.stopped) {
      const records = await consumer.poll(10_000, 200);
      if (records.length === 0) continue;
      const transformers: TopologyTransformer[] = [];
      const meters: TopologyMeter[] = [];
      const changed = new Set<string>();
      for (const record of records) {
        if (record.topic === TOPICS.topologyTransformers.name) {
          const t = decode('TopologyTransformer', record.value);
          transformers.push(t);
          changed.add(t.dt_id);
        } else {
          const m = decode('TopologyMeter', record.value);
          const before = this.index.dtOf(m.meter_id);
          if (before) changed.add(before);
          meters.push(m);
          changed.add(m.dt_id);
        }
      }
      this.index.apply(transformers, meters);
      await consumer.commit(records);
      for (const listener of this.listeners) listener(changed);
    }
  }

  /** Resolves once the table holds at least `version` (or rejects after `timeoutMs`). */
  async waitForVersion(version: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.index.version < version) {
      if (Date.now() > deadline)
        throw new Error(`topology version ${version} not seen within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    await this.consumer?.close();
  }
}

/** Publishes a topology load to the compacted topics under `version`. */
export async function publishTopology(log: Log, file: TopologyFile, version: number): Promise<void> {
  const producer = log.producer();
  await producer.send(
    TOPICS.topologyTransformers.name,
    file.transformers.map((t) => ({
      key: t.dt_id,
      value: encode('TopologyTransformer', { ...t, topology_version: version }),
    })),
  );
  await producer.send(
    TOPICS.topologyMeters.name,
    file.meters.map((m) => ({
      key: m.meter_id,
      value: encode('TopologyMeter', { ...m, topology_version: version }),
    })),
  );
  await producer.send(
    TOPICS.topologyAssets.name,
    (file.assets ?? []).map((a) => ({
      key: a.asset_id,
      value: encode('TopologyAsset', { ...a, topology_version: version }),
    })),
  );
  await producer.flush();
}
