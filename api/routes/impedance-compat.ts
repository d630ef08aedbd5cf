import type { FastifyPluginAsync } from 'fastify';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import type { ImpedanceRowOut } from '../../serving/impedance-store.js';
import { ApiError } from '../errors.js';
import {
  BATCH_REQUEST_BODY,
  EXPORT_FILE_RESPONSE,
  sendExportFile,
  submitImpedanceExport,
  type ExportJobs,
  type FileType,
} from '../exports.js';
import {
  filterProperties,
  impedanceFilter,
  impedanceRows,
  NULL_TEXT,
  ON_DEMAND_DATES,
  type ImpedanceByMeter,
} from '../impedance-query.js';
import { errorResponse, object } from '../openapi.js';
import { tenantOf } from '../tenancy.js';
import { ON_DEMAND_MAX_ROWS } from './impedance.js';

export interface ImpedanceCompatOptions {
  warehouse: Warehouse;
  /** The topology table's tenants and feeders, for look-ups by meter (api/impedance-query.ts). */
  byMeter?: ImpedanceByMeter | undefined;
  /** The batch exports; without them the batch request is not served. */
  jobs?: ExportJobs;
}

/** Where the interface puts a subscription's requests. */
const BASE = '/dpss/api/v1/subscriptions/:subscriptionId';

/** The request header a client correlates its calls with, echoed on every answer of these routes. */
const CORRELATION_HEADER = 'itron-correlationid';

/** The headers these routes read: the correlation id, and the subscriber id (accepted, not used). */
const HEADERS = object(
  {
    [CORRELATION_HEADER]: {
      type: 'string',
      pattern: '^[\\x21-\\x7e]{1,128}$',
      description:
        "Itron-CorrelationId: the client's id for the call (up to 128 visible ASCII characters), echoed on the answer; the request id when absent",
    },
    datasubscriberid: {
      type: 'string',
      maxLength: 128,
      description: 'DataSubscriberId: accepted and not used (the API key decides the tenant)',
    },
  },
  { optional: true },
);

const PARAMS = object({
  subscriptionId: {
    type: 'string',
    minLength: 1,
    maxLength: 128,
    description: 'The subscription: accepted and not used (the API key decides the tenant)',
  },
});

/** A row as the interface answers it: its keys and spellings (RecievedTime), never a JSON null. */
const ROW_SCHEMA = object({
  MeterLeg: { type: 'integer', description: 'Meter leg, 0 to 6' },
  MedianImpedance: {
    type: 'number',
    description: 'Daily median service-drop impedance, milliohm, to 7 significant digits',
  },
  EventDate: { type: 'string', description: 'UTC day of the statistics, YYYY-MM-DD' },
  RecievedTime: {
    type: 'string',
    description:
      'Newest receive time behind the median, ISO-8601 UTC without trailing zeros in the fraction (the interface spells the key so)',
  },
  EventCount: { type: 'integer', description: 'Current steps the median rests on' },
  ServicePointId: { type: 'string', description: `${NULL_TEXT} when the topology has none` },
  MeterId: { type: 'string' },
  MeterNumber: { type: 'string', description: `${NULL_TEXT} when none` },
  ElectronicSerialNumber: { type: 'string', description: `${NULL_TEXT} when the topology has none` },
  TransformerId: { type: 'string', description: `${NULL_TEXT} when none` },
  PremiseId: { type: 'string', description: `${NULL_TEXT} when none` },
});

