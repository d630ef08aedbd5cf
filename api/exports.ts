import { randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyReply } from 'fastify';
import PQueue from 'p-queue';
import { FEATURES } from '../io/warehouse/dialect.js';
import { EVERY_ROW, sqlOf } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';
import {
  canExport,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportOptions,
  type QueryParams,
  type Warehouse,
} from '../io/warehouse/warehouse.js';
import { ApiError } from './errors.js';
import { BATCH_DATES, filterProperties, impedanceFilter, NULL_TEXT } from './impedance-query.js';
import { object } from './openapi.js';

/**
 * The file types of the impedance batch export, the ClickHouse output format that writes each, and how: CSV
 * writes a NULL as the impedance-statistics interface's files do (NULL_TEXT).
 */
export const FILE_TYPES: Record<
  'csv' | 'json' | 'parquet' | 'orc',
  { format: ExportFormat; contentType: string; extension: string; options?: ExportOptions }
> = {
  csv: {
    format: 'CSVWithNames',
    contentType: 'text/csv; charset=utf-8',
    extension: 'csv',
    options: { csvNull: NULL_TEXT },
  },
  json: { format: 'JSONEachRow', contentType: 'application/x-ndjson', extension: 'ndjson' },
  parquet: { format: 'Parquet', contentType: 'application/vnd.apache.parquet', extension: 'parquet' },
  orc: { format: 'ORC', contentType: 'application/vnd.apache.orc', extension: 'orc' },
};
export type FileType = keyof typeof FILE_TYPES;

export interface ExportJob {
  readonly id: string;
  readonly tenant: string;
  readonly filetype: FileType;
  status: 'queued' | 'running' | 'done' | 'failed';
  readonly submittedAt: number;
  finishedAt?: number;
  bytes?: number;
  error?: string;
  readonly path: string;
  /** Resolves once the job is done or failed. */
  readonly finished: Promise<void>;
}

/** What one tenant may hold: jobs queued or running at once, bytes of finished files, and how long they stay. */
export interface ExportLimits {
  maxJobs: number;
  maxBytes: number;
  ttlMs: number;
}

export const DEFAULT_EXPORT_LIMITS: ExportLimits = {
  maxJobs: 2,
  maxBytes: 10 * 1024 ** 3,
  ttlMs: 24 * 3_600_000,
};

/**
 * Batch exports: each request becomes a file that ClickHouse itself writes in the requested format
 * (Warehouse.exportToFile), in `dir`, and is downloaded from there as a stream; no result passes through
 * memory. Exports run one at a time per API instance (a big export is a heavy query: queued ones wait rather
 * than compete with the pipeline). Jobs live in this instance's memory, their files `ttlMs` after they
 * finish, then both are gone; a poll or download must reach the instance that took the request. A tenant
 * may have `maxJobs` queued or running and `maxBytes` of finished files, so one tenant cannot fill the queue
 * or the disk.
 */
