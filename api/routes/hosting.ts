import type { FastifyInstance } from 'fastify';
import { SCHEDULE_PATTERN, transformerTimeZone } from '../../core/schedule.js';
import { iso, SLOT_MS } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import {
  judgeHosting,
  type Addition,
  type HostingJudgement,
  type LimitingFactor,
} from '../../processors/stress/hosting.js';
import { additionOf, scheduleOf, timeZoneOf, type RequestedAddition } from '../additions.js';
import {
  meetsDataQuality,
  minDataQualitySchema,
  requireDataQuality,
  TIER_CONFIDENCE_BAND,
  type DataQualityTier,
} from '../data-quality.js';
import { ApiError } from '../errors.js';
import { answerableIssues, type EnvelopeIssue } from '../envelope-issues.js';
import { issueAtMeter, JUDGED_AT, locateMeter, METER_LOCATION } from '../meter-location.js';
import { requireDt, tenantOf } from '../tenancy.js';
import { round } from '../time-range.js';
import {
  ADDITION,
  BELOW_MINIMUM,
  DATE_TIME,
  DT_ID,
  DT_QUALITY,
  errorResponse,
  LIMITING_FACTOR,
  NUMBER_OR_NULL,
  object,
  TIER,
  TIER_CONFIDENCE,
  TIMEZONE,
  VERDICT,
} from '../openapi.js';
import { EVERY_ROW, runQuery } from '../../io/warehouse/query.js';
import {
  PAGE_ANSWER_OPTIONAL,
  PAGE_ANSWER_PROPERTIES,
  pageAnswer,
  pageOf,
  pageRows,
  pagingProperties,
  type PagingInput,
} from '../page.js';
import { queries } from '../../io/warehouse/queries.gen.js';

/** Share of a PV system's peak (kWp, at standard test conditions) a clear noon delivers: heat and system losses. */
const PV_DERATE = 0.85;
/** Site-screen candidates a page holds unless the request says otherwise. */
const SITE_SCREEN_PAGE_DEFAULT = 10;

const LIMIT_OR_NULL = { type: ['string', 'null'], enum: [...LIMITING_FACTOR.enum, null] } as const;
const WINDOW = object({ from: DATE_TIME, to: DATE_TIME });

/** The head both judges answer with (see `header` below). */
const JUDGEMENT = {
  ...DT_QUALITY,
  tier_confidence_band: TIER_CONFIDENCE,
  envelope_issued_at: DATE_TIME,
  confidence: {
    type: 'number',
    description:
      "The envelope's statistical confidence: the level its headroom figures hold at for the forecast made",
  },
  envelope_source: {
    type: 'string',
    enum: ['stored', 'modelled'],
    description:
      "stored: the stress stage's newest issue; modelled: the DT has none (no AMI), so nameplate x the feeder's load pattern through the thermal model",
  },
  timezone: { type: 'string', description: 'IANA time zone the schedules were read in' },
  verdict: VERDICT,
  reason: { type: 'string' },
  binding_constraint: LIMIT_OR_NULL,
  requested_kwh: { type: 'number' },
  curtailed_kwh: { type: 'number' },
  curtailment_schedule: {
    type: 'array',
    items: object({ ...WINDOW.properties, max_kw: { type: 'number' } }),
  },
} as const;

/** The errors of a judge of one DT beyond the shared ones: no envelope yet, a tier below the minimum. */
const JUDGE_ERRORS = {
  409: errorResponse('The DT has no operating envelope and no nameplate to model one from (no_envelope)'),
  ...BELOW_MINIMUM,
} as const;

/** Headroom in a slot: before the additions all four figures, after them the envelope's two. */
const HEADROOM = {
  import_kw: { type: 'number' },
  export_kw: { type: 'number' },
  import_slot_kw: { type: 'number' },
  export_slot_kw: { type: 'number' },
} as const;