/** '2023-09-13T00:29:55.550Z' → '2023-09-13T00:29:55.55Z'; a whole second loses its fraction. */
function receivedTime(iso: string): string {
  return iso.replace(/\.(\d*?)0*Z$/, (_, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}

/** An impedance row in the interface's shape. */
export function interfaceRow(row: ImpedanceRowOut) {
  return {
    MeterLeg: row.MeterLeg,
    // The interface's medians carry 7 significant digits (a REAL): 44.38334, 128.1167, 176.55.
    MedianImpedance: Number(row.MedianImpedance.toPrecision(7)),
    EventDate: row.EventDate,
    RecievedTime: receivedTime(row.ReceivedTime),
    EventCount: row.EventCount,
    ServicePointId: row.ServicePointId ?? NULL_TEXT,
    MeterId: row.MeterId,
    MeterNumber: row.MeterNumber ?? NULL_TEXT,
    ElectronicSerialNumber: row.ElectronicSerialNumber ?? NULL_TEXT,
    TransformerId: row.TransformerId || NULL_TEXT,
    PremiseId: row.PremiseId ?? NULL_TEXT,
  };
}

/**
 * The impedance-statistics interface as its clients call it, beside gridstream's own /v1/impedance routes and
 * on the same filters and query: its paths, its Bearer key (api/server.ts takes it on every route), its
 * correlation header echoed on every answer, a bare array of rows in its spelling, and a batch request whose
 * answer is the file itself.
 */
export const impedanceCompatRoutes: FastifyPluginAsync<ImpedanceCompatOptions> = async (app, options) => {
  const { warehouse, byMeter, jobs } = options;

  // On every answer of these routes, refusals included (a refused key, a bad body).
  app.addHook('onSend', async (request, reply) => {
    const given = request.headers[CORRELATION_HEADER];
    const valid = typeof given === 'string' && /^[\x21-\x7e]{1,128}$/.test(given);
    reply.header('Itron-CorrelationId', valid ? given : request.id);
  });

  app.post<{ Body: Record<string, unknown> }>(
    `${BASE}/on-demand`,
    {
      schema: {
        summary: 'Impedance statistics on demand, as the impedance-statistics interface answers them',
        description: `A bare JSON array of at most ${ON_DEMAND_MAX_ROWS} rows of the key's tenant's meters, the first in the order of POST /v1/impedance/on-demand (the header X-More-Rows: true says more matched: narrow the filters or use the batch request). The filters of /v1/impedance/on-demand, each date bound in any of the interface's spellings; no paging fields.`,
        headers: HEADERS,
        params: PARAMS,
        body: object(filterProperties(ON_DEMAND_DATES), { optional: true, additional: false }),
        response: { 200: { type: 'array', items: ROW_SCHEMA } },
      },
    },
    async (request, reply) => {
      const filter = impedanceFilter(request.body ?? {}, ON_DEMAND_DATES);
      const { rows, total } = await impedanceRows(
        warehouse,
        byMeter,
        filter,
        tenantOf(request),
        ON_DEMAND_MAX_ROWS,
        0,
      );
      if (total > rows.length) reply.header('x-more-rows', 'true');
      return rows.map(interfaceRow);
    },
  );

  if (!jobs) return;

  app.post<{ Body: { filetype: FileType; tokens?: Record<string, unknown> } }>(
    `${BASE}/batch-request`,
    {
      schema: {
        summary: 'Impedance statistics as a file, as the impedance-statistics batch request answers them',
        description:
          "The file itself once it is written (this can take minutes): every row of the key's tenant's meters that the tokens select, as POST /v1/impedance/exports writes it (CSV with NULL as --). The export is also kept as /v1/impedance/exports/{id} (the Location header) for GRIDSTREAM_EXPORT_TTL_S. The export limits of /v1/impedance/exports apply (429).",
        headers: HEADERS,
        params: PARAMS,
        body: BATCH_REQUEST_BODY,
        response: {
          200: EXPORT_FILE_RESPONSE,
          501: errorResponse('This ClickHouse cannot write the file type (unsupported_format)'),
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
      await job.finished;
      if (job.status !== 'done')
        throw new ApiError(500, 'export_failed', `export ${job.id} failed: ${job.error ?? 'unknown'}`);
      return sendExportFile(reply.header('location', `/v1/impedance/exports/${job.id}`), job);
    },
  );
};
