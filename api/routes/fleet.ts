import type { FastifyInstance } from 'fastify';
import { DAY_MS, iso } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { runQuery } from '../../io/warehouse/query.js';
import {
  queries,
  type FleetEnvelopeNewestRow,
  type FleetEnvelopeStressRow,
  type FleetStressNewestRow,
  type FleetTransformersRow,
  type ListDtsRow,
} from '../../io/warehouse/queries.gen.js';
import { finiteOrNull } from '../json-numbers.js';
import { DATE_TIME_OR_NULL, NUMBER_OR_NULL, object } from '../openapi.js';
import {
  MAX_PAGE_SIZE,
  NEXT_OFFSET_PROPERTY,
  nextOffset,
  PAGE_ANSWER_OPTIONAL,
  PAGE_ANSWER_PROPERTIES,
  pageAnswer,
  pageOf,
  pageRows,
  pagingProperties,
  type PagingInput,
} from '../page.js';
import { tenantOf } from '../tenancy.js';
import { TRANSFORMER_PROPERTIES, transformerItem } from './dt.js';

/** Transformers a page holds unless the request says otherwise, as GET /v1/dt. */
const FLEET_PAGE_DEFAULT = MAX_PAGE_SIZE;
/** UTC days, today included, whose impedance flags count as open. */
const OPEN_FLAG_DAYS = 7;

const FLEET_ITEM = object({
  ...TRANSFORMER_PROPERTIES,
  load_factor: { ...NUMBER_OR_NULL, description: "K of the DT's newest dt_stress slot" },
  net_kw: { ...NUMBER_OR_NULL, description: 'Net power of that slot, kW (import positive)' },
  stress_slot_start: { ...DATE_TIME_OR_NULL, description: "The DT's newest dt_stress slot" },
  loss_of_life_min: { ...NUMBER_OR_NULL, description: 'Cumulative loss of life at that slot, minutes' },
  thermal_stress_prob: {
    ...NUMBER_OR_NULL,
    description:
      "Highest thermal stress probability over the slots of the DT's newest operating-envelope issue",
  },
  voltage_stress_prob: { ...NUMBER_OR_NULL, description: 'Highest voltage stress probability, likewise' },
  stress_prob: { ...NUMBER_OR_NULL, description: 'The higher of the two: the ranking key' },
  peak_stress_slot: {
    ...DATE_TIME_OR_NULL,
    description: 'The slot where stress_prob is reached (the earliest)',
  },
  envelope_issued_at: { ...DATE_TIME_OR_NULL, description: 'When that issue was made' },
  open_impedance_flags: {
    type: 'integer',
    description: `Meter legs of the DT with a high-impedance flag on one of the last ${OPEN_FLAG_DAYS} UTC days`,
  },
  matched: {
    ...object(
      { meter_id: { type: 'string' }, service_point_id: { type: ['string', 'null'] } },
      { nullable: true },
    ),
    description: 'With q: the meter whose meter_id or service_point_id is q, else null',
  },
});

const FLEET = object(
  {
    transformers: { type: 'array', items: FLEET_ITEM },
    feeders: {
      type: 'array',
      items: { type: 'string' },
      description: "Every feeder of the tenant's DTs, sorted, whatever the filters",
    },
    ...PAGE_ANSWER_PROPERTIES,
    next_offset: NEXT_OFFSET_PROPERTY,
  },
  { optional: PAGE_ANSWER_OPTIONAL },
);

interface FleetQuery extends PagingInput {
  dt_id?: string;
  feeder_id?: string;
  q?: string;
}

/** What ranks a DT of the fleet. */
export interface FleetRank {
  dt_id: string;
  stress_prob: number | null;
  loss_of_life_min: number | null;
}

/** Ranking order: stress_prob, then loss_of_life_min, both descending with nulls last, then dt_id. */
export function compareFleet(a: FleetRank, b: FleetRank): number {
  return (
    descendingNullsLast(a.stress_prob, b.stress_prob) ||
    descendingNullsLast(a.loss_of_life_min, b.loss_of_life_min) ||
    (a.dt_id < b.dt_id ? -1 : a.dt_id > b.dt_id ? 1 : 0)
  );
}

function descendingNullsLast(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return b - a;
}

