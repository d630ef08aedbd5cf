import type { FastifyInstance } from 'fastify';
import { DAY_MS, iso } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { DT_RANGE_HEAD, dtRangeSchema, dtSeriesRange, type DtSeriesRequest } from '../dt-series.js';
import { finiteOrNull } from '../json-numbers.js';
import { NUMBER_OR_NULL, object } from '../openapi.js';
import { runPage, runQuery } from '../../io/warehouse/query.js';
import {
  queries,
  type ImpedanceFlagsOfMetersRow,
  type ImpedanceMeterRowsRow,
} from '../../io/warehouse/queries.gen.js';
import { ANY_DELIVERY, DISPATCH_ITEM, dispatchItems } from './dispatches.js';

const DAY = { type: 'string', format: 'date' } as const;

const LEG = object({
  leg: { type: 'integer' },
  latest_median_mohm: NUMBER_OR_NULL,
  days: {
    type: 'array',
    items: object({
      day: DAY,
      median_mohm: { type: 'number' },
      stderr_mohm: NUMBER_OR_NULL,
      event_count: { type: 'integer' },
      is_final: { type: 'boolean' },
    }),
  },
  flags: {
    type: 'array',
    items: object({
      day: DAY,
      kind: { type: 'string', enum: ['absolute', 'own_rise', 'peer_rise'] },
      median_mohm: { type: 'number' },
      reference_mohm: { type: 'number' },
    }),
  },
});

const METERS = object({
  ...DT_RANGE_HEAD,
  meters: {
    type: 'array',
    items: object({
      meter_id: { type: 'string' },
      service_point_id: { type: ['string', 'null'] },
      legs: { type: 'array', items: LEG },
      flag_count: { type: 'integer' },
    }),
  },
  flagged_meters: { type: 'integer' },
});

const DISPATCHES = object({
  ...DT_RANGE_HEAD,
  assets: {
    type: 'array',
    items: object({ asset_id: { type: 'string' }, nominal_kw: NUMBER_OR_NULL }),
  },
  dispatches: { type: 'array', items: DISPATCH_ITEM },
  truncated: { type: 'boolean' },
});

/** Default ranges: the last 30 days of impedance; dispatches from 7 days ago to 1 day ahead. */
const METERS_RANGE = { days: 30, aheadDays: 0 };
const DISPATCHES_RANGE = { days: 8, aheadDays: 1 };
/** Dispatches one answer holds at most: the newest. */
const MAX_DISPATCHES = 500;
/** Meter legs a leg-day key leaves room for (impedance_daily.leg is a UInt8 numbered from 1). */
const LEG_SLOTS = 8;

type Leg = {
  leg: number;
  days: ImpedanceMeterRowsRow[];
  flags: ImpedanceFlagsOfMetersRow[];
};

/**
 * A DT's service drops and dispatches, for the console's transformer view: its meters with their daily
 * impedance trend and flags, and its assets' dispatch commands with their checks. Read only.
 */
