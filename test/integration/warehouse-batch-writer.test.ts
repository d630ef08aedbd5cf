import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DAY_MS, slotStart } from '../../core/time.js';
import { BatchWriter, RowsNotWrittenError } from '../../io/warehouse/batch-writer.js';
import { supports } from '../../io/warehouse/dialect.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { weatherRow } from '../../io/warehouse/rows.js';
import { ServerWarehouse } from '../../io/warehouse/server-warehouse.js';
import {
  encodeRows,
  type EncodedRows,
  type ExportFormat,
  type QueryParams,
  type Warehouse,
} from '../../io/warehouse/warehouse.js';
import { ENGINES, openTestWarehouse, type TestWarehouse } from '../support/clickhouse-server.js';

const T0 = slotStart(Date.now() - DAY_MS);

/**
 * The real engine behind a switch that can hold inserts back or make them fail, to show what the writer does
 * while the warehouse is slow or down. Everything that gets through is really inserted.
 */
class Switchboard implements Warehouse {
  inserts = 0;
  /** While set, inserts wait for it. */
  gate: Promise<void> | undefined;
  /** Inserts still to fail; `afterWrite` fails them after the rows were written (an ambiguous failure). */
  failures = 0;
  afterWrite = false;
  /** Random delay per insert, up to this many ms. */
  jitterMs = 0;
  /** The first row of every insert that went through, in the order they were written. */
  firstRows: Array<Record<string, unknown>> = [];

  constructor(private readonly inner: Warehouse) {}

  get kind() {
    return this.inner.kind;
  }
  get dialect() {
    return this.inner.dialect;
  }
  get dedupTokens() {
    return this.inner.dedupTokens;
  }
  get rowBinary() {
    return this.inner.rowBinary;
  }
  command(sql: string, params?: QueryParams) {
    return this.inner.command(sql, params);
  }
  query<T>(sql: string, params?: QueryParams) {
    return this.inner.query<T>(sql, params);
  }
  encodeRow(row: Readonly<Record<string, unknown>>) {
    return this.inner.encodeRow(row);
  }
  exportToFile(sql: string, params: QueryParams | undefined, format: ExportFormat, path: string) {
    return this.inner.exportToFile(sql, params, format, path);
  }
  insert(table: string, rows: ReadonlyArray<Record<string, unknown>>, options?: { dedupToken?: string }) {
    return this.insertEncoded(table, encodeRows(this, rows), options);
  }
  async insertEncoded(table: string, rows: EncodedRows, options?: { dedupToken?: string }) {
    this.inserts++;
    await this.gate;
    if (this.jitterMs > 0) await sleep(Math.random() * this.jitterMs);
    if (this.failures > 0 && !this.afterWrite) {
      this.failures--;
      throw new Error('connection refused');
    }
    await this.inner.insertEncoded(table, rows, options);
    const text = Buffer.concat(rows.chunks).toString('utf8');
    this.firstRows.push(JSON.parse(text.slice(0, text.indexOf('\n'))) as Record<string, unknown>);
    if (this.failures > 0) {
      this.failures--;
      throw new Error('socket hang up after the insert was sent');
    }
  }
  async close() {}
}

let station = 0;
/**
 * Rows for a station no other test uses, and counters of that station's rows in the warehouse: `stored` as
 * inserted, `counted` under FINAL (each observation once).
 */
function weatherBatchOf(engine: Warehouse, n: number) {
  const stationId = `ws-writer-${++station}`;
  const rows = Array.from({ length: n }, (_, i) =>
    weatherRow({ station_id: stationId, ts: T0 + i * 1000, ambient_c: i / 10, received_at: T0 }),
  );
  const count = async (final: '' | 'FINAL') =>
    Number(
      (
        await engine.query<{ n: string }>(
          `SELECT count() AS n FROM weather ${final} WHERE station_id = {s:String}`,
          { s: stationId },
        )
      )[0]?.n,
    );
  return { rows, stored: () => count(''), counted: () => count('FINAL') };
}

function settled(promise: Promise<unknown>): () => boolean {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}

