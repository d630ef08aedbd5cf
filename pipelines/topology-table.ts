import { decode, encode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import { TopologyIndex, type TopologyFile } from '../core/topology.js';
import { ownGroup, type Log, type LogConsumer } from '../io/log/log.js';
import type { TopologyMeter, TopologyTransformer } from '../schemas/types.gen.js';
import { supervise } from './runtime/fatal.js';
import { messageOf, PoisonRecords } from './runtime/poison.js';
import { retry } from './runtime/retry.js';
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
  private assigned = false;
  private isCaughtUp = false;
  private readonly caught: Promise<void>;
  private markCaughtUp: () => void = () => undefined;
  private readonly listeners: Array<(changedDts: Set<string>) => void> = [];

  constructor(
    private readonly log: Log,
    private readonly options: { metrics?: Pick<Metrics, 'deadLetters'> } = {},
  ) {
    this.caught = new Promise<void>((resolve) => {
      this.markCaughtUp = resolve;
    });
  }

  /** Called with the DTs whose meter count may have changed, after each batch of topology updates. */
  onChange(listener: (changedDts: Set<string>) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.consumer = this.log.consumer({
      group: ownGroup('topology-table'),
      topics: [TOPICS.topologyTransformers.name, TOPICS.topologyMeters.name],
      fromBeginning: true,
      // Lag is known only once the partitions are assigned (Kafka reports 0 before).
      onAssigned: () => {
        this.assigned = true;
      },
    });
    const poison = new PoisonRecords({
      producer: this.log.producer(),
      stopping: () => this.stopped,
      metrics: this.options.metrics,
    });
    // On a stop nothing is lost: the table is rebuilt from the topics' beginning by the next start.
    this.running = supervise('topology table', this.loop(this.consumer, poison), () => this.stopped).then(
      () => undefined,
    );
  }

  /**
   * Resolves once the table has read its topics to their end (lag 0 after the assignment), so it holds every
   * topology version on the log when this process started; never settles if the table stops before.
   */
  caughtUp(): Promise<void> {
    return this.caught;
  }

  private async loop(consumer: LogConsumer, poison: PoisonRecords): Promise<void> {
    const stopping = { stopping: () => this.stopped };
    while (!this.stopped) {
      const records = await retry(
        'topology table: reading the log',
        () => consumer.poll(10_000, 200),
        stopping,
      );
      if (records.length > 0) {
        const transformers: TopologyTransformer[] = [];
        const meters: TopologyMeter[] = [];
        const changed = new Set<string>();
        const dead: Array<Promise<void>> = [];
        for (const record of records) {
          try {
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
          } catch (error) {
            // A compacted topic keeps a corrupt record for good: crashing on it would crash every restart.
            dead.push(poison.deadLetter(record, `topology table: ${messageOf(error)}`));
          }
        }
        this.index.apply(transformers, meters);
        await Promise.all(dead);
        await retry('topology table: committing', () => consumer.commit(records), stopping);
        for (const listener of this.listeners)
          try {
            listener(changed);
          } catch (error) {
            console.error(`topology table: a listener failed: ${(error as Error).stack ?? messageOf(error)}`);
          }
      }
      if (!this.isCaughtUp && this.assigned) await this.checkCaughtUp(consumer);
    }
  }

  private async checkCaughtUp(consumer: LogConsumer): Promise<void> {
    let lag: number;
    try {
      lag = await consumer.lag();
    } catch {
      return; // asked again after the next poll
    }
    if (lag === 0) {
      this.isCaughtUp = true;
      this.markCaughtUp();
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
