import type { FastifyInstance } from 'fastify';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { ApiError } from '../errors.js';
import {
  BATCH_REQUEST_BODY,
  EXPORT_FILE_RESPONSE,
  sendExportFile,
  submitImpedanceExport,
  type ExportJob,
  type ExportJobs,
  type FileType,
} from '../exports.js';
import { tenantOf } from '../tenancy.js';
import { DATE_TIME, DATE_TIME_OR_NULL, errorResponse, object } from '../openapi.js';

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
 * ClickHouse in its own CSVWithNames (NULL as --), JSONEachRow, Parquet or ORC output format and streamed to the
 * client.
 */
export async function impedanceExportRoutes(
  app: FastifyInstance,
  { warehouse, jobs }: { warehouse: Warehouse; jobs: ExportJobs },
) {
  app.post<{ Body: { filetype: FileType; tokens?: Record<string, unknown> } }>(
    '/v1/impedance/exports',
    {
      schema: {
        summary:
          'Submit an impedance batch export (the impedance-statistics batch request): CSV, JSON lines, Parquet or ORC',
        description:
          "All rows of the key's tenant's meters that match the tokens (the on-demand filters, without a row limit), ordered as the on-demand look-up. 202 with the export's id; poll its status_url, then download file_url. A tenant may have GRIDSTREAM_EXPORT_MAX_JOBS exports queued or running and GRIDSTREAM_EXPORT_MAX_BYTES of finished files (each kept GRIDSTREAM_EXPORT_TTL_S): beyond either, 429 with Retry-After.",
        body: BATCH_REQUEST_BODY,
        response: {
          202: JOB_SCHEMA,
          501: errorResponse(
            'This ClickHouse cannot write the file type (unsupported_format): Parquet needs 20.3, ORC 22.3',
          ),
        },
      },
    },
    async (request, reply) => {
      const job = submitImpedanceExport(
        warehouse,
        jobs,
        { tenant: tenantOf(request), ...request.body },
        reply,
      );
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
          200: EXPORT_FILE_RESPONSE,
          409: errorResponse('The export is queued, running or failed (not_ready)'),
        },
      },
    },
    async (request, reply) => {
      const job = jobOf(request);
      if (job.status !== 'done')
        throw new ApiError(409, 'not_ready', `export ${job.id} is ${job.status}, not done; poll its status`);
      return sendExportFile(reply, job);
    },
  );
}