export async function dtMetersRoutes(
  app: FastifyInstance,
  { warehouse, retentionDays }: { warehouse: Warehouse; retentionDays: number },
) {
  app.get<DtSeriesRequest>(
    '/v1/dt/:id/meters',
    {
      schema: {
        summary: "The DT's meters (topology now) with each leg's daily service-drop impedance and flags",
        description:
          "Default: the last 30 days (the UTC days the range touches). Every meter the topology now places behind the DT, those without impedance rows too (legs empty), ordered by flag_count descending then meter_id. days: the current revision of each leg-day, ascending; latest_median_mohm the newest day's median in the range; flags: absolute, own_rise or peer_rise with the median and what it was compared with (reference_mohm).",
        ...dtRangeSchema(retentionDays, METERS_RANGE),
        response: { 200: METERS },
      },
    },
    async (request) => {
      const { id, from, to } = await dtSeriesRange(warehouse, request, retentionDays, METERS_RANGE);
      const meters = await runQuery(warehouse, queries.dt_meters, { dt_id: id });
      const ids = meters.map((m) => m.meter_id);
      const dates = { start_event_date: iso(from).slice(0, 10), end_event_date: iso(to - 1).slice(0, 10) };
      const dayCount = (Date.parse(dates.end_event_date) - Date.parse(dates.start_event_date)) / DAY_MS + 1;
      const [days, flags] = ids.length
        ? await Promise.all([
            runQuery(warehouse, queries.impedance_meter_rows, {
              service_points: [],
              meters: ids,
              meter_numbers: [],
              serial_numbers: [],
              transformers: [],
              premises: [],
              ...dates,
              // Every leg-day of the meters: the query keeps one row of each.
              max_rows: ids.length * LEG_SLOTS * dayCount,
            }),
            runQuery(warehouse, queries.impedance_flags_of_meters, { meters: ids, ...dates }),
          ])
        : [[], []];
      const legs = new Map<string, Map<number, Leg>>();
      const legOf = (meterId: string, leg: number): Leg => {
        let byLeg = legs.get(meterId);
        if (!byLeg) legs.set(meterId, (byLeg = new Map()));
        let found = byLeg.get(leg);
        if (!found) byLeg.set(leg, (found = { leg, days: [], flags: [] }));
        return found;
      };
      // Both come ordered by meter, leg and day: each leg's days and flags stay ascending.
      for (const d of days) legOf(d.meter_id, d.leg).days.push(d);
      for (const f of flags) legOf(f.meter_id, f.leg).flags.push(f);
      const out = meters.map((m) => {
        const ofMeter = [...(legs.get(m.meter_id)?.values() ?? [])].sort((a, b) => a.leg - b.leg);
        return {
          meter_id: m.meter_id,
          service_point_id: m.service_point_id,
          legs: ofMeter.map((l) => ({
            leg: l.leg,
            latest_median_mohm: l.days.at(-1)?.median_mohm ?? null,
            days: l.days.map((d) => ({
              day: d.day_text,
              median_mohm: d.median_mohm,
              stderr_mohm: finiteOrNull(d.stderr_mohm),
              event_count: d.event_count,
              is_final: d.is_final,
            })),
            flags: l.flags.map((f) => ({
              day: f.day_text,
              kind: f.kind_text,
              median_mohm: f.median_mohm,
              reference_mohm: f.reference_mohm,
            })),
          })),
          flag_count: ofMeter.reduce((n, l) => n + l.flags.length, 0),
        };
      });
      // A stable sort: meters of equal flag counts keep the query's meter_id order (ClickHouse's, by bytes).
      out.sort((a, b) => b.flag_count - a.flag_count);
      return {
        dt_id: id,
        from: iso(from),
        to: iso(to),
        meters: out,
        flagged_meters: out.filter((m) => m.flag_count > 0).length,
      };
    },
  );

  app.get<DtSeriesRequest>(
    '/v1/dt/:id/dispatches',
    {
      schema: {
        summary: "Dispatch commands of the DT's assets (topology now), each with its newest check",
        description: `Default: from 7 days ago to 1 day ahead (dispatch_time). The assets the topology now places behind the DT, and their commands in the range, items as GET /v1/dispatches gives them, in its order (dispatch_time, asset_id, event_id); at most the ${MAX_DISPATCHES} newest, truncated true when there were more.`,
        ...dtRangeSchema(retentionDays, DISPATCHES_RANGE),
        response: { 200: DISPATCHES },
      },
    },
    async (request) => {
      const { id, from, to } = await dtSeriesRange(warehouse, request, retentionDays, DISPATCHES_RANGE);
      const assets = await runQuery(warehouse, queries.dt_assets, { dts: [id] });
      const params = {
        ...ANY_DELIVERY,
        asset_ids: assets.map((a) => a.asset_id),
        from_ms: from,
        to_ms: to,
        limit: MAX_DISPATCHES,
        offset: 0,
      };
      const page = assets.length
        ? await runPage(warehouse, queries.dispatches_for_assets, params)
        : undefined;
      const truncated = page !== undefined && page.total > MAX_DISPATCHES;
      // The query orders by dispatch_time ascending: the newest are the last page, read once the count is known.
      const rows = truncated
        ? await runQuery(warehouse, queries.dispatches_for_assets, {
            ...params,
            offset: page.total - MAX_DISPATCHES,
          })
        : (page?.rows ?? []);
      return {
        dt_id: id,
        from: iso(from),
        to: iso(to),
        assets: assets.map((a) => ({ asset_id: a.asset_id, nominal_kw: a.nominal_kw })),
        dispatches: await dispatchItems(warehouse, rows),
        truncated,
      };
    },
  );
}
