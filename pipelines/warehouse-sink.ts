import { decode, decodeBatched } from '../core/codec.js';
import type { DtOperatingEnvelope } from '../schemas/types.gen.js';
import type { Metrics } from '../core/metrics.js';
import type { Log, LogRecord } from '../io/log/log.js';
import { BatchWriter, type BatchWriterOptions } from '../io/warehouse/batch-writer.js';
import {
  binaryColumnsOf,
  RowBinaryBuffer,
  type BinaryColumn,
  type RowBinaryWrite,
} from '../io/warehouse/row-binary.js';
import { rowBinaryWriterFor } from '../io/warehouse/row-binary-table.js';
import {
  dataQualityLabel,
  deadLetterRow,
  dispatchCheckRow,
  dispatchRow,
  dtOperatingEnvelopeRow,
  dtStressRow,
  envelopeRow,
  impedanceDailyRow,
  impedanceFlagRow,
  topologyAssetRow,
  topologyMeterRow,
  topologyTransformerRow,
  weatherRow,
} from '../io/warehouse/rows.js';
import { TABLES } from '../io/warehouse/tables.js';
import { reportsFailure } from '../core/backoff.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import { startSinkTask, type SinkTask } from './runtime/sink-task.js';
import { GROUPS, TOPICS } from './log-topics.js';

/**
 * Which table each log topic lands in, and how a record becomes a row (or, for a topic of batches, rows). The
 * readings, by far the most records, are written by the readings task (pipelines/readings-task.ts), which
 * decodes each once for the processors and the warehouse together.
 */
type Row = Record<string, unknown>;

interface Route {
  table: string;
  row: (value: Buffer) => Row | ReadonlyArray<Row>;
  /**
   * For a warehouse that takes RowBinary: the record's rows as decoded, written straight from them by these
   * columns (no row objects, no JSON text). Used for the sink's bulk: operating envelopes.
   */
  binary?: BinaryRoute<unknown>;
}

interface BinaryRoute<R> {
  records: (value: Buffer) => ReadonlyArray<R>;
  columns: ReadonlyArray<BinaryColumn<R>>;
}

/** A binary route's table, its RowBinary writer (null: JSONEachRow) and the chunk of a batch being built. */
interface BinaryChunk {
  table: string;
  route: BinaryRoute<unknown>;
  columns: readonly string[];
  writer: () => Promise<RowBinaryWrite<unknown> | null>;
  out: RowBinaryBuffer;
  rows: number;
}

/** The operating envelopes' columns, the record's fields (with its times and data-quality labels). */
const DT_OPERATING_ENVELOPE_COLUMNS = binaryColumnsOf<DtOperatingEnvelope>('DtOperatingEnvelope', {
  slot_start: { time: true },
  issued_at: { time: true },
  data_quality: { value: (e) => dataQualityLabel(e.data_quality) },
});

const decodeIssue = (v: Buffer) =>
  decodeBatched('DtOperatingEnvelope', 'DtOperatingEnvelopes', (issue) => issue.slots, v);

const ROUTES: Record<string, Route> = {
  [TOPICS.envelopes.name]: { table: TABLES.envelopes, row: (v) => envelopeRow(decode('DtEnvelope', v)) },
  [TOPICS.impedance.name]: {
    table: TABLES.impedanceDaily,
    row: (v) => impedanceDailyRow(decode('ImpedanceDaily', v)),
  },
  [TOPICS.impedanceFlags.name]: {
    table: TABLES.impedanceFlags,
    row: (v) => impedanceFlagRow(decode('ImpedanceFlag', v)),
  },
  [TOPICS.stress.name]: { table: TABLES.dtStress, row: (v) => dtStressRow(decode('DtStress', v)) },
  [TOPICS.operatingEnvelopes.name]: {
    table: TABLES.dtOperatingEnvelopes,
    row: (v) => decodeIssue(v).map(dtOperatingEnvelopeRow),
    binary: { records: decodeIssue, columns: DT_OPERATING_ENVELOPE_COLUMNS },
  },
  [TOPICS.deadLetters.name]: {
    table: TABLES.deadLetters,
    row: (v) => deadLetterRow(decode('DeadLetter', v)),
  },
  [TOPICS.weather.name]: { table: TABLES.weather, row: (v) => weatherRow(decode('WeatherObservation', v)) },
  [TOPICS.dispatches.name]: {
    table: TABLES.dispatches,
    row: (v) => dispatchRow(decode('DispatchCommand', v)),
  },
  [TOPICS.dispatchChecks.name]: {
    table: TABLES.dispatchChecks,
    row: (v) => dispatchCheckRow(decode('DispatchCheck', v)),
  },
  [TOPICS.topologyMeters.name]: {
    table: TABLES.topologyMeters,
    row: (v) => topologyMeterRow(decode('TopologyMeter', v)),
  },
  [TOPICS.topologyTransformers.name]: {
    table: TABLES.topologyTransformers,
    row: (v) => topologyTransformerRow(decode('TopologyTransformer', v)),
  },
  [TOPICS.topologyAssets.name]: {
    table: TABLES.topologyAssets,
    row: (v) => topologyAssetRow(decode('TopologyAsset', v)),
  },
};

/** Records on the log not yet durably in the warehouse (lag), and a stop that drains them into it first. */
export type WarehouseSink = SinkTask;

