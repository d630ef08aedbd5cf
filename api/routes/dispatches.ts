import type { FastifyInstance } from 'fastify';
import { DAY_MS, iso } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { ASSET_IDS_PROPERTY, assetIdsOf } from '../asset-ids.js';
import { badRequest } from '../errors.js';
import { PAGE_ANSWER_PROPERTIES, pageAnswer, pageOf, pagingProperties, type PagingInput } from '../page.js';
import { object } from '../openapi.js';
import { requireAssets, tenantOf } from '../tenancy.js';
import { runPage, runQuery } from '../../io/warehouse/query.js';
import { queries, type DispatchesForAssetsRow } from '../../io/warehouse/queries.gen.js';

/** Dispatches a page holds unless the request says otherwise. */
const DISPATCH_PAGE_DEFAULT = 50;
/** The bounds of the dispatch_time range when the request gives only a delivery_day. */
const EARLIEST_MS = 0;
const LATEST_MS = Date.UTC(2106, 0, 1);
/** dispatches_for_assets.sql's delivery bounds that admit every command. */
export const ANY_DELIVERY = { delivery_from_ms: EARLIEST_MS, delivery_to_ms: LATEST_MS };

const quantity = (units: string[]) =>
  object(
    { amount: { type: 'string' }, unit: { type: 'string', enum: units } },
    { optional: true, nullable: true },
  );
const POWER = quantity(['W', 'kW', 'MW']);
/** The state-of-charge imbalance: an energy, or a power unit as earlier senders gave it. */
const ENERGY = quantity(['Wh', 'kWh', 'MWh', 'W', 'kW', 'MW']);

/** An {amount, unit} pair as the platform sent it (amount an exact decimal string), or null when absent. */
const power = (amount: string | null, unit: string | null) => (amount === null ? null : { amount, unit });

/** One command of GET /v1/dispatches (and of GET /v1/dt/{id}/dispatches), its newest check beside it. */
export const DISPATCH_ITEM = object(
  {
    source: { type: ['string', 'null'] },
    event_id: { type: 'string' },
    published_at: { type: ['string', 'null'] },
    asset_id: { type: 'string' },
    dispatch_time: { type: 'string' },
    delivery_period_start: { type: 'string' },
    target_power: POWER,
    nominal_power: POWER,
    power_imbalance: POWER,
    soc_imbalance: ENERGY,
    action: {
      type: 'string',
      enum: ['dispatch', 'cancel'],
      description:
        'dispatch, or cancel: the platform cancelled flexibility event event_id (target_power 0 kW; never checked)',
    },
    check: {
      description:
        "The command checked against its asset's computed period limits for the delivery period (null until checked): verdict within | exceeds (beyond limit_kw: rejected) | locked (a source locks trading in the period: rejected) | no_envelope | unknown_asset (within the stored sources' limits, NETWORK unknown); requested_kw toward the grid (positive export); limit_kw the computed limit of its direction (power_discharge >= 0 or power_charge <= 0) and limit_source the source that binds it (REPORTED, OPERATIONS, CUSTOMER, PV, AVAILABILITY or NETWORK); network_share the asset's share of its DT's headroom; headroom_kw the DT's whole envelope headroom for the slot, from the issue in force at dispatch_time",
      ...object(
        {
          verdict: {
            type: 'string',
            enum: ['within', 'exceeds', 'locked', 'no_envelope', 'unknown_asset'],
          },
          dt_id: { type: ['string', 'null'] },
          requested_kw: { type: 'number' },
          limit_kw: { type: ['number', 'null'] },
          limit_source: { type: ['string', 'null'] },
          network_share: { type: ['number', 'null'] },
          headroom_kw: { type: ['number', 'null'] },
          limited_by: { type: ['string', 'null'] },
          envelope_issued_at: { type: ['string', 'null'] },
          data_quality: { type: ['string', 'null'] },
        },
        { optional: true, nullable: true },
      ),
    },
  },
  { optional: true },
);

