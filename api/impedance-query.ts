import { queries, type ImpedanceDailyRowsParams } from '../io/warehouse/queries.gen.js';
import { runPage, runQuery } from '../io/warehouse/query.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { DtOf } from '../core/topology.js';
import { ImpedanceStore, impedanceOfRow, type ImpedanceRowOut } from '../serving/impedance-store.js';
import { badRequest } from './errors.js';

/**
 * The filters of the impedance-statistics requests, as JSON Schema (validated by the routes, described in
 * /openapi.json) and as the parameters of sql/queries/impedance_daily_rows.sql. The impedance-statistics
 * interface spells its date bounds several ways (startEventDate in its on-demand example, StartEventDate in its
 * batch example and parameter table, StartReceivedDateTime and StartReceivedDatetime): every request takes
 * each spelling of each bound (DATE_SPELLINGS), and lists as ServicePoint, Meter, .... An empty string means
 * "not given", as in the interface's own examples.
 */

/** The impedance-statistics interface's text for a missing value, in its answers and its CSV files. */
export const NULL_TEXT = '--';

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

type DateBound = 'startEvent' | 'endEvent' | 'startReceived' | 'endReceived';
/** The name a request's documentation and errors give each date bound (other spellings are accepted too). */
type DateNames = Record<DateBound, string>;
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

/** Every spelling of each date bound the interface uses (its examples and its parameter table). */
export const DATE_SPELLINGS: Record<DateBound, readonly string[]> = {
  startEvent: ['startEventDate', 'StartEventDate'],
  endEvent: ['endEventDate', 'EndEventDate'],
  startReceived: [
    'startReceivedDateTime',
    'StartReceivedDateTime',
    'StartReceivedDatetime',
    'startReceivedDatetime',
  ],
  endReceived: ['endReceivedDateTime', 'EndReceivedDateTime', 'EndReceivedDatetime', 'endReceivedDatetime'],
};

const BOUNDS: Record<DateBound, { schema: object; description: string }> = {
  startEvent: { schema: DATE, description: 'Earliest EventDate, inclusive (YYYY-MM-DD)' },
  endEvent: { schema: DATE, description: 'Latest EventDate, inclusive (YYYY-MM-DD)' },
  startReceived: { schema: DATE_TIME, description: 'Earliest ReceivedTime, inclusive' },
  endReceived: { schema: DATE_TIME, description: 'Latest ReceivedTime, inclusive' },
};

/**
 * JSON Schema properties of the filters: each date bound under the name `names` gives it, then its other
 * spellings.
 */
export function filterProperties(names: DateNames): Record<string, unknown> {
  const dates = (Object.keys(BOUNDS) as DateBound[]).flatMap((bound) => [
    [names[bound], { ...BOUNDS[bound].schema, description: BOUNDS[bound].description }] as const,
    ...DATE_SPELLINGS[bound]
      .filter((name) => name !== names[bound])
      .map(
        (name) =>
          [name, { ...BOUNDS[bound].schema, description: `Another spelling of ${names[bound]}` }] as const,
      ),
  ]);
  return {
    ...Object.fromEntries(dates),
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
    start_event_date: day(given(input, 'startEvent'), FIRST_DAY),
    end_event_date: day(given(input, 'endEvent'), LAST_DAY),
    start_received: instant(given(input, 'startReceived'), `${FIRST_DAY} 00:00:00.000`),
    end_received: instant(given(input, 'endReceived'), `${LAST_DAY} 23:59:59.999`),
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

/**
 * The spelling of a date bound the request gives a value (a non-empty string) and that value, or null; two
 * spellings with different values are a 400.
 */
function given(input: Record<string, unknown>, bound: DateBound): { field: string; value: string } | null {
  let found: { field: string; value: string } | null = null;
  for (const field of DATE_SPELLINGS[bound]) {
    const value = input[field];
    if (typeof value !== 'string' || value === '') continue;
    if (found && found.value !== value)
      throw badRequest(field, `contradicts ${found.field}: give one of the two`);
    found ??= { field, value };
  }
  return found;
}

function day(bound: { field: string; value: string } | null, fallback: string): string {
  if (bound === null) return fallback;
  const { field, value } = bound;
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value)
    throw badRequest(field, `${JSON.stringify(value)} is not a date`);
  return value < FIRST_DAY ? FIRST_DAY : value > LAST_DAY ? LAST_DAY : value;
}

/** An instant as 'YYYY-MM-DD hh:mm:ss.sss' UTC, the text both engines compare received_at with. */
function instant(bound: { field: string; value: string } | null, fallback: string): string {
  if (bound === null) return fallback;
  const { field, value } = bound;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest(field, `${JSON.stringify(value)} is not a date and time`);
  const text = new Date(Math.min(Math.max(ms, 0), Date.parse(`${LAST_DAY}T23:59:59.999Z`))).toISOString();
  return text.slice(0, 10) + ' ' + text.slice(11, 23);
}

/** What the API knows of a DT without the warehouse (the topology table), and a counter of look-ups by path. */
export interface ImpedanceByMeter {
  dtOf: DtOf;
  /** Counts a look-up by how it was answered: the named meters' rows, or the warehouse's whole query. */
  served(source: 'meters' | 'query'): void;
}

/** Candidate rows a look-up by meters reads at most; more, and the warehouse's own query answers it. */
const MAX_METER_ROWS = 50_000;

/**
 * One look-up page and the count of all matching rows. A look-up naming meters reads those meters' current
 * rows by the primary keys (sql/queries/impedance_meter_rows.sql) and filters, orders and pages them here
 * (serving/impedance-store.ts) with the topology table's tenants and feeders; any other (only feeders or dates,
 * or more than MAX_METER_ROWS candidate rows) is the warehouse's (sql/queries/impedance_daily_rows.sql). The
 * same rows in the same order either way.
 */
export async function impedanceRows(
  warehouse: Warehouse,
  byMeter: ImpedanceByMeter | undefined,
  filter: ImpedanceFilter,
  tenant: string,
  limit: number,
  offset: number,
): Promise<{ rows: ImpedanceRowOut[]; total: number }> {
  const p = filter.params;
  const namesMeters = [
    p.service_points,
    p.meters,
    p.meter_numbers,
    p.serial_numbers,
    p.transformers,
    p.premises,
  ].some((list) => list.length > 0);
  if (byMeter && namesMeters) {
    const candidates = await runQuery(warehouse, queries.impedance_meter_rows, {
      service_points: p.service_points,
      meters: p.meters,
      meter_numbers: p.meter_numbers,
      serial_numbers: p.serial_numbers,
      transformers: p.transformers,
      premises: p.premises,
      start_event_date: p.start_event_date,
      end_event_date: p.end_event_date,
      max_rows: MAX_METER_ROWS + 1,
    });
    if (candidates.length <= MAX_METER_ROWS) {
      const store = new ImpedanceStore();
      store.apply(candidates.map(impedanceOfRow));
      const found = store.lookup(p, tenant, byMeter.dtOf, limit, offset);
      if (found) {
        byMeter.served('meters');
        return found;
      }
    }
  }
  byMeter?.served('query');
  return runPage(warehouse, queries.impedance_daily_rows, { ...p, tenant, limit, offset });
}
