import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { DAY_MS, SLOT_MS, iso } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { runPage, runQuery } from '../../io/warehouse/query.js';
import { queries, type FlexEventStepsRow } from '../../io/warehouse/queries.gen.js';
import {
  METHODOLOGY_NAMES,
  baselineMethod,
  type BaselineMethod,
  type MethodOverrides,
  type MethodologyName,
} from '../../processors/flexibility/baseline.js';
import { flexCommand } from '../../processors/flexibility/event-lifecycle.js';
import type { FlexEventCommand } from '../../schemas/types.gen.js';
import { MAX_ASSETS } from '../asset-ids.js';
import { ApiError, badRequest } from '../errors.js';
import { NUMBER_OR_NULL, errorResponse, object } from '../openapi.js';
import {
  PAGE_ANSWER_OPTIONAL,
  PAGE_ANSWER_PROPERTIES,
  pageAnswer,
  pageOf,
  pagingProperties,
  type PagingInput,
} from '../page.js';
import { requireAssets, tenantOf } from '../tenancy.js';

export interface EventOptions {
  warehouse: Warehouse;
  /** Puts a command on gridstream.events, keyed by its event id; resolves once the log holds it. */
  sendCommand: (command: FlexEventCommand) => Promise<void>;
  /** How long POST /v1/events waits for the events task's SCHEDULED step before answering 202 (default 5 s). */
  scheduleWaitMs?: number;
  /** How often it looks for it meanwhile (default 100 ms). */
  schedulePollMs?: number;
}

const PAGE_DEFAULT = 50;
/** Longest event: 96 periods. */
const MAX_EVENT_MS = DAY_MS;
/** The last instant the warehouse's time columns hold, as elsewhere in the API. */
const LAST_MS = Date.parse('2105-12-31T23:59:59.999Z');

export const EVENT_STATUSES = [
  'SCHEDULED',
  'STARTED',
  'ENDED',
  'CANCELLED',
  'STATS_CALCULATION_STARTED',
  'STATS_READY',
] as const;
const STEP_TYPES = [
  'SCHEDULED',
  'BASELINES_READY',
  'STARTED',
  'ENDED',
  'CANCELLED',
  'STATS_CALCULATION_STARTED',
  'STATS_READY',
] as const;
/** Statuses an event can no longer be cancelled in: it is over. */
const FINISHED = new Set(['ENDED', 'CANCELLED', 'STATS_CALCULATION_STARTED', 'STATS_READY']);
const POWER_UNITS = ['W', 'kW', 'MW'] as const;
const ENERGY_UNITS = ['Wh', 'kWh', 'MWh'] as const;
const ISSUES = ['day-ahead', 'adjusted'] as const;
/** A positive decimal: what a FlexAmount's amount holds. */
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;

const LIKE_DAYS = object(
  { x: { type: 'integer', minimum: 1 }, y: { type: 'integer', minimum: 1 } },
  { optional: true, additional: false },
);
/** The request's baseline: a methodology's name and the parameters baselineMethod() lets an event change. */
const BASELINE_IN = object(
  {
    methodology: { type: 'string', enum: [...METHODOLOGY_NAMES] },
    weekday: LIKE_DAYS,
    weekendHoliday: LIKE_DAYS,
    lookbackDays: { type: 'integer' },
    lowUsageShare: { type: ['number', 'null'] },
    holidays: { type: 'string', enum: ['like-weekend', 'excluded'] },
    adjustment: object(
      {
        type: { type: 'string', enum: ['additive', 'multiplicative'] },
        windowStartMinutes: { type: 'integer' },
        windowEndMinutes: { type: 'integer' },
        cap: { type: ['number', 'null'] },
      },
      { optional: true, additional: false, nullable: true },
    ),
  },
  {
    optional: ['weekday', 'weekendHoliday', 'lookbackDays', 'lowUsageShare', 'holidays', 'adjustment'],
    additional: false,
  },
);

const QUANTITY_OUT = (unit: 'kW' | 'kWh') =>
  object({ amount: { type: 'string' }, unit: { type: 'string', enum: [unit] } }, { nullable: true });
