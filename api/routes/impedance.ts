import type { FastifyInstance } from 'fastify';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import {
  filterProperties,
  impedanceFilter,
  impedanceRows,
  ON_DEMAND_DATES,
  type ImpedanceByMeter,
} from '../impedance-query.js';
import { object } from '../openapi.js';
import {
  NEXT_OFFSET_PROPERTY,
  nextOffset,
  PAGE_ANSWER_PROPERTIES,
  pageAnswer,
  pageOf,
  pagingProperties,
  type PagingInput,
} from '../page.js';
import { tenantOf } from '../tenancy.js';

/** Most rows one on-demand request returns (the impedance-statistics interface's maximum result size). */
export const ON_DEMAND_MAX_ROWS = 1000;

/** A row of the impedance-statistics response, its columns in the interface's order. */
export const IMPEDANCE_ROW_SCHEMA = object(
  {
    MeterLeg: { type: 'integer', description: 'Meter leg (phase), 1 to 3' },
    MedianImpedance: { type: 'number', description: 'Daily median service-drop impedance, milliohm' },
    EventDate: { type: 'string', description: 'UTC day of the statistics, YYYY-MM-DD' },
    ReceivedTime: { type: 'string', description: 'Newest receive time behind the median, ISO-8601 UTC' },
    EventCount: { type: 'integer', description: 'Current steps the median rests on' },
    ServicePointId: { type: ['string', 'null'] },
    MeterId: { type: 'string' },
    MeterNumber: { type: ['string', 'null'] },
    ElectronicSerialNumber: { type: ['string', 'null'] },
    TransformerId: { type: 'string' },
    PremiseId: { type: ['string', 'null'] },
  },
  { optional: true },
);

export interface ImpedanceRoutesOptions {
  warehouse: Warehouse;
  /** The topology table's tenants and feeders, for look-ups by meter (api/impedance-query.ts). */
  byMeter?: ImpedanceByMeter | undefined;
}

/** Impedance look-ups: the on-demand request. The batch export is in impedance-exports.ts. */
export async function impedanceRoutes(app: FastifyInstance, { warehouse, byMeter }: ImpedanceRoutesOptions) {
  app.post<{ Body: Record<string, unknown> & PagingInput }>(
    '/v1/impedance/on-demand',
    {
      schema: {
        summary: 'Daily median service-drop impedance per meter leg (on demand), at most 1,000 rows',
        description:
          "Rows of the key's tenant's meters, newest version of each leg-day, ordered by EventDate, MeterId and MeterLeg; page with limit and offset or with page and pageSize. Lists are comma-separated (or arrays); every given filter must match.",
        body: object(
          {
            ...filterProperties(ON_DEMAND_DATES),
            ...pagingProperties(ON_DEMAND_MAX_ROWS),
          },
          { optional: true, additional: false },
        ),
        response: {
          200: object(
            {
              rows: { type: 'array', items: IMPEDANCE_ROW_SCHEMA },
              ...PAGE_ANSWER_PROPERTIES,
              next_offset: NEXT_OFFSET_PROPERTY,
            },
            { optional: true },
          ),
        },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const filter = impedanceFilter(request.body, ON_DEMAND_DATES);
      const page = pageOf(request.body, ON_DEMAND_MAX_ROWS);
      const { rows, total } = await impedanceRows(
        warehouse,
        byMeter,
        filter,
        tenant,
        page.limit,
        page.offset,
      );
      return {
        rows,
        ...pageAnswer(page, total),
        next_offset: nextOffset(page, total),
      };
    },
  );
}
