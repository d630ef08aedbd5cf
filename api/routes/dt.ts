import type { FastifyInstance } from 'fastify';
import { deflateSegment, gzipOf, inflateSegments } from '../../core/gzip-segments.js';
import { transformerTimeZone } from '../../core/schedule.js';
import { iso } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { dataQualityTier, requireDataQuality } from '../data-quality.js';
import { DT_SERIES_HEAD, dtSeriesRangeOf, dtSeriesSchema, type DtSeriesRequest } from '../dt-series.js';
import { envelopeOfRow } from '../../io/warehouse/records.js';
import { profileHead, profileSlot } from '../../serving/load-profile-slot.js';
import {
  LoadProfileDays,
  type LoadProfileDayRow,
  type StoredProfile,
} from '../../serving/load-profile-days.js';
import type { PieceCache } from '../../serving/piece-cache.js';
import type { DtOf } from '../../core/topology.js';
import { DAY_MS } from '../../core/time.js';
import { round } from '../time-range.js';
import { notFound, requireDt, tenantOf } from '../tenancy.js';
import { BELOW_MINIMUM, DATE_TIME, DATE_TIME_OR_NULL, NUMBER_OR_NULL, object, TIER } from '../openapi.js';
import { runPage, runQuery } from '../../io/warehouse/query.js';
import {
  MAX_PAGE_SIZE,
  PAGE_ANSWER_OPTIONAL,
  PAGE_ANSWER_PROPERTIES,
  pageAnswer,
  pageOf,
  pagingProperties,
  type PagingInput,
} from '../page.js';
import { queries, type ListDtsRow } from '../../io/warehouse/queries.gen.js';

/** Transformers a page holds unless the request says otherwise: the most a page may hold. */
const DT_PAGE_DEFAULT = MAX_PAGE_SIZE;

/** A transformer of GET /v1/dt (and of GET /v1/fleet, which adds what ranks it): one row of list_dts.sql. */
export const TRANSFORMER_PROPERTIES = {
  dt_id: { type: 'string' },
  feeder_id: { type: 'string' },
  rated_kva: { type: 'number' },
  cooling_class: { type: 'string' },
  latitude: { type: 'number' },
  longitude: { type: 'number' },
  weather_station_id: { type: ['string', 'null'] },
  timezone: {
    type: 'string',
    description:
      "IANA time zone the DT's schedules are read in: its topology's, else GRIDSTREAM_TIMEZONE, else the zone at its coordinates",
  },
  meters_connected: { type: 'integer' },
  last_slot_start: DATE_TIME_OR_NULL,
  ami_coverage_pct: { type: 'number' },
  data_quality: TIER,
} as const;

/** A list_dts.sql row as GET /v1/dt answers it; `timeZone` is GRIDSTREAM_TIMEZONE. */
export function transformerItem(r: ListDtsRow, timeZone: string | undefined) {
  return {
    ...r,
    timezone: transformerTimeZone(r, timeZone),
    last_slot_start: r.last_slot_start === null ? null : iso(r.last_slot_start),
    ami_coverage_pct: round(r.ami_coverage_pct, 2),
  };
}

const TRANSFORMERS = object(
  {
    transformers: { type: 'array', items: object(TRANSFORMER_PROPERTIES) },
    ...PAGE_ANSWER_PROPERTIES,
  },
  { optional: PAGE_ANSWER_OPTIONAL },
);

/** A slot of a load profile (serving/load-profile-slot.ts profileSlot). */
const LOAD_PROFILE_SLOT = object({
  slot_start: DATE_TIME,
  is_final: { type: 'boolean' },
  net_mean_kw: { type: 'number' },
  min_kw: { type: 'number' },
  max_kw: { type: 'number' },
  p95_kw: { type: 'number' },
  import_kwh: { type: 'number' },
  export_kwh: { type: 'number' },
  q_mean_kvar: NUMBER_OR_NULL,
  legs: {
    type: 'array',
    items: object({
      leg: { type: 'integer' },
      v_min: { type: 'number' },
      v_mean: { type: 'number' },
      v_max: { type: 'number' },
    }),
  },
  meters_reporting: { type: 'integer' },
  meters_connected: { type: 'integer' },
  readings: { type: 'integer' },
  ami_coverage_pct: { type: 'number' },
  data_quality: TIER,
  profile_source: { type: 'string', enum: ['measured', 'imputed', 'modelled'] },
  measured_net_mean_kw: { type: 'number' },
  imputed_kw: { type: 'number' },
  imputed_meters: { type: 'integer' },
});

/** A load profile's default range: the last 30 days. */
const PROFILE_RANGE = { days: 30, aheadDays: 0 };

/** A load profile: its head (serving/load-profile-slot.ts profileHead), then its slots. */
const LOAD_PROFILE = object({
  ...DT_SERIES_HEAD,
  slots: { type: 'array', items: LOAD_PROFILE_SLOT },
});

