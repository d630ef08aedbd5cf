import type { Warehouse } from '../io/warehouse/warehouse.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';
import type { CustomerSensitivity } from '../processors/stress/customer-voltage.js';
import { envelopeAtMeter } from '../processors/stress/hosting.js';
import { voltageBandV } from '../processors/stress/stress.js';
import { badRequest } from './errors.js';
import { object } from './openapi.js';
import type { EnvelopeIssue } from './envelope-issues.js';
import { requireDt } from './tenancy.js';

/**
 * An addition located at a customer: `meter_id` or `service_point_id` in a request of the hosting judges
 * (POST /v1/dt/hosting-capacity, /v1/rooftop/sanction-check, /v1/ev/site-screen). The judge then takes the
 * envelope at that meter (processors/stress/hosting.ts `envelopeAtMeter`) from the customers' voltage
 * sensitivities of the DT's newest stress row (sql/queries/dt_customer_voltages.sql).
 */
export const METER_LOCATION = {
  meter_id: {
    type: 'string',
    minLength: 1,
    maxLength: 128,
    description:
      "Meter the addition sits behind: judged against the voltages it moves (its own and the DT's other customers')",
  },
  service_point_id: {
    type: 'string',
    minLength: 1,
    maxLength: 128,
    description: 'Service point the addition sits at (instead of meter_id)',
  },
} as const;

/** The response's record of where an addition was judged: null when at the DT. */
export const JUDGED_AT = object(
  {
    meter_id: { type: 'string' },
    service_point_id: { type: ['string', 'null'] },
    customer_sensitivity: {
      type: 'boolean',
      description: "Whether the meter's own voltage sensitivity was known (false: judged as at the DT)",
    },
  },
  { nullable: true },
);

export interface MeterLocation {
  meterId: string;
  servicePointId: string | null;
  dtId: string;
}

export interface JudgedAt {
  meter_id: string;
  service_point_id: string | null;
  customer_sensitivity: boolean;
}

/**
 * The meter a request names (null when it names none), checked against the tenant's DTs and, with `dtId`,
 * against the DT the request names. A 400 when both names are given and disagree, or the meter is unknown.
 */
export async function locateMeter(
  warehouse: Warehouse,
  tenant: string,
  body: { meter_id?: string; service_point_id?: string },
  dtId?: string,
): Promise<MeterLocation | null> {
  if (body.meter_id === undefined && body.service_point_id === undefined) return null;
  const field = body.meter_id !== undefined ? 'meter_id' : 'service_point_id';
  const [row] = await runQuery(warehouse, queries.meter_location, {
    meter_id: body.meter_id ?? '',
    service_point_id: body.meter_id === undefined ? (body.service_point_id ?? '') : '',
  });
  if (!row) throw badRequest(field, `no meter ${JSON.stringify(body[field])} in the topology`);
  if (
    body.meter_id !== undefined &&
    body.service_point_id !== undefined &&
    row.service_point !== body.service_point_id
  )
    throw badRequest('service_point_id', `is not meter ${JSON.stringify(body.meter_id)}'s service point`);
  await requireDt(warehouse, tenant, row.dt_id);
  if (dtId !== undefined && row.dt_id !== dtId)
    throw badRequest(
      field,
      `meter ${JSON.stringify(row.meter_id)} is not behind transformer ${JSON.stringify(dtId)}`,
    );
  return { meterId: row.meter_id, servicePointId: row.service_point || null, dtId: row.dt_id };
}

/** The DT's issue as seen from the meter, and the response's `judged_at`. */
export async function issueAtMeter<T extends EnvelopeIssue>(
  warehouse: Warehouse,
  issue: T,
  at: MeterLocation,
): Promise<{ issue: T; judgedAt: JudgedAt }> {
  const [row] = await runQuery(warehouse, queries.dt_customer_voltages, { dt_id: at.dtId });
  const customers: CustomerSensitivity[] = (row?.meter_id ?? []).map((meter_id, i) => ({
    meter_id,
    ownVPerKw: row!.own_v_per_kw[i]!,
    dtVPerKw: row!.dt_v_per_kw[i]!,
    lowOffsetV: row!.low_offset_v[i]!,
    highOffsetV: row!.high_offset_v[i]!,
    pairs: 0,
  }));
  const nominal = row?.nominal_voltage_v ?? 230;
  const slots = envelopeAtMeter(issue.slots, customers, at.meterId, voltageBandV(nominal));
  return {
    issue: { ...issue, slots },
    judgedAt: {
      meter_id: at.meterId,
      service_point_id: at.servicePointId,
      customer_sensitivity: customers.some((c) => c.meter_id === at.meterId),
    },
  };
}
