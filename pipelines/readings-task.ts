import { decode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import type { Log } from '../io/log/log.js';
import { readingRow } from '../io/warehouse/rows.js';
import { TABLES } from '../io/warehouse/tables.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { MeterReading } from '../schemas/types.gen.js';
import type { Stage } from './keyed-stage.js';
import { startStageTask, type StageTask } from './stage-task.js';
import { TOPICS } from './topics.js';
import { undecodableRow, warehouseWriter } from './warehouse-sink.js';

export const READINGS_GROUP = 'gridstream-readings';

/**
 * The readings topic, read once: one consumer group whose members decode each reading once and feed it to
 * every stage on it (envelopes, impedance) and to the warehouse's `readings` table. A batch's offsets are
 * committed only after the stages' outputs it caused are on the log and its readings are in the warehouse;
 * a record that does not decode is written as a dead letter instead. (Three groups, one per consumer, cost
 * the Kafka client's per-record work and the Avro decoding three times over.)
 */
export function startReadingsTask(options: {
  log: Log;
  warehouse: Warehouse;
  metrics: Metrics;
  stages: ReadonlyArray<Stage<MeterReading>>;
}): StageTask {
  const { metrics } = options;
  const writer = warehouseWriter(options.warehouse, metrics);
  return startStageTask<MeterReading>({
    log: options.log,
    group: READINGS_GROUP,
    inputTopic: TOPICS.readings.name,
    decode: (record) => {
      try {
        return decode('MeterReading', record.value);
      } catch {
        return undefined;
      }
    },
    stages: options.stages,
    sink: {
      async add(records, values) {
        const rows: Record<string, unknown>[] = [];
        const dead: Record<string, unknown>[] = [];
        for (let k = 0; k < records.length; k++) {
          const value = values[k];
          if (value !== undefined) rows.push(readingRow(value));
          else {
            // Rare: decoded again for the reason the dead letter records.
            const record = records[k]!;
            try {
              decode('MeterReading', record.value);
            } catch (error) {
              dead.push(undecodableRow(record, error as Error, metrics));
            }
          }
        }
        await writer.add(TABLES.readings, rows);
        await writer.add(TABLES.deadLetters, dead);
      },
      written: () => writer.written(),
      close: () => writer.close(),
    },
    onAssignment: (partitions) => metrics.assignedPartitions.set({ group: READINGS_GROUP }, partitions),
    maxBatch: 10_000,
  });
}
