import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import PQueue from 'p-queue';

import { pauseAfter } from '../../core/backoff.js';

import type { EncodedRows, InsertFormat, Warehouse } from './warehouse.js';

type Row = Record<string, unknown>;

export interface BatchWriterOptions {
  /** Insert a table's buffer once it holds this many rows (default 10,000). */
  maxRows?: number;
  /** ... or once its JSON reaches this many bytes, counted in UTF-16 code units (default 8 MiB). */
  maxBytes?: number;
  /** ... or this long after its first row arrived (default 500 ms). */
  maxDelayMs?: number;
  /** add() waits while more rows than this are buffered or being inserted, all tables together (default 100,000). */
  maxBufferedRows?: number;
  /** The pause after the n-th failed insert of a batch in a row (default: the one retry policy's, core/backoff.ts). */
  pauseAfter?: (failures: number) => number;
  /** Called after each successful insert with the batch's row count and how long the insert took. */
  onInserted?: (table: string, rows: number, ms: number) => void;
  /** Called after each failed insert attempt (1, 2, ...); the batch will be retried. */
  onError?: (table: string, error: unknown, attempt: number) => void;
}

/** Thrown by close({ timeoutMs }) (and to add() calls still waiting) when it gave up on rows not written in time. */
export class RowsNotWrittenError extends Error {
  override readonly name = 'RowsNotWrittenError';
  constructor(readonly rowsByTable: Record<string, number>) {
    const list = Object.entries(rowsByTable).map(([table, rows]) => `${table}: ${rows}`);
    super(`warehouse writer closed with rows not written (${list.join(', ')})`);
  }
}

interface Batch {
  rows: EncodedRows;
  token: string | undefined;
}

/** A batch's parts as the chunks to insert: each chunk as it is, each run of lines joined into one. */
function chunksOf(parts: ReadonlyArray<string | Buffer>): Buffer[] {
  const chunks: Buffer[] = [];
  let lines: string[] = [];
  for (const part of parts) {
    if (typeof part === 'string') {
      lines.push(part);
      continue;
    }
    if (lines.length) chunks.push(Buffer.from(lines.join('')));
    lines = [];
    chunks.push(part);
  }
  if (lines.length) chunks.push(Buffer.from(lines.join('')));
  return chunks;
}

/**
 * A table's rows waiting for their batch to fill, and its insert queue. Rows are kept as the warehouse will
 * parse them, JSONEachRow lines or RowBinary chunks: each row is serialized once, and the same bytes are sized,
 * sent and (for a warehouse that takes dedup tokens) hashed, the batch at once.
 */
class TableBuffer {
  /** JSONEachRow lines, or chunks of several rows each (RowBinary or JSONEachRow). */
  parts: Array<string | Buffer> = [];
  rows = 0;
  format: InsertFormat = 'JSONEachRow';
  columns: readonly string[] = [];
  bytes = 0;
  timer: NodeJS.Timeout | undefined;
  /** Rows cut into batches whose insert has not succeeded yet. */
  inFlightRows = 0;
  /** Concurrency 1: a table's batches are inserted one at a time, in the order they were cut. */
  readonly queue = new PQueue({ concurrency: 1 });
  /** The last batch's insert; as batches run in order, awaiting it awaits all earlier ones. */
  last: Promise<void> = Promise.resolve();
  /** Waiters for the insert of the rows buffered now, settled when they are cut into a batch. */
  nextBatch: { promise: Promise<void>; resolve: (inserted: Promise<void>) => void } | undefined;
}

/**
 * Buffers rows per table and inserts them in batches, because ClickHouse wants few large inserts, not many
 * small ones. It never drops a row: a failed insert is retried, pausing by the one retry policy
 * (core/backoff.ts), until it succeeds (or close() is told to give up). Each batch carries a deterministic insert-deduplication token,
 * the table plus a SHA-256 of the batch's JSON, so a retry after an ambiguous failure (the insert succeeded but
 * the reply was lost) cannot insert the batch twice. A server without insert_deduplication_token (before
 * 22.3, e.g. Debian's 18.16) stores such a retry again; every table is a ReplacingMergeTree keyed so that
 * the copy replaces the original, so it counts once under FINAL (io/warehouse/README.md).
 */
export class BatchWriter {
  private readonly maxRows: number;
  private readonly maxBytes: number;
  private readonly maxDelayMs: number;
  private readonly maxBufferedRows: number;
  private readonly tables = new Map<string, TableBuffer>();
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private closing = false;
  /** Set when close() gave up: pending retries stop and queued batches are not attempted. */
  private readonly abandon = new AbortController();