/** Dispatch history: the commands ingested over MQTT or Kafka, read from the dispatches table. */
export async function dispatchRoutes(app: FastifyInstance, { warehouse }: { warehouse: Warehouse }) {
  app.get<{
    Querystring: {
      asset_ids: string | string[];
      from?: string;
      to?: string;
      delivery_day?: string;
    } & PagingInput;
  }>(
    '/v1/dispatches',
    {
      schema: {
        summary: 'Paginated history of dispatch commands of some assets',
        description:
          'Commands (dispatches, and cancels of a flexibility event) with from <= dispatch_time < to and, given delivery_day, a delivery period starting on that UTC day (from and to may then be left out), ordered by dispatch_time, asset_id and event_id; each command once however often it was delivered. Paged by limit and offset or by page and pageSize.',
        querystring: object(
          {
            asset_ids: ASSET_IDS_PROPERTY,
            from: { type: 'string', format: 'date-time', description: 'Start, inclusive (ISO-8601)' },
            to: { type: 'string', format: 'date-time', description: 'End, exclusive (ISO-8601)' },
            delivery_day: {
              type: 'string',
              format: 'date',
              description:
                'The UTC day (YYYY-MM-DD) the delivery period starts on; with it, from and to are optional',
            },
            ...pagingProperties(DISPATCH_PAGE_DEFAULT),
          },
          {
            optional: ['from', 'to', 'delivery_day', 'limit', 'offset', 'page', 'pageSize'],
            additional: false,
          },
        ),
        response: {
          200: object(
            {
              dispatches: {
                type: 'array',
                items: DISPATCH_ITEM,
              },
              ...PAGE_ANSWER_PROPERTIES,
            },
            { optional: true },
          ),
        },
      },
    },
    async (request) => {
      const { from, to, delivery_day } = request.query;
      const page = pageOf(request.query, DISPATCH_PAGE_DEFAULT);
      const assetIds = assetIdsOf(request.query.asset_ids);
      if (delivery_day === undefined)
        for (const [field, value] of [
          ['from', from],
          ['to', to],
        ] as const)
          if (value === undefined) throw badRequest(field, 'is required (or give delivery_day)');
      const fromMs = from === undefined ? EARLIEST_MS : Date.parse(from);
      const toMs = to === undefined ? LATEST_MS : Date.parse(to);
      if (fromMs >= toMs) throw badRequest('from', 'must be before to');
      const deliveryFromMs =
        delivery_day === undefined ? EARLIEST_MS : Date.parse(`${delivery_day}T00:00:00Z`);
      const deliveryToMs = delivery_day === undefined ? LATEST_MS : deliveryFromMs + DAY_MS;
      await requireAssets(warehouse, tenantOf(request), assetIds);
      const { rows, total } = await runPage(warehouse, queries.dispatches_for_assets, {
        asset_ids: assetIds,
        from_ms: fromMs,
        to_ms: toMs,
        delivery_from_ms: deliveryFromMs,
        delivery_to_ms: deliveryToMs,
        limit: page.limit,
        offset: page.offset,
      });
      return {
        dispatches: await dispatchItems(warehouse, rows),
        ...pageAnswer(page, total),
      };
    },
  );
}

/** Items of DISPATCH_ITEM from rows of sql/queries/dispatches_for_assets.sql, each with its command's newest check. */
export async function dispatchItems(warehouse: Warehouse, rows: readonly DispatchesForAssetsRow[]) {
  const checks = new Map(
    (
      await runQuery(warehouse, queries.dispatch_checks_for_events, {
        event_ids: [...new Set(rows.map((r) => r.event_id))],
      })
    ).map((c) => [c.event_id, c]),
  );
  const checkOf = (eventId: string) => {
    const c = checks.get(eventId);
    if (!c) return null;
    return {
      ...c,
      envelope_issued_at: c.envelope_issued_ms === null ? null : iso(c.envelope_issued_ms),
    };
  };
  return rows.map((r) => ({
    source: r.source,
    event_id: r.event_id,
    published_at: r.published_ms === null ? null : iso(r.published_ms),
    asset_id: r.asset_id,
    dispatch_time: iso(r.dispatch_ms),
    delivery_period_start: iso(r.delivery_ms),
    target_power: power(r.target_power_amount, r.target_power_unit),
    nominal_power: power(r.nominal_power_amount, r.nominal_power_unit),
    power_imbalance: power(r.power_imbalance_amount, r.power_imbalance_unit),
    soc_imbalance: power(r.soc_imbalance_amount, r.soc_imbalance_unit),
    // After the interface's own fields, as the check.
    action: r.action,
    // A cancel is not checked; the check of its event's dispatch belongs to that dispatch's row.
    check: r.action === 'cancel' ? null : checkOf(r.event_id),
  }));
}
