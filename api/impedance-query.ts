import type { ImpedanceDailyRowsParams } from '../io/warehouse/queries.gen.js';
import { badRequest } from './errors.js';

/**
 * The filters of the impedance-statistics requests, as JSON Schema (validated by the routes, described in
 * /openapi.json) and as the parameters of sql/queries/impedance_daily_rows.sql. The on-demand request spells
 * its date bounds startEventDate ... endReceivedDateTime, the batch request's tokens StartEventDate ...
 * EndReceivedDateTime; both use ServicePoint, Meter, ... for the lists. An empty string means "not given", as
 * in the seed's own examples.
 */

/** Most values one list filter may hold. */
export const MAX_LIST_VALUES = 1000;

const LIST = {
  description: `Comma-separated values (or an array of them), at most ${MAX_LIST_VALUES}; empty = no filter`,
  // One schema for both forms (each keyword applies to its own type), so a bad value gets one error, not one
  // per alternative as with anyOf.
  type: ['string', 'array'],
  maxLength: 100_000,
  maxItems: MAX_LIST_VALUES,
  items: { type: 'string', minLength: 1, maxLength: 256 },
};
const DATE = { type: 'string', pattern: '^(\\d{4}-\\d{2}-\\d{2})?$', description: 'YYYY-MM-DD (UTC day)' };
const DATE_TIME = {
  type: 'string',
  pattern: '^(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2}))?$',
  description: 'YYYY-MM-DDTHH:MM:SS[.sss]Z',
};

/** The list filters: request field, query parameter, and the seed's meaning. */
const LISTS = [
  ['ServicePoint', 'service_points', 'Service point ids (ServicePointId)'],
  ['Meter', 'meters', 'Meter ids (MeterId)'],
  ['Device', 'meters', 'Device ids: the meter ids (MeterId), as Meter'],
  ['MeterNumber', 'meter_numbers', 'Meter numbers (MeterNumber)'],
  ['ElectronicSerialNumber', 'serial_numbers', 'Electronic serial numbers'],
  ['Transformer', 'transformers', 'Transformer ids (TransformerId)'],
  ['Premises', 'premises', 'Premise ids (PremiseId)'],
  ['Feeder', 'feeders', "Feeder ids: rows of the feeders' transformers in the current topology"],
] as const;

type DateNames = { startEvent: string; endEvent: string; startReceived: string; endReceived: string };
export const ON_DEMAND_DATES: DateNames = {
  startEvent: 'startEventDate',
  endEvent: 'endEventDate',
  startReceived: 'startReceivedDateTime',
  endReceived: 'endReceivedDateTime',
};
export const BATCH_DATES: DateNames = {
  startEvent: 'StartEventDate',
  endEvent: 'EndEventDate',
  startReceived: 'StartReceivedDateTime',
  endReceived: 'EndReceivedDateTime',
};

/** JSON Schema properties of the filters, with the date bounds named as `names` says. */
export function filterProperties(names: DateNames): Record<string, unknown> {
  return {
    [names.startEvent]: { ...DATE, description: 'Earliest EventDate, inclusive (YYYY-MM-DD)' },
    [names.endEvent]: { ...DATE, description: 'Latest EventDate, inclusive (YYYY-MM-DD)' },
    [names.startReceived]: { ...DATE_TIME, description: 'Earliest ReceivedTime, inclusive' },
    [names.endReceived]: { ...DATE_TIME, description: 'Latest ReceivedTime, inclusive' },
    ...Object.fromEntries(
      LISTS.map(([field, , what]) => [field, { ...LIST, description: `${what}. ${LIST.description}` }]),
    ),
  };
}

/** The query's parameters a request's filters set (the tenant and the page are the route's). */
export type ImpedanceFilterParams = Omit<ImpedanceDailyRowsParams, 'tenant' | 'limit' | 'offset'>;

export interface ImpedanceFilter {
  params: ImpedanceFilterParams;
  /** The Transformer list as given (a DT of another tenant is a filter that matches none of the key's rows). */
  transformers: string[];
}

// The engines' Date and DateTime ranges: bounds outside them (the seed's default end is 9999-12-31) are clamped.
const FIRST_DAY = '1970-01-01';
const LAST_DAY = '2105-12-31';

/** Turns validated request fields into the query's parameters; a bad value is a 400 naming its field. */
export function impedanceFilter(input: Record<string, unknown>, names: DateNames): ImpedanceFilter {
  const dates = {
    start_event_date: day(input, names.startEvent, FIRST_DAY),
    end_event_date: day(input, names.endEvent, LAST_DAY),
    start_received: instant(input, names.startReceived, `${FIRST_DAY} 00:00:00.000`),
    end_received: instant(input, names.endReceived, `${LAST_DAY} 23:59:59.999`),
  };
  if (dates.start_event_date > dates.end_event_date)
    throw badRequest(names.startEvent, `must not be after ${names.endEvent}`);
  if (dates.start_received > dates.end_received)
    throw badRequest(names.startReceived, `must not be after ${names.endReceived}`);
  const lists = Object.fromEntries(LISTS.map(([, param]) => [param, [] as string[]])) as Record<
    (typeof LISTS)[number][1],
    string[]
  >;
  for (const [field, param] of LISTS) {
    const values = list(input[field]);
    if (values.length > MAX_LIST_VALUES) throw badRequest(field, `at most ${MAX_LIST_VALUES} values`);
    lists[param].push(...values);
  }
  return { params: { ...dates, ...lists }, transformers: lists.transformers };
}

function list(value: unknown): string[] {
  const items =
    typeof value === 'string' ? value.split(',') : Array.isArray(value) ? (value as string[]) : [];
  return items.map((v) => v.trim()).filter((v) => v !== '');
}

function day(input: Record<string, unknown>, field: string, fallback: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') return fallback;
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value)
    throw badRequest(field, `${JSON.stringify(value)} is not a date`);
  return value < FIRST_DAY ? FIRST_DAY : value > LAST_DAY ? LAST_DAY : value;
}

/** An instant as 'YYYY-MM-DD hh:mm:ss.sss' UTC, the text both engines compare received_at with. */
function instant(input: Record<string, unknown>, field: string, fallback: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') return fallback;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest(field, `${JSON.stringify(value)} is not a date and time`);
  const text = new Date(Math.min(Math.max(ms, 0), Date.parse(`${LAST_DAY}T23:59:59.999Z`))).toISOString();
  return text.slice(0, 10) + ' ' + text.slice(11, 23);
}
