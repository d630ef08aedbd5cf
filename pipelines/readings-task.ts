import { decodeBatched } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import type { Log, LogRecord } from '../io/log/log.js';
import { RowBinaryBuffer, type RowBinaryWrite } from '../io/warehouse/row-binary.js';
import { rowBinaryWriterFor } from '../io/warehouse/row-binary-table.js';
import {
  READING_BINARY_COLUMNS,
  READING_COLUMNS,
  readingLine,
  readingRow,
  readingRowWriter,
} from '../io/warehouse/rows.js';
import { TABLES } from '../io/warehouse/tables.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { MeterReading } from '../schemas/types.gen.js';
import type { Stage } from './keyed-stage.js';
import { startStageTask, type StageTask } from './stage-task.js';
import { GROUPS, TOPICS } from './log-topics.js';
import { undecodableRow, warehouseWriter } from './warehouse-sink.js';

/**
 * The readings topic, read once: one consumer group whose members decode each record once and feed its readings to
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
  const { metrics, warehouse } = options;
  // Readings come by the ten thousand a second: batches are cut by time (the writer's 500 ms), not at the
  // default 10,000 rows, so the readings table gets a part or two a second and ClickHouse merges fewer.
  const writer = warehouseWriter(warehouse, metrics, { maxRows: 100_000 });
  const direct = rendersLikeWarehouse(warehouse);
  const binary = readingsInRowBinary(warehouse);
  // What the sink has taken of the batch's records so far: RowBinary rows, or JSONEachRow lines (a warehouse
  // that takes no RowBinary, or the table's types not known yet), and the undecodable records' dead letters.
  // Rows are bytes in `out` as they are rendered (lines too, when readingLine() renders them), so that a
  // batch waiting for its insert holds no strings on V8's heap.
  let write: RowBinaryWrite<MeterReading> | null = null;
  const out = new RowBinaryBuffer();
  let outRows = 0;
  const lines: string[] = [];
  const deadLines: string[] = [];
  let deadColumns: string[] | undefined;
  return startStageTask<MeterReading>({
    log: options.log,
    group: GROUPS.readings,
    inputTopic: TOPICS.readings.name,
    decode: readingsOfRecord,
    stages: options.stages,
    sink: {
      async prepare() {
        write = await binary();
      },
      add(record, readings) {
        // A record's rows go in whole or not at all (pipelines/runtime/poison.ts: a record the sink cannot take
        // is dead-lettered alone): a reading that fails to encode drops what the record had written.
        const start = out.length;
        const startLines = lines.length;
        try {
          if (readings === undefined) {
            // Rare: decoded again for the reason the dead letter records.
            try {
              decodeReadings(record.value);
            } catch (error) {
              const row = undecodableRow(record, error as Error, metrics);
              deadColumns ??= Object.keys(row);
              deadLines.push(warehouse.encodeRow(row));
            }
          } else if (write) {
            for (const reading of readings) write(out, reading);
            outRows += readings.length;
          } else if (direct) {
            for (const reading of readings) out.text(readingLine(reading));
            outRows += readings.length;
          } else for (const reading of readings) lines.push(warehouse.encodeRow(readingRow(reading)));
        } catch (error) {
          out.truncate(start);
          lines.length = startLines;
          throw error;
        }
      },
      async submit() {
        const rows = outRows;
        outRows = 0;
        // One batch's rows are all of one format: write is set once a batch, by prepare().
        const format = write ? 'RowBinary' : 'JSONEachRow';
        await writer.addChunk(TABLES.readings, format, READING_COLUMNS, out.take(), rows);
        await writer.addEncoded(TABLES.readings, READING_COLUMNS, lines.splice(0));
        if (deadColumns) await writer.addEncoded(TABLES.deadLetters, deadColumns, deadLines.splice(0));
      },
      written: () => writer.written(),
      flush: () => writer.flush(),
      close: () => writer.close(),
    },
    onAssignment: (partitions) => metrics.assignedPartitions.set({ group: GROUPS.readings }, partitions),
    metrics,
    // Records, not readings: an upload of a quarter hour of one-minute readings is one record of fifteen.
    maxBatch: 2_000,
    // A fetch waits up to 20 ms for 256 KiB: at tens of thousands of readings a second, a fetch of dozens of
    // uploads rather than a handful, for the broker and for the per-batch work here.
    lingerMs: 20,
  });
}

/** A record's readings for the stages, or undefined when it does not decode (the sink dead-letters it). */
export function readingsOfRecord(record: LogRecord): ReadonlyArray<MeterReading> | undefined {
  try {
    return decodeReadings(record.value);
  } catch {
    return undefined;
  }
}

/**
 * The readings of a record on the readings topic: an upload's MeterReadings (what the bridge writes) or a
 * single MeterReading (what other producers may write). Throws, naming the problem, on anything else.
 */
export function decodeReadings(value: Buffer): ReadonlyArray<MeterReading> {
  return decodeBatched('MeterReading', 'MeterReadings', (upload) => upload.readings, value);
}

/** The readings' RowBinary writer (rowBinaryWriterFor): null for a warehouse that takes JSONEachRow only. */
export function readingsInRowBinary(
  warehouse: Warehouse,
): () => Promise<RowBinaryWrite<MeterReading> | null> {
  return rowBinaryWriterFor(warehouse, TABLES.readings, READING_BINARY_COLUMNS, readingRowWriter);
}

/**
 * Whether readingLine() renders a reading exactly as the warehouse's own encodeRow(readingRow()) does, on
 * readings with and without the optional fields; if a warehouse ever encodes rows otherwise, the readings
 * go through encodeRow() like every other row.
 */
function rendersLikeWarehouse(warehouse: Warehouse): boolean {
  const samples: MeterReading[] = [
    {
      meter_id: 'M-1 "quoted"',
      dt_id: 'DT-1',
      ts: Date.UTC(2026, 6, 1, 10, 15, 3, 7),
      p_kw: -1.42,
      q_kvar: 0.31,
      legs: [
        { leg: 1, v: 231.4, i: 6.2 },
        { leg: 2, v: 229, i: 0 },
      ],
      e_imp_kwh: 5120.4,
      e_exp_kwh: 1e21,
      received_at: Date.UTC(2026, 6, 1, 10, 15, 4, 120),
    },
    {
      meter_id: 'M-2',
      dt_id: 'DT-2',
      ts: Date.UTC(2026, 6, 1),
      p_kw: 0,
      q_kvar: null,
      legs: [],
      e_imp_kwh: null,
      e_exp_kwh: null,
      received_at: Date.UTC(2026, 6, 1, 0, 0, 0, 999),
    },
  ];
  return samples.every((r) => {
    const row = readingRow(r);
    return warehouse.encodeRow(row) === readingLine(r) && Object.keys(row).join() === READING_COLUMNS.join();
  });
}