/**
 * The DT judges of the transformer-stress interface: additions (`POST /v1/dt/hosting-capacity`) and rooftop PV
 * (`POST /v1/rooftop/sanction-check`) against the DT's newest operating-envelope issue
 * (processors/stress/hosting.ts). The envelope is the stress stage's; nothing of it is recomputed here. A DT the
 * stress stage has no issue of (no AMI) is judged against a modelled one (api/envelope-issues.ts), at tier
 * modelled-only. Schedules are read in the request's `timezone`, else the DT's own (core/schedule.ts
 * transformerTimeZone).
 */
interface SiteCandidate {
  dt_id: string;
  distance_km: number;
  ami_coverage_pct: number;
  data_quality: DataQualityTier;
  tier_confidence_band: { low: number; high: number };
  timezone: string;
  status: 'screened' | 'no_envelope';
  envelope_source?: 'stored' | 'modelled';
  fit_share: number | null;
  verdict: string | null;
  binding_constraint?: LimitingFactor | null;
  envelope_issued_at?: string;
  windows: Array<{ from: string; to: string }>;
}

/** Great-circle distance, km (haversine on a 6,371 km sphere). */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const a =
    Math.sin(((lat2 - lat1) * rad) / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)));
}

export async function hostingRoutes(
  app: FastifyInstance,
  options: { warehouse: Warehouse; timeZone?: string | undefined },
) {
  const { warehouse } = options;
  /**
   * The DT's newest issue (or a modelled one), location and time zone; a 409 only when it has neither an issue
   * nor a nameplate to model one from.
   */
  async function envelopeOf(tenant: string, id: string) {
    await requireDt(warehouse, tenant, id);
    const [issues, [location]] = await Promise.all([
      answerableIssues(warehouse, [id], Date.now(), options.timeZone),
      runQuery(warehouse, queries.dt_location, { dt_id: id }),
    ]);
    const issue = issues.get(id);
    if (issue === undefined || location === undefined)
      throw new ApiError(
        409,
        'no_envelope',
        `transformer ${JSON.stringify(id)} has no operating envelope and no positive rated_kva to model one from`,
      );
    return {
      ...issue,
      latitude: location.latitude,
      longitude: location.longitude,
      timeZone: transformerTimeZone(location, options.timeZone),
    };
  }

  function judge(
    envelope: EnvelopeIssue & { latitude: number; longitude: number },
    additions: Addition[],
    timeZone: string,
  ) {
    return judgeHosting({
      slots: envelope.slots,
      additions,
      timeZone,
      latitude: envelope.latitude,
      longitude: envelope.longitude,
      confidence: envelope.confidence,
      modelledOnly: envelope.dataQuality === 'modelled-only',
    });
  }

  const header = (id: string, envelope: EnvelopeIssue, timeZone: string, j: HostingJudgement) => ({
    dt_id: id,
    // Tier and coverage from the one place the issue says (api/envelope-issues.ts EnvelopeIssue.dataQuality).
    data_quality: envelope.dataQuality,
    ami_coverage_pct: envelope.amiCoveragePct,
    tier_confidence_band: TIER_CONFIDENCE_BAND[envelope.dataQuality],
    envelope_issued_at: iso(envelope.issuedAt),
    confidence: envelope.confidence,
    envelope_source: envelope.modelled === null ? ('stored' as const) : ('modelled' as const),
    timezone: timeZone,
    verdict: j.verdict,
    reason: envelope.modelled === null ? j.reason : `${j.reason}; ${envelope.modelled}`,
    binding_constraint: j.bindingConstraint,
    requested_kwh: round(j.requestedKwh, 3),
    curtailed_kwh: round(j.curtailedKwh, 3),
    curtailment_schedule: j.curtailment.map((w) => ({
      from: iso(w.from),
      to: iso(w.to),
      max_kw: round(w.maxKw, 3),
    })),
  });

  app.post<{
    Body: {
      dt_id: string;
      additions: RequestedAddition[];
      timezone?: string;
      min_data_quality?: DataQualityTier;
      meter_id?: string;
      service_point_id?: string;
    };
  }>(
    '/v1/dt/hosting-capacity',
    {
      schema: {
        summary:
          "Judge new loads and generators against a DT's operating envelope: headroom per slot and a verdict",
        description:
          "Against the DT's newest operating-envelope issue (the next 24 h; a DT without AMI, which has none, against one modelled from its nameplate, at tier modelled-only): per 15-minute slot the headroom before and after the additions, the binding limit, and a verdict approve | approve-with-curtailment (with the curtailment schedule) | decline | defer-to-DERMS. EV, heat pumps and charging batteries import; PV and discharging batteries export. A schedule HH:MM-HH:MM (may wrap midnight) is read in `timezone`, else in the DT's own zone (its topology's, else GRIDSTREAM_TIMEZONE, else the zone at its coordinates); PV without one follows the sun at the DT's location.",
        body: object(
          {
            dt_id: DT_ID,
            additions: {
              type: 'array',
              minItems: 1,
              maxItems: 50,
              items: object(ADDITION, { optional: ['schedule', 'mode'], additional: false }),
            },
            timezone: TIMEZONE,
            min_data_quality: minDataQualitySchema,
            ...METER_LOCATION,
          },
          {
            optional: ['timezone', 'min_data_quality', 'meter_id', 'service_point_id'],
            additional: false,
          },
        ),
        response: {
          200: object({
            ...JUDGEMENT,
            judged_at: JUDGED_AT,
            slots: {
              type: 'array',
              items: object({
                slot_start: DATE_TIME,
                addition_kw: { type: 'number', description: 'Import positive, export negative' },
                headroom_before: object(HEADROOM),
                headroom_after: object(HEADROOM, { optional: ['import_slot_kw', 'export_slot_kw'] }),
                binding_constraint: LIMIT_OR_NULL,
                allowed_kw: { type: 'number' },
              }),
            },
          }),
          ...JUDGE_ERRORS,
        },
      },
    },
    async (request) => {
      const body = request.body;
      const zone = timeZoneOf(body.timezone);
      const additions = body.additions.map((a, i) => additionOf(a, `additions.${i}`));
      const envelope = await envelopeOf(tenantOf(request), body.dt_id);
      requireDataQuality(
        `transformer ${JSON.stringify(body.dt_id)}`,
        envelope.dataQuality,
        body.min_data_quality,
      );
      const timeZone = zone ?? envelope.timeZone;
      const at = await locateMeter(warehouse, tenantOf(request), body, body.dt_id);
      const located = at ? await issueAtMeter(warehouse, envelope, at) : null;
      const j = judge(located?.issue ?? envelope, additions, timeZone);
      return {
        ...header(body.dt_id, envelope, timeZone, j),
        judged_at: located?.judgedAt ?? null,
        slots: j.slots.map((s) => ({
          slot_start: iso(s.slotStart),
          addition_kw: round(s.additionKw, 3),
          headroom_before: {
            import_kw: round(s.headroomBefore.importKw, 3),
            export_kw: round(s.headroomBefore.exportKw, 3),
            import_slot_kw: round(s.headroomBefore.importSlotKw, 3),
            export_slot_kw: round(s.headroomBefore.exportSlotKw, 3),
          },
          headroom_after: {
            import_kw: round(s.headroomAfter.importKw, 3),
            export_kw: round(s.headroomAfter.exportKw, 3),
          },
          binding_constraint: s.bindingConstraint,
          allowed_kw: round(s.allowedKw, 3),
        })),
      };
    },
  );

  app.post<{
    Body: {
      dt_id: string;
      pv_kwp: number;
      inverter_kw?: number;
      export_limit_kw?: number;
      min_data_quality?: DataQualityTier;
      meter_id?: string;
      service_point_id?: string;
    };
  }>(
    '/v1/rooftop/sanction-check',
    {
      schema: {
        summary: 'Reverse-power-flow and voltage-rise risk of a rooftop PV system, and a recommendation',
        description: `Clear-sky output at the DT's location (peak = min(pv_kwp x ${PV_DERATE}, inverter_kw), clipped at export_limit_kw) judged against the DT's newest operating-envelope issue: recommendation approve | approve-with-curtailment (with the curtailment schedule) | decline | defer-to-DERMS, the probability the DT's net flow reverses, and the export the voltage limit would curtail.`,
        body: object(
          {
            dt_id: DT_ID,
            pv_kwp: {
              type: 'number',
              exclusiveMinimum: 0,
              maximum: 100000,
              description: 'PV array peak, kWp',
            },
            inverter_kw: {
              type: 'number',
              exclusiveMinimum: 0,
              maximum: 100000,
              description: 'Inverter AC rating, kW',
            },
            export_limit_kw: {
              type: 'number',
              minimum: 0,
              maximum: 100000,
              description: 'Export limiter setting, kW (no limiter: none)',
            },
            min_data_quality: minDataQualitySchema,
            ...METER_LOCATION,
          },
          {
            optional: ['inverter_kw', 'export_limit_kw', 'min_data_quality', 'meter_id', 'service_point_id'],
            additional: false,
          },
        ),
        response: {
          200: object({
            ...JUDGEMENT,
            judged_at: JUDGED_AT,
            recommendation: VERDICT,
            pv_peak_kw: { type: 'number' },
            reverse_power_flow: object({
              max_probability: { type: 'number' },
              slots_likely: { type: 'integer' },
            }),
            voltage_rise: object({ curtailed_kwh: { type: 'number' }, slots_over: { type: 'integer' } }),
            slots: {
              type: 'array',
              items: object({
                slot_start: DATE_TIME,
                pv_kw: { type: 'number' },
                export_headroom_kw: { type: 'number' },
                allowed_kw: { type: 'number' },
                binding_constraint: LIMIT_OR_NULL,
                reverse_flow_probability: { type: 'number' },
              }),
            },
          }),
          ...JUDGE_ERRORS,
        },
      },
    },
    async (request) => {
      const body = request.body;
      const envelope = await envelopeOf(tenantOf(request), body.dt_id);
      requireDataQuality(
        `transformer ${JSON.stringify(body.dt_id)}`,
        envelope.dataQuality,
        body.min_data_quality,
      );
      const peak = Math.min(body.pv_kwp * PV_DERATE, body.inverter_kw ?? Infinity);
      const at = await locateMeter(warehouse, tenantOf(request), body, body.dt_id);
      const located = at ? await issueAtMeter(warehouse, envelope, at) : null;
      // Rooftop PV follows the sun: no schedule, so the zone only names the DT's local time in the answer.
      const j = judge(
        located?.issue ?? envelope,
        [{ type: 'pv', kw: peak, capKw: body.export_limit_kw }],
        envelope.timeZone,
      );
      const generating = j.slots.filter((s) => s.additionKw < 0);
      const reverse = generating.map((s) => s.reverseFlowProb);
      const voltageKwh = j.slots
        .filter((s) => s.bindingConstraint === 'voltage')
        .reduce((sum, s) => sum + (Math.abs(s.additionKw) - s.allowedKw) * (SLOT_MS / 3_600_000), 0);
      return {
        ...header(body.dt_id, envelope, envelope.timeZone, j),
        judged_at: located?.judgedAt ?? null,
        recommendation: j.verdict,
        pv_peak_kw: round(peak, 3),
        reverse_power_flow: {
          max_probability: reverse.length ? round(Math.max(...reverse), 4) : 0,
          slots_likely: reverse.filter((p) => p >= 0.5).length,
        },
        voltage_rise: {
          curtailed_kwh: round(voltageKwh, 3),
          slots_over: j.slots.filter(
            (s) => s.bindingConstraint === 'voltage' && Math.abs(s.additionKw) > s.allowedKw,
          ).length,
        },
        slots: j.slots.map((s) => ({
          slot_start: iso(s.slotStart),
          pv_kw: round(-s.additionKw, 3),
          export_headroom_kw: round(s.headroomBefore.exportKw, 3),
          allowed_kw: round(s.allowedKw, 3),
          binding_constraint: s.bindingConstraint,
          reverse_flow_probability: round(s.reverseFlowProb, 4),
        })),
      };
    },
  );

  app.post<{
    Body: {
      latitude: number;
      longitude: number;
      radius_km?: number;
      station_kw: number;
      dwell: { schedule: string };
      timezone?: string;
      min_data_quality?: DataQualityTier;
      meter_id?: string;
      service_point_id?: string;
    } & PagingInput;
  }>(
    '/v1/ev/site-screen',
    {
      schema: {
        summary: 'Rank the DTs near a site by how well an EV charging station fits their operating envelopes',
        description:
          "The key's tenant's DTs within radius_km of the coordinates, ranked by the share of the station's daily dwell-window energy that fits within each DT's newest operating envelope (a DT without AMI: one modelled from its nameplate, at tier modelled-only) (then by distance), each with the time windows in which the whole station fits and the hosting-capacity verdict. The dwell window is read in `timezone`, else in each DT's own zone. DTs below min_data_quality are left out. A POST /v1/dt/hosting-capacity on the chosen DT gives the slot-by-slot detail.",
        body: object(
          {
            latitude: { type: 'number', minimum: -90, maximum: 90 },
            longitude: { type: 'number', minimum: -180, maximum: 180 },
            radius_km: { type: 'number', exclusiveMinimum: 0, maximum: 50, description: 'Default 5' },
            station_kw: { type: 'number', exclusiveMinimum: 0, maximum: 100000 },
            dwell: object(
              {
                schedule: {
                  type: 'string',
                  maxLength: 11,
                  pattern: SCHEDULE_PATTERN.source,
                  description: 'Daily window HH:MM-HH:MM the station draws its power',
                },
              },
              { additional: false },
            ),
            timezone: TIMEZONE,
            ...pagingProperties(SITE_SCREEN_PAGE_DEFAULT),
            min_data_quality: minDataQualitySchema,
            ...METER_LOCATION,
          },
          {
            optional: [
              'radius_km',
              'timezone',
              'limit',
              'offset',
              'page',
              'pageSize',
              'min_data_quality',
              'meter_id',
              'service_point_id',
            ],
            additional: false,
          },
        ),
        response: {
          200: object(
            {
              latitude: { type: 'number' },
              longitude: { type: 'number' },
              radius_km: { type: 'number' },
              station_kw: { type: 'number' },
              dwell: object({
                schedule: { type: 'string' },
                timezone: {
                  type: ['string', 'null'],
                  description: "The request's zone; null: each candidate's own (its timezone)",
                },
              }),
              judged_at: JUDGED_AT,
              candidates: {
                type: 'array',
                items: object(
                  {
                    dt_id: { type: 'string' },
                    distance_km: { type: 'number' },
                    ami_coverage_pct: { type: 'number' },
                    data_quality: TIER,
                    tier_confidence_band: TIER_CONFIDENCE,
                    timezone: { type: 'string', description: 'IANA time zone the dwell window was read in' },
                    status: { type: 'string', enum: ['screened', 'no_envelope'] },
                    envelope_source: { type: 'string', enum: ['stored', 'modelled'] },
                    fit_share: NUMBER_OR_NULL,
                    verdict: { type: ['string', 'null'], enum: [...VERDICT.enum, null] },
                    binding_constraint: LIMIT_OR_NULL,
                    envelope_issued_at: DATE_TIME,
                    windows: { type: 'array', items: WINDOW },
                  },
                  { optional: ['binding_constraint', 'envelope_issued_at', 'envelope_source'] },
                ),
              },
              ...PAGE_ANSWER_PROPERTIES,
            },
            { optional: PAGE_ANSWER_OPTIONAL },
          ),
        },
      },
    },
    async (request) => {
      const body = request.body;
      const page = pageOf(body, SITE_SCREEN_PAGE_DEFAULT);
      const zone = timeZoneOf(body.timezone);
      const schedule = scheduleOf(body.dwell.schedule, 'dwell.schedule');
      const radius = body.radius_km ?? 5;
      const minimum = body.min_data_quality;
      const dts = (await runQuery(warehouse, queries.list_dts, { tenant: tenantOf(request), ...EVERY_ROW }))
        .map((r) => ({
          dtId: r.dt_id,
          latitude: r.latitude,
          longitude: r.longitude,
          timeZone: zone ?? transformerTimeZone(r, options.timeZone),
          distanceKm: distanceKm(body.latitude, body.longitude, r.latitude, r.longitude),
        }))
        .filter((d) => d.distanceKm <= radius);
      const issues = await answerableIssues(
        warehouse,
        dts.map((d) => d.dtId),
        Date.now(),
        options.timeZone,
      );
      // At a meter: its DT's candidate is judged at the meter (the others as they are).
      const at = await locateMeter(warehouse, tenantOf(request), body);
      const atIssue = at && issues.get(at.dtId);
      const located = at && atIssue ? await issueAtMeter(warehouse, atIssue, at) : null;
      if (located) issues.set(at!.dtId, located.issue);
      const candidates = dts.flatMap((d): SiteCandidate[] => {
        const own = issues.get(d.dtId);
        const tier = own?.dataQuality ?? 'modelled-only';
        // Screening leaves out the DTs below a requested tier, answered or not (a refusal is for one named DT).
        if (!meetsDataQuality(tier, minimum)) return [];
        const base = {
          dt_id: d.dtId,
          distance_km: round(d.distanceKm, 3),
          // Tier and coverage from the one place the issue says (api/envelope-issues.ts).
          ami_coverage_pct: own?.amiCoveragePct ?? 0,
          data_quality: tier,
          tier_confidence_band: TIER_CONFIDENCE_BAND[tier],
          timezone: d.timeZone,
        };
        if (!own) return [{ ...base, status: 'no_envelope', fit_share: null, verdict: null, windows: [] }];
        const issue = { ...own, latitude: d.latitude, longitude: d.longitude };
        const j = judge(issue, [{ type: 'ev', kw: body.station_kw, schedule }], d.timeZone);
        return [
          {
            ...base,
            status: 'screened',
            envelope_source: own.modelled === null ? 'stored' : 'modelled',
            fit_share: j.requestedKwh > 0 ? round(1 - j.curtailedKwh / j.requestedKwh, 4) : 0,
            verdict: j.verdict,
            binding_constraint: j.bindingConstraint,
            envelope_issued_at: iso(issue.issuedAt),
            windows: fittingWindows(j.slots),
          },
        ];
      });
      // dt_id last, so that pages follow one order.
      candidates.sort(
        (a, b) =>
          (b.fit_share ?? -1) - (a.fit_share ?? -1) ||
          a.distance_km - b.distance_km ||
          (a.dt_id < b.dt_id ? -1 : a.dt_id > b.dt_id ? 1 : 0),
      );
      const { rows, total } = pageRows(candidates, page);
      return {
        latitude: body.latitude,
        longitude: body.longitude,
        radius_km: radius,
        station_kw: body.station_kw,
        dwell: { schedule: schedule.text, timezone: zone ?? null },
        judged_at: located?.judgedAt ?? null,
        candidates: rows,
        ...pageAnswer(page, total),
      };
    },
  );
}

/** Consecutive slots in which the whole addition fits (it adds power there and nothing is capped), merged. */
function fittingWindows(slots: HostingJudgement['slots']): Array<{ from: string; to: string }> {
  const windows: Array<{ from: number; to: number }> = [];
  for (const s of slots) {
    if (s.additionKw === 0 || Math.abs(s.additionKw) > s.allowedKw + 1e-9) continue;
    const last = windows.at(-1);
    if (last && last.to === s.slotStart) last.to = s.slotStart + SLOT_MS;
    else windows.push({ from: s.slotStart, to: s.slotStart + SLOT_MS });
  }
  return windows.map((w) => ({ from: iso(w.from), to: iso(w.to) }));
}