  constructor(
    private readonly warehouse: Warehouse,
    private readonly options: BatchWriterOptions = {},
  ) {
    this.maxRows = options.maxRows ?? 10_000;
    this.maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
    this.maxDelayMs = options.maxDelayMs ?? 500;
    this.maxBufferedRows = options.maxBufferedRows ?? 100_000;
  }

  /**
   * Buffers rows for `table`. The rows are taken at once; the promise resolves when there is room again, i.e.
   * while more than maxBufferedRows rows are buffered or in flight it stays pending (backpressure).
   */
  add(table: string, rows: ReadonlyArray<Row>): Promise<void> {
    if (this.closing) return Promise.reject(new Error(`warehouse writer is closed (adding to ${table})`));
    if (rows.length === 0) return Promise.resolve();
    const buffer = this.buffer(table);
    // A table's rows all have the same keys (io/warehouse/rows.ts): the first row names the columns.
    this.start(table, buffer, 'JSONEachRow', Object.keys(rows[0]!));
    for (const row of rows) this.take(table, buffer, this.warehouse.encodeRow(row), 1);
    return this.added(table, buffer);
  }

  /**
   * As add(), for rows the caller has already encoded exactly as the warehouse's encodeRow() would (all with
   * these columns, in this order), e.g. by a renderer for a table's hot path checked against encodeRow().
   */
  addEncoded(table: string, columns: readonly string[], lines: readonly string[]): Promise<void> {
    if (this.closing) return Promise.reject(new Error(`warehouse writer is closed (adding to ${table})`));
    if (lines.length === 0) return Promise.resolve();
    const buffer = this.buffer(table);
    this.start(table, buffer, 'JSONEachRow', columns);
    for (const line of lines) this.take(table, buffer, line, 1);
    return this.added(table, buffer);
  }

  /**
   * As addEncoded(), for `rows` rows the caller wrote in `format` for these columns, RowBinary for a
   * warehouse with `rowBinary`, else JSONEachRow lines as encodeRow() renders them: one chunk, inserted whole
   * in one batch.
   */
  addChunk(
    table: string,
    format: InsertFormat,
    columns: readonly string[],
    chunk: Buffer,
    rows: number,
  ): Promise<void> {
    if (this.closing) return Promise.reject(new Error(`warehouse writer is closed (adding to ${table})`));
    if (rows === 0) return Promise.resolve();
    const buffer = this.buffer(table);
    this.start(table, buffer, format, columns);
    this.take(table, buffer, chunk, rows);
    return this.added(table, buffer);
  }

  /**
   * Before rows of this format and columns: a buffer holding rows of another shape is cut first. (A cut while
   * they are taken leaves the shape set, so one call covers a whole add.)
   */
  private start(table: string, buffer: TableBuffer, format: InsertFormat, columns: readonly string[]): void {
    const same =
      buffer.format === format && (buffer.columns === columns || buffer.columns.join() === columns.join());
    if (buffer.rows > 0 && !same) this.cut(table, buffer);
    buffer.format = format;
    buffer.columns = columns;
  }

  private take(table: string, buffer: TableBuffer, part: string | Buffer, rows: number): void {
    buffer.parts.push(part);
    buffer.rows += rows;
    buffer.bytes += part.length;
    if (buffer.rows >= this.maxRows || buffer.bytes >= this.maxBytes) this.cut(table, buffer);
  }

