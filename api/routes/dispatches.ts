import type { FastifyInstance } from 'fastify';
import { iso } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { badRequest } from '../errors.js';
import { PAGE_PROPERTIES } from '../page.js';
import { object } from '../openapi.js';
import { requireAssets, tenantOf } from '../tenancy.js';
import { runQuery } from '../../io/warehouse/query.js';
import { queries } from '../../io/warehouse/queries.gen.js';

const MAX_ASSETS = 1000;
const POWER = object(
  { amount: { type: 'string' }, unit: { type: 'string', enum: ['W', 'kW', 'MW'] } },
  { optional: true, nullable: true },
);

/** An {amount, unit} pair as the platform sent it (amount an exact decimal string), or null when absent. */
const power = (amount: string | null, unit: string | null) => (amount === null ? null : { amount, unit });

/** Dispatch history: the commands ingested over MQTT or Kafka, read from the dispatches table. */
export async function dispatchRoutes(app: FastifyInstance, { warehouse }: { warehouse: Warehouse }) {
  app.get<{
    Querystring: { asset_ids: string | string[]; from: string; to: string; limit?: number; offset?: number };
  }>(
    '/v1/dispatches',
    {
      schema: {
        summary: 'Paginated history of dispatch commands of some assets',
        description:
          'Commands with from <= dispatch_time < to, ordered by dispatch_time, asset_id and event_id; each command once however often it was delivered.',
        querystring: object(
          {
            asset_ids: {
              description: `Asset ids: repeated (asset_ids=a&asset_ids=b) or comma-separated; 1 to ${MAX_ASSETS}`,
              type: ['string', 'array'],
              minLength: 1,
              maxLength: 100_000,
              minItems: 1,
              maxItems: MAX_ASSETS,
              items: { type: 'string', minLength: 1, maxLength: 256 },
            },
            from: { type: 'string', format: 'date-time', description: 'Start, inclusive (ISO-8601)' },
            to: { type: 'string', format: 'date-time', description: 'End, exclusive (ISO-8601)' },
            ...PAGE_PROPERTIES,
          },
          { optional: ['limit', 'offset'], additional: false },
        ),
        response: {
          200: object(
            {
              dispatches: {
                type: 'array',
                items: object(
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
                    soc_imbalance: POWER,
                    check: {
                      description:
                        "The command checked against the operating envelope of its asset's DT in force at dispatch_time (null until checked): verdict within | exceeds (rejected) | no_envelope | unknown_asset; requested_kw toward the grid (positive export); headroom_kw the envelope's extra export or import for the delivery slot",
                      ...object(
                        {
                          verdict: {
                            type: 'string',
                            enum: ['within', 'exceeds', 'no_envelope', 'unknown_asset'],
                          },
                          dt_id: { type: ['string', 'null'] },
                          requested_kw: { type: 'number' },
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
                ),
              },
              limit: { type: 'integer' },
              offset: { type: 'integer' },
            },
            { optional: true },
          ),
        },
      },
    },
    async (request) => {
      const { from, to, limit = 50, offset = 0 } = request.query;
      const raw = request.query.asset_ids;
      const assetIds = (Array.isArray(raw) ? raw : raw.split(','))
        .map((id) => id.trim())
        .filter((id) => id !== '');
      if (assetIds.length === 0) throw badRequest('asset_ids', 'must name at least one asset');
      if (assetIds.length > MAX_ASSETS) throw badRequest('asset_ids', `at most ${MAX_ASSETS} assets`);
      const fromMs = Date.parse(from);
      const toMs = Date.parse(to);
      if (fromMs >= toMs) throw badRequest('from', 'must be before to');
      await requireAssets(warehouse, tenantOf(request), assetIds);
      const rows = await runQuery(warehouse, queries.dispatches_for_assets, {
        asset_ids: assetIds,
        from_ms: fromMs,
        to_ms: toMs,
        limit,
        offset,
      });
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
      return {
        dispatches: rows.map((r) => ({
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
          check: checkOf(r.event_id),
        })),
        limit,
        offset,
      };
    },
  );
}
