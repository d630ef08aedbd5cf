import { decode, encode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import { TopologyIndex, type TopologyFile } from '../core/topology.js';
import type { Log } from '../io/log/log.js';
import type { TopologyMeter, TopologyTransformer } from '../schemas/types.gen.js';
import { GlobalTable, notify } from './runtime/global-table.js';
import { TOPICS } from './log-topics.js';

/**
 * The topology as every pipeline instance sees it: a table materialised from the compacted topology topics
 * (a GlobalTable, runtime/global-table.ts). Each instance reads the topics whole, in its own consumer group, so
 * ingest and processors anywhere agree on which DT a meter belongs to once a version has reached the log.
 */
type TopologyRow = { transformer: TopologyTransformer } | { meter: TopologyMeter };

export class TopologyTable {
  readonly index = new TopologyIndex();
  private readonly listeners: Array<(changedDts: Set<string>) => void> = [];
  private readonly table: GlobalTable<TopologyRow>;

  constructor(log: Log, options: { metrics?: Pick<Metrics, 'deadLetters'> } = {}) {
    this.table = new GlobalTable<TopologyRow>({
      log,
      name: 'topology table',
      topics: [TOPICS.topologyTransformers.name, TOPICS.topologyMeters.name],
      decode: (record) =>
        record.topic === TOPICS.topologyTransformers.name
          ? { transformer: decode('TopologyTransformer', record.value) }
          : { meter: decode('TopologyMeter', record.value) },
      apply: (rows) => this.apply(rows),
      metrics: options.metrics,
    });
  }

  /** Called with the DTs whose meter count may have changed, after each batch of topology updates. */
  onChange(listener: (changedDts: Set<string>) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.table.start();
  }

  /**
   * Resolves once the table has read its topics to their end (lag 0 after the assignment), so it holds every
   * topology version on the log when this process started (or once the table stops).
   */
  caughtUp(): Promise<void> {
    return this.table.caughtUp();
  }

  private apply(rows: TopologyRow[]): void {
    const transformers: TopologyTransformer[] = [];
    const meters: TopologyMeter[] = [];
    const changed = new Set<string>();
    for (const row of rows) {
      if ('transformer' in row) {
        transformers.push(row.transformer);
        changed.add(row.transformer.dt_id);
      } else {
        const before = this.index.dtOf(row.meter.meter_id);
        if (before) changed.add(before);
        meters.push(row.meter);
        changed.add(row.meter.dt_id);
      }
    }
    this.index.apply(transformers, meters);
    notify('topology table', this.listeners, changed);
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

  stop(): Promise<void> {
    return this.table.stop();
  }
}

/**
 * A topology row with its version, the same fields in the same order as `{ ...row, topology_version }`. Not a
 * spread: V8 gives every object a spread copies from another its own hidden class, and the in-process log
 * hands these very objects to the topology table (core/codec.ts remembers them), where at 200,000 meters the
 * hidden classes alone took ~60 MiB; Object.assign's copies share one.
 */
function versioned<R extends object>(row: R, version: number): R & { topology_version: number } {
  return Object.assign({}, row, { topology_version: version });
}

/** Publishes a topology load to the compacted topics under `version`. */
export async function publishTopology(log: Log, file: TopologyFile, version: number): Promise<void> {
  const producer = log.producer();
  await producer.send(
    TOPICS.topologyTransformers.name,
    file.transformers.map((t) => ({
      key: t.dt_id,
      value: encode('TopologyTransformer', versioned(t, version)),
    })),
  );
  await producer.send(
    TOPICS.topologyMeters.name,
    file.meters.map((m) => ({
      key: m.meter_id,
      value: encode('TopologyMeter', versioned(m, version)),
    })),
  );
  await producer.send(
    TOPICS.topologyAssets.name,
    (file.assets ?? []).map((a) => ({
      key: a.asset_id,
      value: encode('TopologyAsset', versioned(a, version)),
    })),
  );
  await producer.flush();
}