const STRING_OR_NULL = { type: ['string', 'null'] } as const;
/** What a baseline row and a stats row begin with: the asset, its meter, the period and its baseline. */
const ASSET_PERIOD_OUT = {
  asset_id: { type: 'string' },
  meter_id: STRING_OR_NULL,
  period_start: { type: 'string' },
  baseline: QUANTITY_OUT('kW'),
} as const;

const EVENT_OUT = object({
  id: { type: 'string' },
  status: {
    type: 'string',
    enum: [...EVENT_STATUSES, 'SCHEDULING'],
    description: 'SCHEDULING: asked for, not yet taken up by the events task',
  },
  source: { type: 'string', description: 'api or dispatch' },
  asset_ids: { type: 'array', items: { type: 'string' } },
  direction: { type: 'string', enum: ['turn-down', 'turn-up'] },
  start: { type: 'string' },
  end: { type: 'string' },
  target: object(
    { amount: { type: 'string' }, unit: { type: 'string', enum: [...POWER_UNITS, ...ENERGY_UNITS] } },
    { nullable: true },
  ),
  methodology: {
    description: 'The baseline methodology, resolved (name and every parameter); null: the default one',
    type: ['object', 'null'],
    additionalProperties: true,
  },
  baseline_issue: { type: ['string', 'null'], enum: [...ISSUES, null] },
  created_at: { type: 'string', description: 'When it was scheduled (the SCHEDULED step), or asked for' },
  steps: {
    type: 'array',
    items: object({
      type: { type: 'string', enum: [...STEP_TYPES] },
      status: { type: 'string' },
      sequence: { type: 'integer' },
      at: { type: 'string' },
    }),
  },
  delivered_kwh: { ...NUMBER_OR_NULL, description: 'Flexibility delivered over the event (stats ready)' },
  target_kwh: { ...NUMBER_OR_NULL, description: 'The target as energy over the event' },
  share_with_data: { ...NUMBER_OR_NULL, description: 'Share of assets with a reading in every period' },
  data_quality: { type: ['string', 'null'], enum: ['ami_direct', 'ami_partial', 'none', null] },
  reason: STRING_OR_NULL,
});

const ID_PARAMS = object({ id: { type: 'string', minLength: 1, maxLength: 256 } }, { additional: false });
const NOT_YOURS = 'an event that is unknown or another tenant’s is a 404';

type Event = ReturnType<typeof eventOf>;

/** A kW or kWh value as {amount, unit}, the amount a decimal string to the milliwatt, or null. */
const quantity = (value: number | null, unit: 'kW' | 'kWh') =>
  value === null ? null : { amount: String(Number(value.toFixed(6)) || 0), unit };

/** An event as its steps (in sequence order) tell it: the newest carries the event as it stands. */
function eventOf(steps: readonly FlexEventStepsRow[]) {
  const now = steps.at(-1)!;
  const scheduled = steps.find((s) => s.step === 'SCHEDULED') ?? steps[0]!;
  return {
    id: now.event_id,
    status: now.status,
    source: now.source,
    asset_ids: now.asset_ids,
    direction: now.direction,
    start: iso(now.start_ms),
    end: iso(now.end_ms),
    target: now.target_amount === null ? null : { amount: now.target_amount, unit: now.target_unit ?? 'kWh' },
    methodology: now.methodology === '' ? null : (JSON.parse(now.methodology) as object),
    baseline_issue: now.baseline_issue,
    created_at: iso(scheduled.at_ms),
    steps: steps.map((s) => ({ type: s.step, status: s.status, sequence: s.sequence, at: iso(s.at_ms) })),
    delivered_kwh: now.delivered_kwh,
    target_kwh: now.target_kwh,
    share_with_data: now.share_with_data,
    data_quality: now.data_quality,
    reason: now.reason,
  };
}