/** The ranking key of a DT: the higher of its newest issue's thermal and voltage peaks, null without an issue. */
function stressProbOf(envelope: FleetEnvelopeStressRow | undefined): number | null {
  const thermal = finiteOrNull(envelope?.thermal_stress_prob);
  const voltage = finiteOrNull(envelope?.voltage_stress_prob);
  return thermal === null && voltage === null ? null : Math.max(thermal ?? -1, voltage ?? -1);
}

/** What ranks a DT, from its rows of the per-tenant queries. */
export function fleetRank(
  dtId: string,
  stress: FleetStressNewestRow | undefined,
  envelope: FleetEnvelopeStressRow | undefined,
): FleetRank {
  return {
    dt_id: dtId,
    stress_prob: stressProbOf(envelope),
    loss_of_life_min: finiteOrNull(stress?.loss_of_life_min),
  };
}

/** What the fleet view shows of one DT, from its rank and its rows of the per-tenant queries. */
function fleetItem(
  dt: ListDtsRow,
  rank: FleetRank,
  stress: FleetStressNewestRow | undefined,
  envelope: FleetEnvelopeStressRow | undefined,
  flaggedLegs: number,
  matched: { meter_id: string; service_point_id: string | null } | null,
  timeZone: string | undefined,
) {
  const stressProb = rank.stress_prob;
  return {
    ...transformerItem(dt, timeZone),
    load_factor: finiteOrNull(stress?.load_factor),
    net_kw: finiteOrNull(stress?.net_kw),
    stress_slot_start: stress ? iso(stress.last_slot_ms) : null,
    loss_of_life_min: rank.loss_of_life_min,
    thermal_stress_prob: finiteOrNull(envelope?.thermal_stress_prob),
    voltage_stress_prob: finiteOrNull(envelope?.voltage_stress_prob),
    stress_prob: stressProb,
    peak_stress_slot: envelope && stressProb !== null ? iso(envelope.peak_slot_ms) : null,
    envelope_issued_at: envelope ? iso(envelope.issued_at_ms) : null,
    open_impedance_flags: flaggedLegs,
    matched,
  };
}

/** A DT as list_dts.sql gives it (GET /v1/dt): without envelopes, no AMI data, 0% coverage, modelled-only. */
function listedDt(dt: FleetTransformersRow, newest: FleetEnvelopeNewestRow | undefined): ListDtsRow {
  return {
    ...dt,
    last_slot_start: newest?.last_slot_ms ?? null,
    ami_coverage_pct: newest?.ami_coverage_pct ?? 0,
    data_quality: newest?.data_quality ?? 'modelled-only',
  };
}

/** How far back the per-DT queries read first: a DT stressed and issued an envelope since is answered from it. */
const RECENT_MS = 2 * DAY_MS;

/**
 * The rows of a per-DT query (fleet_stress_newest.sql, fleet_envelope_stress.sql) by DT: first over what was
 * written from `recentFrom` on, which the primary key narrows to a few days of every DT; then, for the DTs
 * that found nothing there (stale, or never stressed: none in a live fleet), over all their rows. Either way a
 * DT's answer is what all its rows give (docs/api.md, the fleet).
 */
async function recentFirst<R extends { dt_id: string }>(
  listed: Promise<FleetTransformersRow[]>,
  recentFrom: number,
  only: string[],
  run: (window: { from_ms: number; dts: string[] }) => Promise<R[]>,
): Promise<Map<string, R>> {
  const [dts, recent] = await Promise.all([listed, run({ from_ms: recentFrom, dts: only })]);
  const byDt = new Map(recent.map((r) => [r.dt_id, r]));
  const missed = dts
    .map((dt) => dt.dt_id)
    .filter((id) => !byDt.has(id) && (only.length === 0 || only.includes(id)));
  if (missed.length > 0) for (const r of await run({ from_ms: 0, dts: missed })) byDt.set(r.dt_id, r);
  return byDt;
}

/**
 * GET /v1/fleet: every DT of the key's tenant with what ranks it, a page at a time. A few per-tenant GROUP BY
 * queries (one row per DT each) joined here, rather than one join in the warehouse: each stays one JOIN deep
 * for 18.16, and filtering, ranking and paging 10,000 rows in memory costs a few milliseconds.
 */