  /** After rows were taken: arms the table's delay and holds the caller back while the buffer is full. */
  private added(table: string, buffer: TableBuffer): Promise<void> {
    if (buffer.rows > 0 && buffer.timer === undefined) {
      buffer.timer = setTimeout(() => this.cut(table, buffer), this.maxDelayMs);
    }
    if (this.bufferedTotal() <= this.maxBufferedRows) return Promise.resolve();
    this.relieve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Resolves when every row added so far is in the warehouse. */
  async flush(): Promise<void> {
    for (const [table, buffer] of this.tables) this.cut(table, buffer);
    await Promise.all([...this.tables.values()].map((buffer) => buffer.last));
  }

  /**
   * Resolves when every row added so far is in the warehouse, without cutting a batch early (as flush()
   * does): the rows still buffered go with their batch when it fills or its delay runs out. For callers that
   * wait for durability on every small batch (a log consumer committing offsets) but want large inserts.
   */
  async written(): Promise<void> {
    await Promise.all(
      [...this.tables.values()].map((buffer) => {
        if (buffer.rows === 0) return buffer.last;
        if (buffer.nextBatch === undefined) {
          let resolve!: (inserted: Promise<void>) => void;
          const promise = new Promise<void>((r) => (resolve = r));
          buffer.nextBatch = { promise, resolve };
        }
        return buffer.nextBatch.promise;
      }),
    );
  }

  /**
   * Flushes, then stops: later add() calls are refused. Without `timeoutMs` it waits for as long as the
   * inserts need. With it, it gives up after that long, stops retrying and rejects with RowsNotWrittenError
   * naming the rows per table that were not written (their source, e.g. uncommitted log offsets, still has
   * them).
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing = true;
    const flushed = this.flush();
    if (options.timeoutMs === undefined) return flushed;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
    });
    try {
      if ((await Promise.race([flushed, gaveUp])) !== 'timeout') return;
    } finally {
      clearTimeout(timer);
    }
    this.abandon.abort();
    await Promise.allSettled([...this.tables.values()].map((buffer) => buffer.queue.onIdle()));
    const notWritten = this.bufferedRows();
    const error = new RowsNotWrittenError(notWritten);
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    if (Object.values(notWritten).some((rows) => rows > 0)) throw error;
  }

  /** Rows per table not yet in the warehouse (buffered or being inserted), e.g. for a gauge. */
  bufferedRows(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [table, buffer] of this.tables) counts[table] = buffer.rows + buffer.inFlightRows;
    return counts;
  }

  private buffer(table: string): TableBuffer {
    let buffer = this.tables.get(table);
    if (buffer === undefined) {
      buffer = new TableBuffer();
      this.tables.set(table, buffer);
    }
    return buffer;
  }

  private bufferedTotal(): number {
    let total = 0;
    for (const buffer of this.tables.values()) total += buffer.rows + buffer.inFlightRows;
    return total;
  }

  /** Turns the table's buffered rows into a batch and queues its insert. */
  private cut(table: string, buffer: TableBuffer): void {
    clearTimeout(buffer.timer);
    buffer.timer = undefined;
    if (buffer.rows === 0) return;
    const rows: EncodedRows = {
      columns: buffer.columns,
      format: buffer.format,
      // Chunks go as they are (a batch of readings is a few of 2–3 MiB: no copy of the whole); lines are joined.
      chunks: chunksOf(buffer.parts),
      rows: buffer.rows,
    };
    const token = this.warehouse.dedupTokens
      ? `gridstream:${table}:${rows.chunks.reduce((hash, chunk) => hash.update(chunk), createHash('sha256')).digest('hex')}`
      : undefined;
    const batch: Batch = { rows, token };
    buffer.parts = [];
    buffer.rows = 0;
    buffer.bytes = 0;
    buffer.inFlightRows += rows.rows;
    const inserted = buffer.queue.add(async () => {
      await this.insertUntilDone(table, batch);
      buffer.inFlightRows -= rows.rows;
      this.wakeWaiters();
    });
    // flush() and close() observe a failure (only possible once close() gave up); nobody else must see it.
    inserted.catch(() => {});
    buffer.last = inserted;
    buffer.nextBatch?.resolve(inserted);
    buffer.nextBatch = undefined;
  }

  /**
   * Full buffer: insert now what is waiting for a batch to fill, but only for tables with no insert under way
   * (their finishing insert frees room too, and cutting more tiny batches behind it would only add parts).
   */
  private relieve(): void {
    for (const [table, buffer] of this.tables) {
      if (buffer.inFlightRows === 0 && buffer.rows > 0) this.cut(table, buffer);
    }
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0) return;
    if (this.bufferedTotal() > this.maxBufferedRows) {
      this.relieve();
      return;
    }
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  private async insertUntilDone(table: string, batch: Batch): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.abandon.signal.aborted)
        throw new Error(`gave up inserting ${batch.rows.rows} rows into ${table}`);
      const started = performance.now();
      try {
        await this.warehouse.insertEncoded(table, batch.rows, { dedupToken: batch.token });
        this.callHook(() => this.options.onInserted?.(table, batch.rows.rows, performance.now() - started));
        return;
      } catch (error) {
        this.callHook(() => this.options.onError?.(table, error, attempt));
      }
      const pause = (this.options.pauseAfter ?? pauseAfter)(attempt);
      await sleep(pause, undefined, { signal: this.abandon.signal }).catch(() => {});
    }
  }

  /** A throwing metrics hook must not stop rows from being written. */
  private callHook(hook: () => void): void {
    try {
      hook();
    } catch {
      // deliberately ignored
    }
  }
}