export interface DtRoutesOptions {
  warehouse: Warehouse;
  retentionDays: number;
  /**
   * The topology table's view of a DT: a DT it knows is answered from the warehouse's load-profile pieces
   * (sql/029_load_profile_days.sql) when they hold any of the range, else from the envelope rows.
   */
  dtOf?: DtOf | undefined;
  /** Counts a load-profile answer by what it was read from. */
  served?: ((source: 'pieces' | 'rows') => void) | undefined;
  /** Current pieces of recently asked DT-days, kept between requests (bounded); none without it. */
  profileCache?: ProfileCache | undefined;
  /** GRIDSTREAM_TIMEZONE: the zone of a DT whose topology names none. */
  timeZone?: string | undefined;
}

/** Transformer endpoints. They read what the processors wrote and never recompute it. */
export async function dtRoutes(app: FastifyInstance, { warehouse, ...options }: DtRoutesOptions) {
  app.get<{ Querystring: PagingInput }>(
    '/v1/dt',
    {
      schema: {
        summary: "The key's tenant's distribution transformers with AMI coverage and data-quality tier",
        description: `Ordered by dt_id; paged by limit and offset (default: ${DT_PAGE_DEFAULT} from the first) or by page and pageSize.`,
        querystring: object(pagingProperties(DT_PAGE_DEFAULT), { optional: true, additional: false }),
        response: { 200: TRANSFORMERS },
      },
    },
    async (request) => {
      const page = pageOf(request.query, DT_PAGE_DEFAULT);
      const { rows, total } = await runPage(warehouse, queries.list_dts, {
        tenant: tenantOf(request),
        limit: page.limit,
        offset: page.offset,
      });
      return {
        transformers: rows.map((r) => transformerItem(r, options.timeZone)),
        ...pageAnswer(page, total),
      };
    },
  );

  app.get<DtSeriesRequest>(
    '/v1/dt/:id/load-profile',
    {
      schema: {
        summary: '15-minute load profile of a DT (default: the last 30 days), with coverage per slot',
        description:
          'Per slot, net_mean_kw, min_kw, max_kw, p95_kw, import_kwh and export_kwh describe the whole DT. profile_source says where they come from: measured (the reporting meters), imputed (meters that did not report filled from the feeder load pattern; imputed_kw of net_mean_kw is that part, measured_net_mean_kw the rest, imputed_meters the meters filled) or modelled (no AMI: nameplate x load shape, all of it imputed_kw).',
        ...dtSeriesSchema(options.retentionDays, PROFILE_RANGE),
        response: { 200: LOAD_PROFILE, ...BELOW_MINIMUM },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { from, to } = dtSeriesRangeOf(request.query, options.retentionDays, PROFILE_RANGE);
      const tenant = tenantOf(request);
      // From the stored pieces when the topology table knows the DT's owner and they hold any of the range.
      const owner = options.dtOf?.(id)?.tenant;
      const stored =
        owner === undefined ? null : await storedProfile(warehouse, id, from, to, options.profileCache);
      if (stored) {
        if (owner !== tenant) throw notFound(id);
        const head = profileHead(id, from, to, stored.newest);
        requireDataQuality(
          `transformer ${JSON.stringify(id)}`,
          head.data_quality,
          request.query.min_data_quality,
        );
        const segments = [
          deflateSegment(Buffer.from(JSON.stringify(head).slice(0, -1) + ',"slots":['), 1),
          ...stored.segments,
          CLOSE,
        ];
        options.served?.('pieces');
        reply.header('vary', 'accept-encoding').type('application/json; charset=utf-8');
        if (acceptsGzip(request.headers['accept-encoding']))
          return reply.header('content-encoding', 'gzip').send(gzipOf(segments));
        return reply.send(inflateSegments(segments));
      }
      await requireDt(warehouse, tenant, id);
      options.served?.('rows');
      const rows = await runQuery(warehouse, queries.envelopes_for_dt, {
        dt_id: id,
        from_ms: from,
        to_ms: to,
      });
      const slots = rows.map((r) => profileSlot(envelopeOfRow(r)));
      const newest = slots.at(-1);
      const head = profileHead(
        id,
        from,
        to,
        newest && {
          data_quality: dataQualityTier(newest.data_quality),
          ami_coverage_pct: newest.ami_coverage_pct,
        },
      );
      requireDataQuality(
        `transformer ${JSON.stringify(id)}`,
        head.data_quality,
        request.query.min_data_quality,
      );
      return { ...head, slots };
    },
  );
}

/**
 * A DT's profile over [fromMs, toMs): each UTC day of the range from its load-profile piece when the piece is
 * current, that is when its version equals the sum of the newest versions of the day's final slots in the
 * envelope rows (sql/queries/envelope_day_versions.sql), with the day's open slots, which pieces never hold,
 * added from the rows; else from the envelope rows (no piece yet: a warehouse written before the pieces, a day
 * the pieces task has not reached; a stale piece). A DT's envelopes are one partition's, read in order by the
 * pieces task and the warehouse sink alike, so equal sums mean equal slots. Pieces, day versions and, for a range ending within LIVE_MS, the rows of its last days are read at
 * once; other days' rows only when a piece is missing or stale. Null when no piece is current: the envelope
 * rows answer then. Both paths render the same bytes (docs/api.md, load profiles).
 */
async function storedProfile(
  warehouse: Warehouse,
  dtId: string,
  fromMs: number,
  toMs: number,
  cache: ProfileCache | undefined,
): Promise<StoredProfile | null> {
  const firstDay = fromMs - (fromMs % DAY_MS);
  const endDay = toMs - 1 - ((toMs - 1) % DAY_MS) + DAY_MS;
  const days: string[] = [];
  for (let d = firstDay; d < endDay; d += DAY_MS) days.push(iso(d).slice(0, 10));
  if (days.length === 0) return null;
  const cached = new Map<string, LoadProfileDayRow>();
  for (const day of days) {
    const row = cache?.pieces.get(dtId, day);
    if (row) cached.set(day, row);
  }
  let misses = 0;
  const readPieces = async (wanted: string[]): Promise<LoadProfileDayRow[]> => {
    if (wanted.length === 0) return [];
    misses += wanted.length;
    const rows = await runQuery(warehouse, queries.load_profile_days, { dt_ids: [dtId], days: wanted });
    return rows.map((row) => ({ ...row, day: row.day_text }));
  };
  const envelopes = (from: number, to: number) =>
    runQuery(warehouse, queries.envelopes_for_dt, { dt_id: dtId, from_ms: from, to_ms: to });
  const live = toMs > Date.now() - LIVE_MS;
  const liveFrom = Math.max(fromMs, firstDayOf(toMs - LIVE_MS));
  const [fetched, versions, liveRows] = await Promise.all([
    readPieces(days.filter((day) => !cached.has(day))),
    runQuery(warehouse, queries.envelope_day_versions, { dt_id: dtId, from_ms: firstDay, to_ms: endDay }),
    live ? envelopes(liveFrom, toMs) : null,
  ]);
  const dayVersions = new Map(versions.map((v) => [iso(v.day_index * DAY_MS).slice(0, 10), v]));
  const isCurrent = (row: LoadProfileDayRow) =>
    Number(dayVersions.get(row.day)?.final_sum ?? -1) === Number(row.version);
  // A cached piece revised since is read again.
  const stale = [...cached.values()].filter((row) => !isCurrent(row)).map((row) => row.day);
  for (const day of stale) cached.delete(day);
  const candidates = [...cached.values(), ...fetched, ...(await readPieces(stale))];
  /** Day starts the envelope rows answer, or complete: no current piece, or a current piece's open slots. */
  const fromRows = new Set([...dayVersions.keys()].map((day) => Date.parse(`${day}T00:00:00Z`)));
  const pieces = new LoadProfileDays();
  let current = 0;
  for (const row of candidates) {
    if (!isCurrent(row)) continue;
    pieces.load(row);
    if (!cached.has(row.day)) cache?.pieces.set(row);
    if (Number(dayVersions.get(row.day)!.open_slots) === 0)
      fromRows.delete(Date.parse(`${row.day}T00:00:00Z`));
    current++;
  }
  cache?.counted(cached.size, misses);
  if (current === 0) return null;
  if (fromRows.size > 0) {
    const starts = [...fromRows];
    const from = Math.max(fromMs, Math.min(...starts));
    const tail =
      liveRows && from >= liveFrom
        ? liveRows
        : await envelopes(from, Math.min(toMs, Math.max(...starts) + DAY_MS));
    // Onto a current piece only its open slots apply: its final ones have the same versions.
    pieces.apply(tail.map(envelopeOfRow).filter((e) => fromRows.has(firstDayOf(e.slot_start))));
  }
  return pieces.profile(dtId, fromMs, toMs);
}

/** The API's bounded cache of current pieces (serving/piece-cache.ts), with its hits and misses counted. */
export interface ProfileCache {
  pieces: PieceCache;
  /** Pieces of a request served from the cache, and read from the warehouse. */
  counted(hits: number, misses: number): void;
}

/** How recent a range's end must be for its last slots to be possibly open (allowed lateness and then some). */
const LIVE_MS = 2 * 3_600_000;

function firstDayOf(ms: number): number {
  return ms - (ms % DAY_MS);
}

/** The closing of a load profile's slots array and of the response. */
const CLOSE = deflateSegment(Buffer.from(']}'));

/** Whether an Accept-Encoding header admits gzip (present, and not with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