/** The amount of a request's target as the decimal text the command carries; 400 unless it is one above 0. */
function decimalOf(amount: number | string): string {
  const text = typeof amount === 'number' ? String(amount) : amount.trim();
  if (!DECIMAL.test(text)) throw badRequest('target.amount', `${text} is not a decimal number such as 12.5`);
  if (!(Number(text) > 0)) throw badRequest('target.amount', 'must be above 0');
  return text;
}

/** A request's time as epoch ms on a UTC quarter hour; 400 naming `field` otherwise. */
function quarterHourOf(field: string, text: string): number {
  const ms = Date.parse(text);
  if (!(ms >= 0 && ms <= LAST_MS))
    throw badRequest(field, `${JSON.stringify(text)} is not a time from 1970-01-01 to 2105-12-31`);
  if (ms % SLOT_MS !== 0) throw badRequest(field, 'must be on a UTC quarter hour (:00, :15, :30 or :45)');
  return ms;
}

/**
 * The methodology of a request checked by baselineMethod(), as the command's JSON and resolved; 422 naming the
 * parameter baselineMethod() refuses (its message starts with it).
 */
function methodologyOf(baseline: ({ methodology: MethodologyName } & MethodOverrides) | undefined): {
  json: string | null;
  resolved: BaselineMethod | null;
} {
  if (baseline === undefined) return { json: null, resolved: null };
  const { methodology, ...overrides } = baseline;
  try {
    return { json: JSON.stringify(baseline), resolved: baselineMethod(methodology, overrides) };
  } catch (error) {
    const problem = (error as Error).message;
    const named = /^[A-Za-z]+/.exec(problem)?.[0];
    const field =
      named !== undefined && Object.hasOwn(overrides, named) ? `baseline.${named}` : 'baseline.methodology';
    throw new ApiError(422, 'invalid_methodology', `${field}: ${problem}`, [{ field, problem }]);
  }
}

interface EventBody {
  asset_ids: string[];
  direction: 'turn-down' | 'turn-up';
  start: string;
  end: string;
  target: { amount: number | string; unit: string };
  baseline?: { methodology: MethodologyName } & MethodOverrides;
}

/**
 * Flexibility events: scheduled and cancelled by putting a command on gridstream.events (the events task takes
 * them up and writes every lifecycle step to flex_events), read back from the tables the events task writes.
 */
