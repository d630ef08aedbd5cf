/**
 * The gridstream side of `npm run bench:streams` (bench/streams.ts), as its own process: the processor's
 * readings task with its envelope stage only, on Kafka. The task is the processor's (pipelines/stage-task.ts,
 * the readings group, each record decoded once by readingsOfRecord, the envelope stage of
 * pipelines/load-envelope-stage.ts with the topology table as its side input, envelopes to gridstream.envelopes,
 * offsets committed after the outputs are on the log), with the same batch size and linger as
 * pipelines/readings-task.ts; it has no record sink, so no reading goes to ClickHouse (the readings table's
 * RowBinary encoding and inserts are not measured), and there are no load patterns (no warehouse) and no
 * restore from a warehouse. The heap growth is the processor role's (core/heap.ts).
 *
 * Argument: JSON { brokers, partitions, allowedLatenessMs, revisionHorizonMs }. Prints "running" once the
 * topology is read and partitions are assigned, and stops (draining, committing) on SIGTERM.
 */
import { rememberEncodedRecords } from '../core/codec.js';
import { applyHeapGrowth } from '../core/heap.js';
import { createMetrics } from '../core/metrics.js';
import { KafkaLog } from '../io/log/kafka-log.js';
import { envelopeStage } from '../pipelines/load-envelope-stage.js';
import { GROUPS, TOPICS } from '../pipelines/log-topics.js';
import { readingsOfRecord } from '../pipelines/readings-task.js';
import { startStageTask } from '../pipelines/stage-task.js';
import { TopologyTable } from '../pipelines/topology-table.js';
import type { MeterReading } from '../schemas/types.gen.js';

export interface GridstreamSideOptions {
  brokers: string;
  partitions: number;
  allowedLatenessMs: number;
  revisionHorizonMs: number;
}

const configured = process.env.GRIDSTREAM_HEAP_GROWTH_PCT;
const heapGrowth = applyHeapGrowth(configured ? Number(configured) : undefined, true);
const options = JSON.parse(process.argv[2]!) as GridstreamSideOptions;
// Its consumers get fresh buffers from Kafka: nothing would use what encode() remembers.
rememberEncodedRecords(false);
const log = new KafkaLog({ brokers: options.brokers, clientId: 'gridstream-bench-streams' });
const metrics = createMetrics();
const topology = new TopologyTable(log, { metrics });
topology.start();
await topology.caughtUp();
const envelopes = envelopeStage({
  partitions: options.partitions,
  config: { allowedLatenessMs: options.allowedLatenessMs, revisionHorizonMs: options.revisionHorizonMs },
  metrics,
  topology,
});
let running = false;
const task = startStageTask<MeterReading>({
  log,
  group: GROUPS.readings,
  inputTopic: TOPICS.readings.name,
  decode: readingsOfRecord,
  stages: [envelopes.stage],
  metrics,
  maxBatch: 2_000,
  lingerMs: 20,
  onAssignment: (partitions) => {
    if (partitions > 0 && !running) {
      running = true;
      console.log(`running (heap growth ${heapGrowth ? `${heapGrowth}%` : "V8's own"})`);
    }
  },
});
process.once('SIGTERM', () => {
  void (async () => {
    envelopes.close();
    await task.stop();
    await topology.stop();
    await log.close();
    process.exit(0);
  })();
});