describe.each(ENGINES)('BatchWriter on the %s warehouse', (kind) => {
  let opened: TestWarehouse;
  let engine: Warehouse;
  const weatherBatch = (n: number) => weatherBatchOf(engine, n);

  beforeAll(async () => {
    opened = await openTestWarehouse(kind);
    engine = opened.warehouse;
    await migrate(engine);
  });

  afterAll(async () => {
    await opened?.close();
  });

  it('inserts a full batch as soon as a table reaches maxRows', async () => {
    const batches: number[] = [];
    const writer = new BatchWriter(engine, {
      maxRows: 100,
      maxDelayMs: 60_000,
      onInserted: (_table, rows) => batches.push(rows),
    });
    const { rows, stored } = weatherBatch(250);
    await writer.add('weather', rows);
    await expect.poll(() => batches, { timeout: 5_000 }).toEqual([100, 100]);
    expect(await stored()).toBe(200);
    expect(writer.bufferedRows()).toEqual({ weather: 50 });
    await writer.close();
    expect(batches).toEqual([100, 100, 50]);
    expect(await stored()).toBe(250);
  });

  it('inserts a batch by size (maxBytes)', async () => {
    const batches: number[] = [];
    const { rows, stored } = weatherBatch(10);
    const rowBytes = JSON.stringify(rows[0]).length + 1;
    const writer = new BatchWriter(engine, {
      maxBytes: rowBytes * 4,
      maxDelayMs: 60_000,
      onInserted: (_table, n) => batches.push(n),
    });
    await writer.add('weather', rows);
    await expect.poll(() => batches, { timeout: 5_000 }).toEqual([4, 4]);
    await writer.close();
    expect(await stored()).toBe(10);
  });

  it('inserts what is buffered maxDelayMs after the first row', async () => {
    const inserted: number[] = [];
    const writer = new BatchWriter(engine, {
      maxDelayMs: 150,
      onInserted: () => inserted.push(performance.now()),
    });
    const { rows, stored } = weatherBatch(5);
    const added = performance.now();
    await writer.add('weather', rows);
    await sleep(50);
    expect(inserted).toEqual([]);
    await expect.poll(() => inserted.length, { timeout: 5_000 }).toBe(1);
    expect(inserted[0]! - added).toBeGreaterThanOrEqual(140);
    expect(await stored()).toBe(5);
    expect(writer.bufferedRows()).toEqual({ weather: 0 });
    await writer.close();
  });

  it('written() resolves once the rows added so far are inserted, without cutting their batch early', async () => {
    const batches: number[] = [];
    const writer = new BatchWriter(engine, {
      maxRows: 10,
      maxDelayMs: 300,
      onInserted: (_table, n) => batches.push(n),
    });
    const { rows, stored } = weatherBatch(16);
    await writer.add('weather', rows.slice(0, 4));
    const first = writer.written();
    await writer.add('weather', rows.slice(4, 16));
    // The first 4 rows went into the batch of 10 cut by maxRows, not into a batch of their own.
    await first;
    expect(batches).toEqual([10]);
    expect(await stored()).toBeGreaterThanOrEqual(10);
    const second = writer.written();
    const secondDone = settled(second);
    await sleep(100);
    expect(secondDone()).toBe(false);
    await second;
    expect(batches).toEqual([10, 6]);
    expect(await stored()).toBe(16);
    await writer.close();
  });

  it('holds add() pending while the buffer is full, until an insert frees room', async () => {
    const warehouse = new Switchboard(engine);
    let open!: () => void;
    warehouse.gate = new Promise((resolve) => (open = resolve));
    const writer = new BatchWriter(warehouse, { maxBufferedRows: 10, maxRows: 1_000, maxDelayMs: 60_000 });
    const first = weatherBatch(8);
    await writer.add('weather', first.rows); // 8 of 10: room left, resolves at once
    const second = weatherBatch(7);
    const isDone = settled(writer.add('weather', second.rows)); // 15 > 10: must wait
    await sleep(100);
    expect(isDone()).toBe(false);
    expect(writer.bufferedRows()).toEqual({ weather: 15 });
    expect(warehouse.inserts).toBe(1); // the full buffer was sent at once rather than after maxDelayMs
    open();
    await expect.poll(isDone, { timeout: 5_000 }).toBe(true);
    expect(await first.stored()).toBe(8);
    expect(await second.stored()).toBe(7);
    await writer.close();
  });

  it('retries a failed insert with backoff until it succeeds, and never counts a batch twice (dedup token, else FINAL)', async () => {
    const warehouse = new Switchboard(engine);
    const errors: number[] = [];
    const writer = new BatchWriter(warehouse, {
      pauseAfter: (n) => Math.min(10 * 2 ** (n - 1), 40),
      onError: (_table, _error, attempt) => errors.push(attempt),
    });
    // Two refused connections, then an insert that is written but whose reply is lost.
    warehouse.failures = 2;
    const refused = weatherBatch(20);
    await writer.add('weather', refused.rows);
    await writer.flush();
    expect(errors).toEqual([1, 2]);
    expect(await refused.stored()).toBe(20);

    warehouse.failures = 1;
    warehouse.afterWrite = true;
    const ambiguous = weatherBatch(20);
    // Merges would collapse duplicate rows by themselves; stop them so the count shows what was inserted.
    await engine.command('SYSTEM STOP MERGES weather');
    try {
      await writer.add('weather', ambiguous.rows);
      await writer.flush();
      expect(errors).toEqual([1, 2, 1]);
      expect(await ambiguous.counted()).toBe(20);
      const server = engine instanceof ServerWarehouse ? engine.version : engine.dialect;
      if (supports(server, 'insert_deduplication_token')) {
        // The retry carried the same dedup token, so the rows written by the "failed" attempt are not doubled.
        expect(await ambiguous.stored()).toBe(20);
      } else {
        // No dedup token on 18.16: the retry is stored again, and ReplacingMergeTree (FINAL, merges) keeps one.
        expect(await ambiguous.stored()).toBe(40);
      }
    } finally {
      await engine.command('SYSTEM START MERGES weather');
    }
    await writer.close();
  });

  it('keeps the order of batches per table', async () => {
    const warehouse = new Switchboard(engine);
    warehouse.jitterMs = 10;
    const writer = new BatchWriter(warehouse, { maxRows: 1, maxDelayMs: 60_000 });
    const { rows } = weatherBatch(10);
    await writer.add('weather', rows);
    await writer.close();
    expect(warehouse.firstRows.map((row) => row.ts)).toEqual(rows.map((row) => row.ts));
  });

  it('close() leaves nothing unflushed, then refuses more rows', async () => {
    const writer = new BatchWriter(engine, { maxDelayMs: 60_000 });
    const a = weatherBatch(3);
    const b = weatherBatch(4);
    await writer.add('weather', a.rows);
    await writer.add('dead_letters', []);
    await writer.add('weather', b.rows);
    await writer.close();
    expect(await a.stored()).toBe(3);
    expect(await b.stored()).toBe(4);
    await expect(writer.add('weather', weatherBatch(1).rows)).rejects.toThrow(/closed/);
  });

  it('close({ timeoutMs }) gives up on a warehouse that stays down, naming the rows not written', async () => {
    const warehouse = new Switchboard(engine);
    warehouse.failures = Number.POSITIVE_INFINITY;
    const writer = new BatchWriter(warehouse, { pauseAfter: (n) => Math.min(5 * 2 ** (n - 1), 20) });
    await writer.add('weather', weatherBatch(6).rows);
    const closing = writer.close({ timeoutMs: 200 });
    await expect(closing).rejects.toThrow(RowsNotWrittenError);
    await expect(closing).rejects.toThrow(/weather: 6/);
    expect(warehouse.inserts).toBeGreaterThan(2);
  });

  if (kind === 'server')
    it('keeps retrying while the server is down, and writes every row exactly once when it is back', async () => {
      const server = opened.server!;
      const errors: string[] = [];
      const writer = new BatchWriter(engine, {
        maxDelayMs: 20,
        pauseAfter: (n) => Math.min(50 * 2 ** (n - 1), 200),
        onError: (_table, error) => errors.push((error as Error).message),
      });
      const before = weatherBatch(30);
      await writer.add('weather', before.rows);
      await writer.flush();

      await server.down();
      // A query meanwhile fails at once, naming where the server should be.
      const port = new URL(server.url).port;
      await expect(engine.query('SELECT 1')).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${port}`));
      const during = weatherBatch(50);
      await writer.add('weather', during.rows);
      const flushed = writer.flush();
      let done = false;
      void flushed.then(() => (done = true));
      await expect.poll(() => errors.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
      expect(done).toBe(false);
      expect(writer.bufferedRows()).toEqual({ weather: 50 });
      expect(errors[0]).toMatch(/ClickHouse insert failed/);

      await server.up();
      await flushed;
      expect(await before.stored()).toBe(30);
      expect(await during.stored()).toBe(50);
      expect(await during.counted()).toBe(50);
      await writer.close();
    });
});