/**
 * log → warehouse, a sink task (pipelines/runtime/sink-task.ts): batched inserts, and offsets committed only
 * once the rows they cover are in the warehouse. Polling goes on while earlier batches are inserted; at most
 * `maxInFlight` polls wait for their flush, so a slow warehouse slows the sink (and, through the log's bounded
 * backlog, ingest) instead of growing memory.
 */
export function startWarehouseSink(options: {
  log: Log;
  warehouse: Warehouse;
  metrics: Metrics;
  maxInFlight?: number;
}): WarehouseSink {
  const { metrics } = options;
  // The sink's tables take a few thousand rows a second at most, in bursts at slot closes, and a final
  // envelope is what its users wait for: batches leave 200 ms after their first row, not the writer's 500.
  const writer = warehouseWriter(options.warehouse, metrics, { maxDelayMs: 200 });
  // Per topic with a binary route: its table's RowBinary writer (null: JSONEachRow), and the chunk being built.
  const binary = new Map<string, BinaryChunk>();
  for (const [topic, route] of Object.entries(ROUTES))
    if (route.binary)
      binary.set(topic, {
        table: route.table,
        route: route.binary,
        columns: route.binary.columns.map((c) => c.name),
        writer: rowBinaryWriterFor(options.warehouse, route.table, route.binary.columns),
        out: new RowBinaryBuffer(),
        rows: 0,
      });

  const addRows = async (records: LogRecord[]) => {
    const writes = new Map<string, RowBinaryWrite<unknown> | null>();
    for (const [topic, chunk] of binary) writes.set(topic, await chunk.writer());
    const byTable = new Map<string, Row[]>();
    const push = (table: string, row: Row | ReadonlyArray<Row>) => {
      let rows = byTable.get(table);
      if (!rows) byTable.set(table, (rows = []));
      if (Array.isArray(row)) for (const r of row as ReadonlyArray<Row>) rows.push(r);
      else rows.push(row as Row);
    };
    for (const record of records) {
      const route = ROUTES[record.topic]!;
      const write = writes.get(record.topic);
      const chunk = binary.get(record.topic);
      try {
        if (write && chunk) {
          // A record's rows go in whole or not at all: a row that fails half way drops the record's bytes.
          const start = chunk.out.length;
          try {
            const rows = chunk.route.records(record.value);
            for (const row of rows) write(chunk.out, row);
            chunk.rows += rows.length;
          } catch (error) {
            chunk.out.truncate(start);
            throw error;
          }
        } else push(route.table, route.row(record.value));
      } catch (error) {
        push(TABLES.deadLetters, undecodableRow(record, error as Error, metrics));
      }
    }
    for (const chunk of binary.values()) {
      if (chunk.rows === 0) continue;
      const rows = chunk.rows;
      chunk.rows = 0;
      await writer.addChunk(chunk.table, 'RowBinary', chunk.columns, chunk.out.take(), rows);
    }
    for (const [table, rows] of byTable) await writer.add(table, rows);
  };

  return startSinkTask({
    log: options.log,
    group: GROUPS.warehouseSink,
    topics: Object.keys(ROUTES),
    maxBatch: 20_000,
    // ClickHouse wants few large inserts: once a poll has records it waits up to 200 ms for a fuller batch.
    lingerMs: 200,
    maxInFlight: options.maxInFlight ?? 4,
    handle: async (records, context) => {
      await addRows(records);
      context.commitAfter(writer.flush());
    },
    afterBatch: (uncommitted) => {
      metrics.queueDepth.set({ queue: 'warehouse_sink_uncommitted' }, uncommitted);
      const buffered = Object.values(writer.bufferedRows()).reduce((a, b) => a + b, 0);
      metrics.queueDepth.set({ queue: 'warehouse_writer_buffered' }, buffered);
    },
    close: () => writer.close(),
  });
}

/** A batch writer into the warehouse that reports its inserts and failures to the metrics and the log. */
export function warehouseWriter(
  warehouse: Warehouse,
  metrics: Metrics,
  batches: Pick<BatchWriterOptions, 'maxRows' | 'maxDelayMs'> = {},
): BatchWriter {
  return new BatchWriter(warehouse, {
    ...batches,
    onInserted: (table, rows, ms) => {
      metrics.rowsInserted.inc({ table }, rows);
      metrics.insertSeconds.observe({ table }, ms / 1000);
    },
    onError: (table, error, attempt) => {
      metrics.insertErrors.inc({ table });
      if (reportsFailure(attempt))
        console.error(
          `warehouse insert into ${table} failed (attempt ${attempt}, retrying): ${(error as Error).message}`,
        );
    },
  });
}

/**
 * A record another producer wrote that does not decode: kept as a dead letter, never a crash. Its time and
 * identity come from the log record (its append time, partition and offset), not the clock: the sink reading
 * the record again after a crash or a rebalance writes the same row, which the table keeps once.
 */
export function undecodableRow(record: LogRecord, error: Error, metrics: Metrics): Record<string, unknown> {
  metrics.deadLetters.inc({ reason: 'undecodable_record' });
  return deadLetterRow({
    received_at: record.timestamp,
    source_topic: `${record.topic}[${record.partition}]@${record.offset}`,
    source_partition: record.partition,
    source_offset: record.offset,
    reason_code: 'undecodable_record',
    reason: error.message,
    key: record.key,
    raw: record.value,
  });
}