export const eventRoutes: FastifyPluginAsync<EventOptions> = async (app, options) => {
  const { warehouse, sendCommand } = options;
  const waitMs = options.scheduleWaitMs ?? 5000;
  const pollMs = options.schedulePollMs ?? 100;

  /** The events of a tenant among `ids`, by id (absent: unknown, or another tenant's). */
  const eventsOf = async (tenant: string, ids: string[]): Promise<Map<string, Event>> => {
    const steps = await runQuery(warehouse, queries.flex_event_steps, { event_ids: ids, tenant });
    const byId = new Map<string, FlexEventStepsRow[]>();
    for (const s of steps) {
      const list = byId.get(s.event_id) ?? [];
      list.push(s);
      byId.set(s.event_id, list);
    }
    return new Map([...byId].map(([id, list]) => [id, eventOf(list)]));
  };
  const eventOr404 = async (tenant: string, id: string): Promise<Event> => {
    const event = (await eventsOf(tenant, [id])).get(id);
    if (!event) throw new ApiError(404, 'not_found', `no event ${JSON.stringify(id)}`);
    return event;
  };

  app.post<{ Body: EventBody }>(
    '/v1/events',
    {
      schema: {
        summary: 'Schedule a flexibility event',
        description: `Assets (1 to ${MAX_ASSETS}, each placed by the topology on a DT of the key's tenant: 404 for an unknown asset, 403 for another tenant's), a direction (turn-down: consume less or export more; turn-up: consume more), a window [start, end) of UTC quarter hours of at most 24 h, a target (W, kW or MW: mean power over the event; Wh, kWh or MWh: energy) and optionally a baseline methodology (${METHODOLOGY_NAMES.join(', ')}) with parameters changed (422 naming the one refused). The event is put on gridstream.events; 201 with the event once the events task has scheduled it (within about ${waitMs / 1000} s), else 202 with the event as asked for and status SCHEDULING (read it back with GET /v1/events/{id}).`,
        body: object(
          {
            asset_ids: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_ASSETS,
              uniqueItems: true,
              items: { type: 'string', minLength: 1, maxLength: 256 },
            },
            direction: { type: 'string', enum: ['turn-down', 'turn-up'] },
            start: { type: 'string', format: 'date-time', description: 'Start of the first period' },
            end: { type: 'string', format: 'date-time', description: 'End of the last period' },
            target: object(
              {
                amount: {
                  description: 'Decimal amount above 0 (a number, or a string holding one)',
                  type: ['number', 'string'],
                  pattern: DECIMAL.source,
                  exclusiveMinimum: 0,
                  maxLength: 40,
                },
                unit: { type: 'string', enum: [...POWER_UNITS, ...ENERGY_UNITS] },
              },
              { additional: false },
            ),
            baseline: BASELINE_IN,
          },
          { optional: ['baseline'], additional: false },
        ),
        response: {
          201: { description: 'Scheduled', ...EVENT_OUT },
          202: { description: 'On the log, not yet scheduled (status SCHEDULING)', ...EVENT_OUT },
          422: errorResponse('The baseline methodology refuses a parameter (invalid_methodology)'),
        },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const { asset_ids, direction, target } = request.body;
      const startMs = quarterHourOf('start', request.body.start);
      const endMs = quarterHourOf('end', request.body.end);
      if (endMs <= startMs) throw badRequest('end', 'must be after start');
      if (endMs - startMs > MAX_EVENT_MS) throw badRequest('end', 'at most 24 h after start');
      const amount = decimalOf(target.amount);
      const methodology = methodologyOf(request.body.baseline);
      const placed = new Set(
        (await runQuery(warehouse, queries.asset_dts, { asset_ids })).map((r) => r.asset_id),
      );
      const unknown = asset_ids.find((a) => !placed.has(a));
      if (unknown !== undefined) throw new ApiError(404, 'not_found', `no asset ${JSON.stringify(unknown)}`);
      await requireAssets(warehouse, tenant, asset_ids);

      const id = randomUUID();
      const at = Date.now();
      await sendCommand({
        command: 'schedule',
        event_id: id,
        at_ms: at,
        tenant,
        source: 'api',
        asset_ids,
        direction,
        start_ms: startMs,
        end_ms: endMs,
        target: { amount, unit: target.unit },
        baseline: methodology.json,
      });
      // The events task writes the SCHEDULED step before anything else of the event: once it is there, the
      // event reads back as GET answers it.
      const deadline = Date.now() + waitMs;
      for (;;) {
        const event = (await eventsOf(tenant, [id])).get(id);
        if (event) return reply.status(201).send(event);
        if (Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
      return reply.status(202).send({
        id,
        status: 'SCHEDULING',
        source: 'api',
        asset_ids,
        direction,
        start: iso(startMs),
        end: iso(endMs),
        target: { amount, unit: target.unit },
        methodology: methodology.resolved,
        baseline_issue: null,
        created_at: iso(at),
        steps: [],
        delivered_kwh: null,
        target_kwh: null,
        share_with_data: null,
        data_quality: null,
        reason: null,
      } satisfies Event);
    },
  );

  app.get<{ Querystring: { status?: string; from?: string; to?: string } & PagingInput }>(
    '/v1/events',
    {
      schema: {
        summary: "The key's tenant's flexibility events, newest start first, paginated",
        description:
          'Each event as GET /v1/events/{id} answers it; status filters on the current status, from and to on the start ([from, to)). Paged by limit and offset or by page and pageSize (default 50). Events still SCHEDULING are not listed.',
        querystring: object(
          {
            status: { type: 'string', enum: [...EVENT_STATUSES] },
            from: { type: 'string', format: 'date-time', description: 'Start at or after, inclusive' },
            to: { type: 'string', format: 'date-time', description: 'Start before, exclusive' },
            ...pagingProperties(PAGE_DEFAULT),
          },
          { optional: ['status', 'from', 'to', 'limit', 'offset', 'page', 'pageSize'], additional: false },
        ),
        response: {
          200: object(
            { events: { type: 'array', items: EVENT_OUT }, ...PAGE_ANSWER_PROPERTIES },
            { optional: PAGE_ANSWER_OPTIONAL },
          ),
        },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const page = pageOf(request.query, PAGE_DEFAULT);
      const fromMs = request.query.from === undefined ? 0 : Date.parse(request.query.from);
      const toMs = request.query.to === undefined ? LAST_MS : Date.parse(request.query.to);
      if (!(fromMs >= 0)) throw badRequest('from', 'must be after 1970-01-01');
      if (!(toMs > fromMs)) throw badRequest('to', 'must be after from');
      const { rows, total } = await runPage(warehouse, queries.flex_events_of_tenant, {
        tenant,
        status: request.query.status ?? '',
        from_ms: fromMs,
        to_ms: Math.min(toMs, LAST_MS),
        limit: page.limit,
        offset: page.offset,
      });
      const ids = rows.map((r) => r.event_id);
      const events = ids.length === 0 ? new Map<string, Event>() : await eventsOf(tenant, ids);
      return {
        events: ids.flatMap((id) => events.get(id) ?? []),
        ...pageAnswer(page, total),
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/events/:id',
    {
      schema: {
        summary: 'A flexibility event with every lifecycle step so far',
        description: `The event as it stands (its newest step) and its steps by sequence; ${NOT_YOURS}.`,
        params: ID_PARAMS,
        response: { 200: EVENT_OUT },
      },
    },
    async (request) => eventOr404(tenantOf(request), request.params.id),
  );

  app.post<{ Params: { id: string } }>(
    '/v1/events/:id/cancel',
    {
      schema: {
        summary: 'Cancel a flexibility event that has not ended',
        description: `Puts a cancel command on gridstream.events; 202 with the event as it stands (the events task then adds its CANCELLED step). 409 when the event has ended or is cancelled already; ${NOT_YOURS}.`,
        params: ID_PARAMS,
        response: {
          202: { description: 'The cancel is on the log', ...EVENT_OUT },
          409: errorResponse('The event has ended or is cancelled already (not_cancellable)'),
        },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const event = await eventOr404(tenant, request.params.id);
      if (FINISHED.has(event.status))
        throw new ApiError(
          409,
          'not_cancellable',
          `event ${event.id} is ${event.status}: it cannot be cancelled`,
        );
      await sendCommand(flexCommand('cancel', Date.now(), { event_id: event.id, tenant, source: 'api' }));
      return reply.status(202).send(event);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { issue?: (typeof ISSUES)[number] } & PagingInput }>(
    '/v1/events/:id/baselines',
    {
      schema: {
        summary: "A flexibility event's baselines, by asset and period, paginated",
        description: `The baselines of the event's newest issue (its baseline_issue), or of the issue asked for: day-ahead (issued before the event) or adjusted (with the in-day adjustment, once its window has passed). Per asset and 15-minute period the baseline (mean kW, import positive, adjusted where the issue is), the like-day mean before adjustment, when it was issued, the methodology, the days averaged and, without a baseline, why. Ordered by asset and period; paged (default ${PAGE_DEFAULT}). Empty before any issue; ${NOT_YOURS}.`,
        params: ID_PARAMS,
        querystring: object(
          { issue: { type: 'string', enum: [...ISSUES] }, ...pagingProperties(PAGE_DEFAULT) },
          { optional: true, additional: false },
        ),
        response: {
          200: object(
            {
              event_id: { type: 'string' },
              issue: { type: ['string', 'null'], enum: [...ISSUES, null] },
              baselines: {
                type: 'array',
                items: object({
                  ...ASSET_PERIOD_OUT,
                  unadjusted: QUANTITY_OUT('kW'),
                  issued_at: { type: 'string' },
                  methodology: { type: 'string' },
                  days_used: { type: 'array', items: { type: 'string' } },
                  reason: STRING_OR_NULL,
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
      const page = pageOf(request.query, PAGE_DEFAULT);
      const event = await eventOr404(tenantOf(request), request.params.id);
      const issue = request.query.issue ?? event.baseline_issue;
      const { rows, total } =
        issue === null
          ? { rows: [], total: 0 }
          : await runPage(warehouse, queries.flex_event_baselines_page, {
              event_id: event.id,
              issue,
              limit: page.limit,
              offset: page.offset,
            });
      return {
        event_id: event.id,
        issue,
        baselines: rows.map((r) => ({
          asset_id: r.asset_id,
          meter_id: r.meter_id,
          period_start: iso(r.period_start_ms),
          baseline: quantity(r.baseline_kw, 'kW'),
          unadjusted: quantity(r.unadjusted_kw, 'kW'),
          issued_at: iso(r.issued_at_ms),
          methodology: r.methodology,
          days_used: r.days_used,
          reason: r.reason,
        })),
        ...pageAnswer(page, total),
      };
    },
  );

  app.get<{ Params: { id: string }; Querystring: PagingInput }>(
    '/v1/events/:id/stats',
    {
      schema: {
        summary:
          "A flexibility event's delivered flexibility: its summary and, paginated, per asset and period",
        description: `Once the events task has computed them (STATS_READY; before, the summary's figures are null and the list is empty): delivered_kwh over the event (baseline − metered for a turn-down, metered − baseline for a turn-up, summed over asset-periods with both), target_kwh, delivery_ratio (delivered over target), the share of assets with a reading in every period and the data-quality tier; and per asset and 15-minute period the baseline, metered and delivered mean power, the delivered energy, the readings and the tier (ami_direct: baseline and a reading; none: either missing). Ordered by asset and period; paged (default ${PAGE_DEFAULT}); ${NOT_YOURS}.`,
        params: ID_PARAMS,
        querystring: object(pagingProperties(PAGE_DEFAULT), { optional: true, additional: false }),
        response: {
          200: object(
            {
              event_id: { type: 'string' },
              status: EVENT_OUT.properties.status,
              delivered_kwh: NUMBER_OR_NULL,
              target_kwh: NUMBER_OR_NULL,
              delivery_ratio: { ...NUMBER_OR_NULL, description: 'delivered_kwh / target_kwh' },
              share_with_data: NUMBER_OR_NULL,
              data_quality: EVENT_OUT.properties.data_quality,
              stats: {
                type: 'array',
                items: object({
                  ...ASSET_PERIOD_OUT,
                  metered: QUANTITY_OUT('kW'),
                  delivered: QUANTITY_OUT('kW'),
                  delivered_energy: QUANTITY_OUT('kWh'),
                  readings: { type: 'integer' },
                  data_quality: { type: 'string', enum: ['ami_direct', 'none'] },
                  computed_at: { type: 'string' },
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
      const page = pageOf(request.query, PAGE_DEFAULT);
      const event = await eventOr404(tenantOf(request), request.params.id);
      const { rows, total } = await runPage(warehouse, queries.flex_event_stats_page, {
        event_id: event.id,
        limit: page.limit,
        offset: page.offset,
      });
      const { delivered_kwh: delivered, target_kwh: target } = event;
      return {
        event_id: event.id,
        status: event.status,
        delivered_kwh: delivered,
        target_kwh: target,
        delivery_ratio: delivered !== null && target !== null && target > 0 ? delivered / target : null,
        share_with_data: event.share_with_data,
        data_quality: event.data_quality,
        stats: rows.map((r) => ({
          asset_id: r.asset_id,
          meter_id: r.meter_id,
          period_start: iso(r.period_start_ms),
          baseline: quantity(r.baseline_kw, 'kW'),
          metered: quantity(r.metered_kw, 'kW'),
          delivered: quantity(r.delivered_kw, 'kW'),
          delivered_energy: quantity(r.delivered_kwh, 'kWh'),
          readings: r.readings,
          data_quality: r.data_quality,
          computed_at: iso(r.computed_at_ms),
        })),
        ...pageAnswer(page, total),
      };
    },
  );
};
