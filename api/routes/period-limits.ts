import type { FastifyPluginAsync } from 'fastify';
import { DAY_MS, SLOT_MS, iso } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { runQuery } from '../../io/warehouse/query.js';
import { queries } from '../../io/warehouse/queries.gen.js';
import {
  ENERGY_UNITS,
  LIMIT_SOURCES,
  POWER_UNITS,
  SET_SOURCES,
  clearConstraints,
  expandWindow,
  holdsNothing,
  limitKw,
  limitKwh,
  mergeLimits,
  type LimitField,
  type LimitValues,
  type SetSource,
} from '../../processors/flexibility/period-limits.js';
import { currentPeriodLimits, limitValuesOf } from '../../serving/period-limits.js';
import { ASSET_IDS_PROPERTY, assetIdsOf } from '../asset-ids.js';
import { ApiError, badRequest } from '../errors.js';
import { object } from '../openapi.js';
import {
  PAGE_ANSWER_OPTIONAL,
  PAGE_ANSWER_PROPERTIES,
  pageAnswer,
  pageOf,
  pageRows,
  pagingProperties,
  type PagingInput,
} from '../page.js';
import { requireAssets, tenantOf } from '../tenancy.js';

export interface PeriodLimitOptions {
  warehouse: Warehouse;
}

/** Entries of one PATCH. */
const MAX_ENTRIES = 1000;
/** 15-minute periods one PATCH may set, all entries together (a year of one asset is 35,040). */
const MAX_PERIODS = 50_000;
/** Longest [from, to) of a GET. */
const MAX_RANGE_DAYS = 7;
/** Assets times days of range of a GET: every period of them is held while the answer is paged. */
const MAX_ASSET_DAYS = 1000;
const PAGE_DEFAULT = 50;

const AMOUNT = {
  description: 'Decimal amount (a number, or a string holding one)',
  type: ['number', 'string'],
  pattern: '^-?[0-9]+(\\.[0-9]+)?$',
} as const;
/** The last instant the engines' time types (and so the period tables) hold. */
const LAST_MS = Date.parse('2105-12-31T23:59:59.999Z');

/** A request's time as epoch ms; 400 on `field` outside 1970-01-01 … 2105-12-31, what the warehouse holds. */
function instantOf(field: string, text: string): number {
  const ms = Date.parse(text);
  if (!(ms >= 0 && ms <= LAST_MS))
    throw badRequest(field, `${JSON.stringify(text)} is not a time from 1970-01-01 to 2105-12-31`);
  return ms;
}

const quantityIn = (units: readonly string[]) =>
  object({ amount: AMOUNT, unit: { type: 'string', enum: units } }, { nullable: true });
const quantityOut = (unit: 'kW' | 'kWh') =>
  object({ amount: { type: 'string' }, unit: { type: 'string', enum: [unit] } }, { nullable: true });

const SOURCE_OUT = { type: 'string', enum: [...LIMIT_SOURCES] } as const;
const BINDING = { ...SOURCE_OUT, type: ['string', 'null'], enum: [...LIMIT_SOURCES, null] } as const;
const LIMIT_PROPERTIES_OUT = {
  power_charge: quantityOut('kW'),
  power_discharge: quantityOut('kW'),
  energy_low: quantityOut('kWh'),
  energy_high: quantityOut('kWh'),
  trading_locked: { type: ['boolean', 'null'] },
} as const;

interface Quantity {
  amount: number | string;
  unit: string;
}
interface LimitEntry {
  asset_id: string;
  source: SetSource;
  start_time: string;
  end_time: string;
  recurrent?: boolean;
  valid_from?: string | null;
  valid_until?: string | null;
  power_charge?: Quantity | null;
  power_discharge?: Quantity | null;
  energy_low?: Quantity | null;
  energy_high?: Quantity | null;
  trading_locked?: boolean | null;
}

/** A stored row as the merge sees it. */
interface Stored {
  values: LimitValues;
  endMs: number;
  createdMs: number;
  updatedMs: number;
}

const keyOf = (asset: string, startMs: number, source: string) => `${asset}\u0000${startMs}\u0000${source}`;

