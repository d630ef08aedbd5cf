import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { EVERY_ROW, sqlOf } from '../../io/warehouse/query.js';
import { canExport, type Warehouse } from '../../io/warehouse/warehouse.js';
import { FEATURES } from '../../io/warehouse/dialect.js';
import { ApiError } from '../errors.js';
import { FILE_TYPES, type ExportJob, type ExportJobs, type FileType } from '../exports.js';
import { BATCH_DATES, filterProperties, impedanceFilter } from '../impedance-query.js';
import { tenantOf } from '../tenancy.js';
import { DATE_TIME, DATE_TIME_OR_NULL, errorResponse, object } from '../openapi.js';
import { queries } from '../../io/warehouse/queries.gen.js';

const ID = { type: 'string', format: 'uuid', description: 'export_id from the submission' };
const PATHS = {
  status: (id: string) => `/v1/impedance/exports/${id}`,
  file: (id: string) => `/v1/impedance/exports/${id}/file`,
};

function describe(job: ExportJob) {
  return {
    export_id: job.id,
    status: job.status,
    filetype: job.filetype,
    submitted_at: new Date(job.submittedAt).toISOString(),
    finished_at: job.finishedAt === undefined ? null : new Date(job.finishedAt).toISOString(),
    bytes: job.bytes ?? null,
    error: job.error ?? null,
    status_url: PATHS.status(job.id),
    file_url: job.status === 'done' ? PATHS.file(job.id) : null,
  };
}

const JOB_SCHEMA = object({
  export_id: { type: 'string' },
  status: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
  filetype: { type: 'string' },
  submitted_at: DATE_TIME,
  finished_at: DATE_TIME_OR_NULL,
  bytes: { type: ['integer', 'null'] },
  error: { type: ['string', 'null'] },
  status_url: { type: 'string' },
  file_url: { type: ['string', 'null'] },
});

/**
 * Impedance batch export (the impedance-statistics batch request): submit, poll, download. The file is written by
 * ClickHouse in its own CSVWithNames, JSONEachRow or Parquet output format and streamed to the client.
 */
export function impedanceExportRoutes(app: FastifyInstance, warehouse: Warehouse, jobs: ExportJobs) {
  app.post<{ Body: { filetype: FileType; tokens?: Record<string, unknown> } }>(
    '/v1/impedance/exports',
    {
      schema: {
        summary:
          'Submit an impedance batch export (the impedance-statistics batch request): CSV, JSON lines or Parquet',
        description:
          "All rows of the key's tenant's meters that match the tokens (the on-demand filters, without a row limit), ordered as the on-demand look-up. 202 with the export's id; poll its status_url, then download file_url. A tenant may have GRIDSTREAM_EXPORT_MAX_JOBS exports queued or running and GRIDSTREAM_EXPORT_MAX_BYTES of finished files (each kept GRIDSTREAM_EXPORT_TTL_S): beyond either, 429 with Retry-After.",
        body: object(
          {
            filetype: { type: 'string', enum: Object.keys(FILE_TYPES) },
            tokens: object(filterProperties(BATCH_DATES), { optional: true, additional: false }),
            isOhsRequest: {
              type: 'boolean',
              description: 'Accepted for compatibility with the seed; ignored',
            },
          },
          { optional: ['tokens', 'isOhsRequest'], additional: false },
        ),
        response: {
          202: JOB_SCHEMA,
          501: errorResponse('This ClickHouse cannot write the file type (unsupported_format)'),
        },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const { filetype, tokens = {} } = request.body;
      const format = FILE_TYPES[filetype].format;
      if (!canExport(warehouse.dialect, format))
        throw new ApiError(
          501,
          'unsupported_format',
          `filetype ${filetype}: this ClickHouse (${warehouse.dialect.text}) cannot write ${format}; it needs ${FEATURES.parquet.since} or newer`,
          [{ field: 'filetype', problem: `${filetype} is not available on this warehouse` }],
        );
      const filter = impedanceFilter(tokens, BATCH_DATES);
      const refusal = jobs.refusal(tenant);
      if (refusal) {
        reply.header('retry-after', String(refusal.retryAfterS));
        throw new ApiError(429, 'export_limit', refusal.reason);
      }
      const job = jobs.submit(tenant, filetype, sqlOf(queries.impedance_daily_rows), {
        ...filter.params,
        tenant,
        ...EVERY_ROW,
      });
      return reply.status(202).header('location', PATHS.status(job.id)).send(describe(job));
    },
  );

  /** The job, if it exists, has not expired and belongs to the key's tenant: else 404, whichever it is. */
  const jobOf = (request: { tenant?: string; params: { id: string } }) => {
    const job = jobs.get(request.params.id);
    if (!job || job.tenant !== tenantOf(request))
      throw new ApiError(404, 'not_found', `no export ${JSON.stringify(request.params.id)}`);
    return job;
  };
  const params = object({ id: ID });

  app.get<{ Params: { id: string } }>(
    '/v1/impedance/exports/:id',
    {
      schema: {
        summary: 'Status of an impedance batch export',
        description: `404 for an export of another tenant or one expired (kept for GRIDSTREAM_EXPORT_TTL_S after it finished).`,
        params,
        response: { 200: JOB_SCHEMA },
      },
    },
    async (request) => describe(jobOf(request)),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/impedance/exports/:id/file',
    {
      schema: {
        summary: 'Download a finished impedance batch export (streamed)',
        description:
          '409 while the export is queued or running, or when it failed (see its status); 404 once it expired.',
        params,
        response: {
          200: {
            description: 'The file, in the format its filetype names',
            content: Object.fromEntries(
              Object.values(FILE_TYPES).map((t) => [t.contentType.split(';')[0], { schema: {} }]),
            ),
          },
          409: errorResponse('The export is queued, running or failed (not_ready)'),
        },
      },
    },
    async (request, reply) => {
      const job = jobOf(request);
      if (job.status !== 'done')
        throw new ApiError(409, 'not_ready', `export ${job.id} is ${job.status}, not done; poll its status`);
      const type = FILE_TYPES[job.filetype];
      return reply
        .header('content-type', type.contentType)
        .header('content-length', String(job.bytes))
        .header('content-disposition', `attachment; filename="impedance-${job.id}.${type.extension}"`)
        .send(createReadStream(job.path));
    },
  );
}