export class ExportJobs {
  private readonly jobs = new Map<string, ExportJob>();
  private readonly queue = new PQueue({ concurrency: 1 });
  private readonly limits: ExportLimits;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly warehouse: Warehouse,
    private readonly dir: string,
    limits: Partial<ExportLimits> = {},
  ) {
    this.limits = { ...DEFAULT_EXPORT_LIMITS, ...limits };
    const keepMs = this.limits.ttlMs;
    mkdirSync(dir, { recursive: true });
    // Files of a previous run have no job any more (jobs live in memory): remove those past their keep time.
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (Date.now() - statSync(path).mtimeMs > keepMs) rmSync(path, { force: true });
    }
    // Expired files go even when nobody submits or polls; a poll of an expired job is refused anyway (get).
    this.sweeper = setInterval(() => this.sweep(), Math.min(keepMs, 60_000));
    this.sweeper.unref();
  }

  /**
   * Why `tenant` may not submit an export now (its jobs in progress or its stored bytes at the limit) and how
   * many seconds until that may change, or null when it may.
   */
  refusal(tenant: string, now = Date.now()): { reason: string; retryAfterS: number } | null {
    this.sweep(now);
    const own = [...this.jobs.values()].filter((j) => j.tenant === tenant);
    const inProgress = own.filter((j) => j.finishedAt === undefined).length;
    if (inProgress >= this.limits.maxJobs)
      return {
        reason: `this tenant has ${inProgress} exports queued or running (at most ${this.limits.maxJobs}); wait for one to finish`,
        retryAfterS: 10,
      };
    const stored = own.reduce((sum, j) => sum + (j.bytes ?? 0), 0);
    if (stored >= this.limits.maxBytes) {
      const firstExpiry = Math.min(...own.map((j) => (j.finishedAt ?? now) + this.limits.ttlMs));
      return {
        reason: `this tenant's finished exports hold ${stored} bytes (at most ${this.limits.maxBytes}); they are deleted ${this.limits.ttlMs / 1000} s after they finish`,
        retryAfterS: Math.max(1, Math.ceil((firstExpiry - now) / 1000)),
      };
    }
    return null;
  }

  /** Queues the export of the rows of `sql` (bound with `params`) and returns its job at once. */
  submit(tenant: string, filetype: FileType, sql: string, params: QueryParams): ExportJob {
    this.sweep();
    const id = randomUUID();
    const type = FILE_TYPES[filetype];
    let finish!: () => void;
    const job: ExportJob = {
      id,
      tenant,
      filetype,
      status: 'queued',
      submittedAt: Date.now(),
      path: join(this.dir, `${id}.${type.extension}`),
      finished: new Promise((resolve) => (finish = resolve)),
    };
    this.jobs.set(id, job);
    void this.queue.add(async () => {
      job.status = 'running';
      try {
        const { bytes } = await this.warehouse.exportToFile(sql, params, type.format, job.path, type.options);
        Object.assign(job, { status: 'done', bytes });
      } catch (error) {
        // ClickHouse's own message, without the statement (WarehouseError appends it on its second line).
        const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
        Object.assign(job, { status: 'failed', error: message });
      }
      job.finishedAt = Date.now();
      finish();
    });
    return job;
  }

  /** The job, unless it is unknown or expired. */
  get(id: string, now = Date.now()): ExportJob | undefined {
    this.sweep(now);
    return this.jobs.get(id);
  }

  /** Waits for the queued and running exports (before the warehouse closes). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.queue.onIdle();
  }

  /** Forgets jobs finished more than ttlMs ago and removes their files. */
  private sweep(now = Date.now()): void {
    for (const [id, job] of this.jobs) {
      if (job.finishedAt !== undefined && now - job.finishedAt > this.limits.ttlMs) {
        this.jobs.delete(id);
        void rm(job.path, { force: true });
      }
    }
  }
}

/**
 * Queues the export of the impedance rows the batch request's `tokens` select for `tenant`, or refuses it: 501
 * when this warehouse cannot write `filetype`, 400 for a bad token, 429 (with Retry-After on `reply`) past the
 * tenant's export limits.
 */
export function submitImpedanceExport(
  warehouse: Warehouse,
  jobs: ExportJobs,
  request: { tenant: string; filetype: FileType; tokens?: Record<string, unknown> },
  reply: FastifyReply,
): ExportJob {
  const { tenant, filetype, tokens = {} } = request;
  const format = FILE_TYPES[filetype].format;
  if (!canExport(warehouse.dialect, format)) {
    const feature = EXPORT_FORMATS[format];
    throw new ApiError(
      501,
      'unsupported_format',
      `filetype ${filetype}: this ClickHouse (${warehouse.dialect.text}) cannot write ${format}; it needs ${feature ? FEATURES[feature].since : '?'} or newer`,
      [{ field: 'filetype', problem: `${filetype} is not available on this warehouse` }],
    );
  }
  const filter = impedanceFilter(tokens, BATCH_DATES);
  const refusal = jobs.refusal(tenant);
  if (refusal) {
    reply.header('retry-after', String(refusal.retryAfterS));
    throw new ApiError(429, 'export_limit', refusal.reason);
  }
  return jobs.submit(tenant, filetype, sqlOf(queries.impedance_daily_rows), {
    ...filter.params,
    tenant,
    ...EVERY_ROW,
  });
}

/** The body of the impedance batch request (both its paths), as JSON Schema. */
export const BATCH_REQUEST_BODY = object(
  {
    filetype: { type: 'string', enum: Object.keys(FILE_TYPES) },
    tokens: object(filterProperties(BATCH_DATES), { optional: true, additional: false }),
    isOhsRequest: { type: 'boolean', description: 'Accepted for compatibility; ignored' },
  },
  { optional: ['tokens', 'isOhsRequest'], additional: false },
);

/** The 200 answer that is an export's file, in the content type of its file type. */
export const EXPORT_FILE_RESPONSE = {
  description: 'The file, in the format its filetype names',
  content: Object.fromEntries(
    Object.values(FILE_TYPES).map((t) => [t.contentType.split(';')[0], { schema: {} }]),
  ),
};

/** Streams a finished export's file as the answer. */
export function sendExportFile(reply: FastifyReply, job: ExportJob): FastifyReply {
  const type = FILE_TYPES[job.filetype];
  return reply
    .header('content-type', type.contentType)
    .header('content-length', String(job.bytes))
    .header('content-disposition', `attachment; filename="impedance-${job.id}.${type.extension}"`)
    .send(createReadStream(job.path));
}