export async function fleetRoutes(
  app: FastifyInstance,
  { warehouse, timeZone }: { warehouse: Warehouse; timeZone?: string | undefined },
) {
  app.get<{ Querystring: FleetQuery }>(
    '/v1/fleet',
    {
      schema: {
        summary:
          "The key's tenant's transformers ranked by forecast stress, with load, ageing and open flags",
        description: `Ordered by stress_prob, then loss_of_life_min (both descending, nulls last), then dt_id; filtered by dt_id (exact), feeder_id and q (a dt_id containing q, any case, or the DT of the meter whose meter_id or service_point_id is q); ranked and paged over the whole filtered fleet by limit and offset (default: ${FLEET_PAGE_DEFAULT} from the first) or by page and pageSize.`,
        querystring: object(
          {
            dt_id: {
              type: 'string',
              minLength: 1,
              maxLength: 128,
              description: 'Only this DT (its exact id)',
            },
            feeder_id: { type: 'string', minLength: 1, maxLength: 128, description: 'Only this feeder' },
            q: {
              type: 'string',
              minLength: 1,
              maxLength: 128,
              description: 'Search: part of a dt_id (any case), or a meter_id or service_point_id (exact)',
            },
            ...pagingProperties(FLEET_PAGE_DEFAULT),
          },
          { optional: true, additional: false },
        ),
        response: { 200: FLEET },
      },
    },
    async (request) => {
      const { feeder_id: feederId, q, dt_id: dtId } = request.query;
      // One DT asked for by its id: only its rows are read.
      const only = dtId === undefined ? [] : [dtId];
      const page = pageOf(request.query, FLEET_PAGE_DEFAULT);
      const tenant = tenantOf(request);
      const now = Date.now();
      const listed = runQuery(warehouse, queries.fleet_transformers, { tenant });
      const recentFrom = now - RECENT_MS;
      const [topology, newestOf, stressOf, envelopeOf, flags, meters] = await Promise.all([
        listed,
        recentFirst(listed, recentFrom, only, (p) =>
          runQuery(warehouse, queries.fleet_envelope_newest, { tenant, ...p }),
        ),
        recentFirst(listed, recentFrom, only, (p) =>
          runQuery(warehouse, queries.fleet_stress_newest, { tenant, ...p }),
        ),
        recentFirst(listed, recentFrom, only, (p) =>
          runQuery(warehouse, queries.fleet_envelope_stress, { tenant, ...p }),
        ),
        runQuery(warehouse, queries.fleet_impedance_flags, {
          tenant,
          from_day: iso(now - (OPEN_FLAG_DAYS - 1) * DAY_MS).slice(0, 10),
          to_day: iso(now).slice(0, 10),
        }),
        q === undefined ? [] : runQuery(warehouse, queries.fleet_meter_matches, { q }),
      ]);
      const dts = topology.map((dt) => listedDt(dt, newestOf.get(dt.dt_id)));
      // A DT's first matching meter (by meter_id: the query's order) is the one named.
      const matchedMeters = new Map<string, { meter_id: string; service_point_id: string | null }>();
      for (const m of meters)
        if (!matchedMeters.has(m.dt_id))
          matchedMeters.set(m.dt_id, { meter_id: m.meter_id, service_point_id: m.service_point_id });
      const needle = q?.toLowerCase();
      const flagsOf = new Map(flags.map((f) => [f.dt_id, f.flagged_legs]));
      // Ranked on the keys alone; only the page's DTs are rendered (a DT's zone may be looked up by position).
      const ranked = dts
        .filter(
          (dt) =>
            (dtId === undefined || dt.dt_id === dtId) &&
            (feederId === undefined || dt.feeder_id === feederId) &&
            (needle === undefined || dt.dt_id.toLowerCase().includes(needle) || matchedMeters.has(dt.dt_id)),
        )
        .map((dt) => ({ dt, ...fleetRank(dt.dt_id, stressOf.get(dt.dt_id), envelopeOf.get(dt.dt_id)) }))
        .sort(compareFleet);
      const { rows, total } = pageRows(ranked, page);
      return {
        transformers: rows.map(({ dt, ...rank }) =>
          fleetItem(
            dt,
            rank,
            stressOf.get(dt.dt_id),
            envelopeOf.get(dt.dt_id),
            flagsOf.get(dt.dt_id) ?? 0,
            matchedMeters.get(dt.dt_id) ?? null,
            timeZone,
          ),
        ),
        feeders: [...new Set(topology.map((dt) => dt.feeder_id))].sort(),
        ...pageAnswer(page, total),
        next_offset: nextOffset(page, total),
      };
    },
  );
}