/** A kW or kWh value as the answer gives it: an exact-looking decimal string (to the milliwatt), or null. */
const quantity = (value: number | null, unit: 'kW' | 'kWh') =>
  value === null ? null : { amount: String(Number(value.toFixed(6)) || 0), unit };

const limitsOut = (v: LimitValues) => ({
  power_charge: quantity(v.powerChargeKw, 'kW'),
  power_discharge: quantity(v.powerDischargeKw, 'kW'),
  energy_low: quantity(v.energyLowKwh, 'kWh'),
  energy_high: quantity(v.energyHighKwh, 'kWh'),
  trading_locked: v.tradingLocked,
});

const BINDING_NAMES: Record<LimitField, string> = {
  powerChargeKw: 'power_charge',
  powerDischargeKw: 'power_discharge',
  energyLowKwh: 'energy_low',
  energyHighKwh: 'energy_high',
  tradingLocked: 'trading_locked',
};

/** The period limits of assets: set per source, cleared per source and range, read with the computed limits. */
export const periodLimitRoutes: FastifyPluginAsync<PeriodLimitOptions> = async (app, { warehouse }) => {
  // Versions of the ReplacingMergeTree rows: epoch microseconds, strictly increasing in this process, so that a
  // change made in the same millisecond as the one before still replaces it.
  let lastVersion = 0;
  const nextVersion = (nowMs: number) => (lastVersion = Math.max(nowMs * 1000, lastVersion + 1));

  const insert = async (
    rows: Array<{ asset: string; source: string; startMs: number; stored: Stored; removed: boolean }>,
  ) => {
    if (rows.length === 0) return;
    const version = nextVersion(Date.now());
    await warehouse.insert(
      'period_limits',
      rows.map(({ asset, source, startMs, stored, removed }) => ({
        asset_id: asset,
        source,
        start_ms: startMs,
        end_ms: stored.endMs,
        power_charge_kw: stored.values.powerChargeKw,
        power_discharge_kw: stored.values.powerDischargeKw,
        energy_low_kwh: stored.values.energyLowKwh,
        energy_high_kwh: stored.values.energyHighKwh,
        trading_locked: stored.values.tradingLocked === null ? null : stored.values.tradingLocked ? 1 : 0,
        created_ms: stored.createdMs,
        updated_ms: stored.updatedMs,
        version,
        removed: removed ? 1 : 0,
      })),
    );
  };

  const storedOf = async (assets: string[], fromMs: number, toMs: number) =>
    new Map(
      (
        await runQuery(warehouse, queries.period_limits_of_range, {
          asset_ids: assets,
          from_ms: fromMs,
          to_ms: toMs,
        })
      ).map((r) => [
        keyOf(r.asset_id, r.start_ms, r.source),
        {
          values: limitValuesOf(r),
          endMs: r.end_ms,
          createdMs: r.created_ms,
          updatedMs: r.updated_ms,
        } as Stored,
      ]),
    );

  app.patch<{ Body: { limits: LimitEntry[] } }>(
    '/v1/assets/period-limits',
    {
      schema: {
        summary: 'Set period limits of some assets: a partial upsert of 15-minute periods per source',
        description:
          "Each entry names an asset, a source and a window: once, [start_time, end_time); or, with recurrent true or a date range, the UTC time of day of start_time to that of end_time (past midnight when it ends earlier; the whole day when equal) on every day from valid_from (default: start_time's day) to valid_until (default: end_time's day), inclusive. Times are UTC quarter hours. Each 15-minute period is upserted per (asset_id, start_time, source): a limit given replaces the stored one, a limit null or absent keeps it (trading_locked false unlocks; DELETE clears limits). Powers in W, kW or MW, power_charge (import) <= 0 and power_discharge (export) >= 0; energies in Wh, kWh or MWh (a power unit is read as its hourly energy). 404 when the topology places no such asset.",
        body: object(
          {
            limits: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_ENTRIES,
              items: object(
                {
                  asset_id: { type: 'string', minLength: 1, maxLength: 256 },
                  start_time: { type: 'string', format: 'date-time' },
                  end_time: { type: 'string', format: 'date-time' },
                  recurrent: { type: 'boolean' },
                  valid_from: { type: ['string', 'null'], format: 'date' },
                  valid_until: { type: ['string', 'null'], format: 'date' },
                  source: { type: 'string', enum: [...SET_SOURCES] },
                  power_charge: quantityIn(POWER_UNITS),
                  power_discharge: quantityIn(POWER_UNITS),
                  energy_low: quantityIn(ENERGY_UNITS),
                  energy_high: quantityIn(ENERGY_UNITS),
                  trading_locked: { type: ['boolean', 'null'] },
                },
                {
                  optional: [
                    'recurrent',
                    'valid_from',
                    'valid_until',
                    'power_charge',
                    'power_discharge',
                    'energy_low',
                    'energy_high',
                    'trading_locked',
                  ],
                  additional: false,
                },
              ),
            },
          },
          { additional: false },
        ),
        response: {
          200: object({
            periods: { type: 'integer', description: '15-minute period rows upserted' },
          }),
        },
      },
    },
    async (request) => {
      const { limits } = request.body;
      const now = Date.now();
      // Each entry's periods and values, checked before anything is read or written.
      let budget = MAX_PERIODS;
      const expanded = limits.map((entry, i) => {
        const at = `limits[${i}]`;
        const dateMs = (field: 'valid_from' | 'valid_until') => {
          const value = entry[field];
          return value === undefined || value === null
            ? null
            : instantOf(`${at}.${field}`, `${value}T00:00:00Z`);
        };
        const window = expandWindow(
          {
            startMs: instantOf(`${at}.start_time`, entry.start_time),
            endMs: instantOf(`${at}.end_time`, entry.end_time),
            recurrent: entry.recurrent ?? false,
            validFromMs: dateMs('valid_from'),
            validUntilMs: dateMs('valid_until'),
          },
          budget,
        );
        if ('field' in window)
          throw badRequest(window.field === 'limits' ? 'limits' : `${at}.${window.field}`, window.problem);
        budget -= window.starts.length;
        const kw = (q: Quantity | null | undefined) => (q ? limitKw(q.amount, q.unit as 'kW') : null);
        const kwh = (q: Quantity | null | undefined) => (q ? limitKwh(q.amount, q.unit as 'kWh') : null);
        const values: LimitValues = {
          powerChargeKw: kw(entry.power_charge),
          powerDischargeKw: kw(entry.power_discharge),
          energyLowKwh: kwh(entry.energy_low),
          energyHighKwh: kwh(entry.energy_high),
          tradingLocked: entry.trading_locked ?? null,
        };
        if (values.powerChargeKw !== null && values.powerChargeKw > 0)
          throw badRequest(
            `${at}.power_charge`,
            'must be 0 or negative: an import limit (power toward the grid is positive)',
          );
        if (values.powerDischargeKw !== null && values.powerDischargeKw < 0)
          throw badRequest(`${at}.power_discharge`, 'must be 0 or positive: an export limit');
        if (
          values.energyLowKwh !== null &&
          values.energyHighKwh !== null &&
          values.energyLowKwh > values.energyHighKwh
        )
          throw badRequest(`${at}.energy_low`, 'must not be above energy_high');
        return { entry, starts: window.starts, values };
      });
      const assets = [...new Set(limits.map((l) => l.asset_id))];
      const placed = new Set(
        (await runQuery(warehouse, queries.asset_dts, { asset_ids: assets })).map((r) => r.asset_id),
      );
      const unknown = assets.find((a) => !placed.has(a));
      if (unknown !== undefined) throw new ApiError(404, 'not_found', `no asset ${JSON.stringify(unknown)}`);
      await requireAssets(warehouse, tenantOf(request), assets);
      const all = expanded.flatMap((e) => e.starts);
      const stored = await storedOf(assets, Math.min(...all), Math.max(...all) + SLOT_MS);
      // Entries apply in order: a later entry of the same request merges into what an earlier one set.
      const changed = new Map<string, { asset: string; source: string; startMs: number; stored: Stored }>();
      for (const { entry, starts, values } of expanded)
        for (const startMs of starts) {
          const key = keyOf(entry.asset_id, startMs, entry.source);
          const before = stored.get(key);
          const after: Stored = {
            values: mergeLimits(before?.values, values),
            endMs: startMs + SLOT_MS,
            createdMs: before?.createdMs ?? now,
            updatedMs: now,
          };
          stored.set(key, after);
          changed.set(key, { asset: entry.asset_id, source: entry.source, startMs, stored: after });
        }
      await insert([...changed.values()].map((c) => ({ ...c, removed: holdsNothing(c.stored.values) })));
      return { periods: changed.size };
    },
  );

  app.delete<{ Querystring: { asset_id: string; start_time: string; end_time: string; source: SetSource } }>(
    '/v1/assets/period-limits',
    {
      schema: {
        summary: "Clear one source's limits of an asset in a time range",
        description:
          'For each period of the asset and source with start_time in [start_time, end_time): power_charge, power_discharge, energy_low and energy_high become null; trading_locked is kept (PATCH trading_locked false to unlock). A period left with no limit and no lock is removed.',
        querystring: object(
          {
            asset_id: { type: 'string', minLength: 1, maxLength: 256 },
            start_time: { type: 'string', format: 'date-time', description: 'Start, inclusive' },
            end_time: { type: 'string', format: 'date-time', description: 'End, exclusive' },
            source: { type: 'string', enum: [...SET_SOURCES] },
          },
          { additional: false },
        ),
        response: {
          200: object({
            cleared: {
              type: 'integer',
              description: 'Periods whose limits were cleared and that keep a lock',
            },
            removed: { type: 'integer', description: 'Periods removed' },
          }),
        },
      },
    },
    async (request) => {
      const { asset_id, source } = request.query;
      const fromMs = instantOf('start_time', request.query.start_time);
      const toMs = instantOf('end_time', request.query.end_time);
      if (toMs <= fromMs) throw badRequest('end_time', 'must be after start_time');
      await requireAssets(warehouse, tenantOf(request), [asset_id]);
      const now = Date.now();
      const rows = [...(await storedOf([asset_id], fromMs, toMs)).entries()]
        .filter(([key]) => key.endsWith(`\u0000${source}`))
        .map(([key, s]) => {
          const startMs = Number(key.split('\u0000')[1]);
          const values = clearConstraints(s.values);
          return {
            asset: asset_id,
            source,
            startMs,
            stored: { ...s, values, updatedMs: now },
            removed: holdsNothing(values),
          };
        });
      await insert(rows);
      const removed = rows.filter((r) => r.removed).length;
      return { cleared: rows.length - removed, removed };
    },
  );

  app.get<{
    Querystring: {
      asset_ids: string | string[];
      from: string;
      to: string;
      sources?: string | string[];
    } & PagingInput;
  }>(
    '/v1/assets/period-limits',
    {
      schema: {
        summary: 'Period limits of some assets, per source and computed',
        description: `Every 15-minute period with start_time in [from, to) (at most ${MAX_RANGE_DAYS} days, and assets × days at most ${MAX_ASSET_DAYS}) that some source limits, by asset_id and start_time: each source's limits, and the computed limits, the most restrictive across all sources (power_charge the highest, as import limits are negative; power_discharge the lowest; energy_low the highest; energy_high the lowest; trading_locked when any source locks), with the source that binds each (the first in the order REPORTED, OPERATIONS, CUSTOMER, PV, AVAILABILITY, NETWORK on a tie). NETWORK is computed at read time: the asset's share of the export and import headroom of its DT's newest operating-envelope issue, shared among the DT's assets pro rata to nominal power (equally when one of them has none); it follows every new issue. Powers in kW, energies in kWh. sources filters the per-source list; the computed limits always take every source.`,
        querystring: object(
          {
            asset_ids: ASSET_IDS_PROPERTY,
            from: { type: 'string', format: 'date-time', description: 'Start, inclusive' },
            to: { type: 'string', format: 'date-time', description: 'End, exclusive' },
            sources: {
              description: 'Sources to list: repeated or comma-separated (default: all)',
              type: ['string', 'array'],
              maxLength: 200,
              maxItems: LIMIT_SOURCES.length,
              items: { type: 'string', enum: [...LIMIT_SOURCES] },
            },
            ...pagingProperties(PAGE_DEFAULT),
          },
          { optional: ['sources', 'limit', 'offset', 'page', 'pageSize'], additional: false },
        ),
        response: {
          200: object(
            {
              limits: {
                type: 'array',
                items: object({
                  asset_id: { type: 'string' },
                  start_time: { type: 'string' },
                  end_time: { type: 'string' },
                  delivery_day: { type: 'string' },
                  computed_limits: object({
                    ...LIMIT_PROPERTIES_OUT,
                    binding: {
                      description:
                        'Per field, the source whose value the computed limit is (null: no source sets it)',
                      ...object({
                        power_charge: BINDING,
                        power_discharge: BINDING,
                        energy_low: BINDING,
                        energy_high: BINDING,
                        trading_locked: BINDING,
                      }),
                    },
                  }),
                  sources: {
                    type: 'array',
                    items: object(
                      {
                        source: SOURCE_OUT,
                        ...LIMIT_PROPERTIES_OUT,
                        created_at: { type: 'string' },
                        updated_at: { type: 'string' },
                        network: {
                          description:
                            "NETWORK only: the DT, the asset's share of its headroom, how it was shared, and the envelope issue",
                          ...object(
                            {
                              dt_id: { type: 'string' },
                              share: { type: 'number' },
                              basis: { type: 'string', enum: ['nominal_kw', 'equal'] },
                              envelope_issued_at: { type: 'string' },
                            },
                            { nullable: true },
                          ),
                        },
                      },
                      { optional: ['network'] },
                    ),
                  },
                }),
              },
              ...PAGE_ANSWER_PROPERTIES,
            },
            { optional: PAGE_ANSWER_OPTIONAL },
          ),
        },
      },
    },
    async (request) => {
      const assets = [...new Set(assetIdsOf(request.query.asset_ids))];
      const fromMs = instantOf('from', request.query.from);
      const toMs = instantOf('to', request.query.to);
      if (toMs <= fromMs) throw badRequest('to', 'must be after from');
      if (toMs - fromMs > MAX_RANGE_DAYS * DAY_MS)
        throw badRequest('to', `at most ${MAX_RANGE_DAYS} days after from`);
      const days = Math.ceil((toMs - fromMs) / DAY_MS);
      if (assets.length * days > MAX_ASSET_DAYS)
        throw badRequest(
          'asset_ids',
          `${assets.length} assets over ${days} days: at most ${MAX_ASSET_DAYS} asset-days in one request (fewer assets or a shorter range)`,
        );
      const rawSources = request.query.sources;
      const listed = new Set(
        rawSources === undefined
          ? LIMIT_SOURCES
          : (Array.isArray(rawSources) ? rawSources : rawSources.split(',')).map((s) => s.trim()),
      );
      for (const s of listed)
        if (!(LIMIT_SOURCES as readonly string[]).includes(s))
          throw badRequest('sources', `${JSON.stringify(s)} is not one of ${LIMIT_SOURCES.join(', ')}`);
      const page = pageOf(request.query, PAGE_DEFAULT);
      await requireAssets(warehouse, tenantOf(request), assets);

      const { periods } = await currentPeriodLimits(warehouse, assets, fromMs, toMs);
      const answered = periods.filter((p) => p.sources.some((s) => listed.has(s.source)));
      const { rows, total } = pageRows(answered, page);
      return {
        limits: rows.map((p) => ({
          asset_id: p.assetId,
          start_time: iso(p.startMs),
          end_time: iso(p.endMs),
          delivery_day: iso(p.startMs).slice(0, 10),
          computed_limits: {
            ...limitsOut(p.computed.values),
            binding: Object.fromEntries(
              Object.entries(p.computed.binding).map(([f, s]) => [BINDING_NAMES[f as LimitField], s]),
            ),
          },
          sources: p.sources
            .filter((s) => listed.has(s.source))
            .map((s) => ({
              source: s.source,
              ...limitsOut(s.values),
              created_at: iso(s.createdMs),
              updated_at: iso(s.updatedMs),
              ...(s.network
                ? {
                    network: {
                      dt_id: s.network.dtId,
                      share: s.network.share,
                      basis: s.network.basis,
                      envelope_issued_at: iso(s.network.envelopeIssuedAt),
                    },
                  }
                : {}),
            })),
        })),
        ...pageAnswer(page, total),
      };
    },
  );
};
