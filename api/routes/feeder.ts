import type { FastifyInstance } from 'fastify';
import { transformerTimeZone } from '../../core/schedule.js';
import { iso } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import {
  additionKw,
  anyOf,
  shiftedThermalProb,
  shiftedVoltageProb,
} from '../../processors/stress/hosting.js';
import { DEFAULT_STRESS_CONFIG, voltageBandV } from '../../processors/stress/stress.js';
import { normalQuantile } from '../../processors/stress/stress-math.js';
import {
  dataQualityTier,
  minDataQualitySchema,
  requireDataQuality,
  tierBelow,
  type DataQualityTier,
} from '../data-quality.js';
import { additionOf, timeZoneOf, type RequestedAddition } from '../additions.js';
import { answerableIssues } from '../envelope-issues.js';
import { ApiError, badRequest } from '../errors.js';
import { tenantOf } from '../tenancy.js';
import { round } from '../time-range.js';
import {
  ADDITION,
  BELOW_MINIMUM,
  DATE_TIME,
  DT_ID,
  DT_QUALITY,
  NUMBER_OR_NULL,
  object,
  TIER,
  TIMEZONE,
} from '../openapi.js';
import { EVERY_ROW, runQuery } from '../../io/warehouse/query.js';
import { queries } from '../../io/warehouse/queries.gen.js';

const FEEDER_SLOT = object({
  slot_start: DATE_TIME,
  dts: { type: 'integer', description: 'DTs whose issues hold the slot' },
  thermal_stress_prob: { type: 'number' },
  voltage_stress_prob: NUMBER_OR_NULL,
});

const DT_SLOT = object({
  slot_start: DATE_TIME,
  load_shift_kw: { type: 'number' },
  thermal_stress_prob: { type: 'number' },
  voltage_stress_prob: NUMBER_OR_NULL,
});

const FEEDER_STRESS_RESPONSE = object({
  feeder_id: { type: 'string' },
  data_quality: TIER,
  ami_coverage_pct: { type: 'number' },
  scenario: object({
    load_growth_pct: { type: 'number' },
    additions: { type: 'integer' },
    timezone: {
      type: ['string', 'null'],
      description: "The request's zone; null: each DT's own (its timezone)",
    },
  }),
  feeder: object({
    peak_thermal_stress_prob: NUMBER_OR_NULL,
    peak_voltage_stress_prob: NUMBER_OR_NULL,
    slots: { type: 'array', items: FEEDER_SLOT },
  }),
  transformers: {
    type: 'array',
    items: object(
      {
        ...DT_QUALITY,
        timezone: {
          type: 'string',
          description: "IANA time zone the DT's additions' schedules were read in",
        },
        status: { type: 'string', enum: ['forecast', 'no_envelope'] },
        envelope_source: {
          type: 'string',
          enum: ['stored', 'modelled'],
          description:
            "modelled: the DT has no AMI; its issue is built from the nameplate and the feeder's pattern",
        },
        envelope_issued_at: DATE_TIME,
        peak_thermal_stress_prob: NUMBER_OR_NULL,
        peak_voltage_stress_prob: NUMBER_OR_NULL,
        slots: { type: 'array', items: DT_SLOT },
      },
      { optional: ['envelope_issued_at', 'envelope_source'] },
    ),
  },
});

interface ScenarioAddition extends RequestedAddition {
  dt_id?: string;
}

interface FeederStressBody {
  feeder_id: string;
  scenario?: { load_growth_pct?: number; additions?: ScenarioAddition[] };
  timezone?: string;
  min_data_quality?: DataQualityTier;
}

/**
 * `POST /v1/feeder/stress`: the thermal stress probability of every DT of a feeder, per slot of its newest
 * envelope issue, under a scenario (load growth, added loads and generators), and for the feeder.
 *
 * A scenario moves each slot's forecast load by growth × the base plus the additions; the probability moves with
 * it from the one the stress stage stored (processors/stress/hosting.ts shiftedThermalProb: the |P| bound stays
 * where the stored probability puts it, the load distribution shifts, and reverse flow past the bound heats as
 * import does), so an empty scenario returns the stored figures.
 * The voltage probability moves too (shiftedVoltageProb): the shift moves every customer voltage by the most
 * sensitive customer's volts per kW, read against the band with the forecast distribution the issue recorded.
 * The feeder's probability in a slot is that of at least one of its DTs, taking DTs as independent; its peak is
 * the highest over the slots.
 */
export async function feederRoutes(
  app: FastifyInstance,
  options: { warehouse: Warehouse; timeZone?: string | undefined },
) {
  const { warehouse } = options;
  app.post<{ Body: FeederStressBody }>(
    '/v1/feeder/stress',
    {
      schema: {
        summary:
          "Thermal and voltage stress probability of a feeder's DTs and of the feeder, under a scenario",
        description:
          "Per 15-minute slot of each DT's newest operating-envelope issue (the next 24 h). scenario.load_growth_pct scales the forecast load; scenario.additions add loads and generators (EV, heat pump, charging battery import; PV, discharging battery export) to one DT (dt_id) or, without dt_id, to every DT of the feeder. Both probabilities move with the load from the stored forecast: thermal stress with |P| (reverse flow heats as import does), voltage stress as the shift moves every customer voltage by the DT's volts per kW. The feeder's probability is that of at least one DT (independence).",
        body: object(
          {
            feeder_id: { type: 'string', minLength: 1, maxLength: 128 },
            scenario: object(
              {
                load_growth_pct: { type: 'number', minimum: -100, maximum: 1000 },
                additions: {
                  type: 'array',
                  maxItems: 200,
                  items: object(
                    { dt_id: DT_ID, ...ADDITION },
                    { optional: ['dt_id', 'schedule', 'mode'], additional: false },
                  ),
                },
              },
              { optional: true, additional: false },
            ),
            timezone: TIMEZONE,
            min_data_quality: minDataQualitySchema,
          },
          { optional: ['scenario', 'timezone', 'min_data_quality'], additional: false },
        ),
        response: {
          200: FEEDER_STRESS_RESPONSE,
          ...BELOW_MINIMUM,
        },
      },
    },
    async (request) => {
      const body = request.body;
      const zone = timeZoneOf(body.timezone);
      const growth = (body.scenario?.load_growth_pct ?? 0) / 100;
      const dts = (
        await runQuery(warehouse, queries.list_dts, { tenant: tenantOf(request), ...EVERY_ROW })
      ).filter((r) => r.feeder_id === body.feeder_id);
      if (dts.length === 0)
        throw new ApiError(
          404,
          'not_found',
          `no feeder ${JSON.stringify(body.feeder_id)} among this key's transformers`,
        );
      const additions = (body.scenario?.additions ?? []).map((a, i) => {
        if (a.dt_id !== undefined && !dts.some((d) => d.dt_id === a.dt_id))
          throw badRequest(
            `scenario.additions.${i}.dt_id`,
            `is not a transformer of feeder ${body.feeder_id}`,
          );
        return { dtId: a.dt_id, addition: additionOf(a, `scenario.additions.${i}`) };
      });
      // A DT without AMI (no issue of the stress stage) is answered from a modelled issue, at tier modelled-only.
      const issues = await answerableIssues(
        warehouse,
        dts.map((d) => d.dt_id),
        Date.now(),
        options.timeZone,
      );
      // A DT's tier and coverage: its issue's (the slot it was forecast from, api/envelope-issues.ts), as the
      // hosting judges declare them; a DT without an issue, its newest load-envelope slot's (list_dts.sql).
      const quality = new Map(
        dts.map((d) => {
          const issue = issues.get(d.dt_id);
          return [
            d.dt_id,
            issue
              ? { tier: issue.dataQuality, coverage: issue.amiCoveragePct }
              : { tier: dataQualityTier(d.data_quality), coverage: round(d.ami_coverage_pct, 2) },
          ] as const;
        }),
      );
      const tiers = [...quality.values()].map((q) => q.tier);
      const worst = tiers.reduce<DataQualityTier>((w, t) => (tierBelow(t, w) ? t : w), 'ami-direct');
      requireDataQuality(`feeder ${JSON.stringify(body.feeder_id)}`, worst, body.min_data_quality);

      const perDt = dts.map((d) => {
        const dtId = d.dt_id;
        const issue = issues.get(dtId);
        const timeZone = zone ?? transformerTimeZone(d, options.timeZone);
        const base = {
          dt_id: dtId,
          data_quality: quality.get(dtId)!.tier,
          ami_coverage_pct: quality.get(dtId)!.coverage,
          timezone: timeZone,
        };
        if (!issue) return { ...base, status: 'no_envelope' as const, slots: [] };
        const z = normalQuantile(issue.confidence);
        const location = { timeZone, latitude: d.latitude, longitude: d.longitude };
        const band = voltageBandV(d.nominal_voltage_v);
        const slots = issue.slots.map((s, k) => {
          const added = additions
            .filter((a) => a.dtId === undefined || a.dtId === dtId)
            .reduce((sum, a) => sum + additionKw(a.addition, s.slotStart, location), 0);
          const shift = growth * s.baseKw + added;
          const sd = (s.baseKw - s.baseKwLow) / z;
          return {
            slot_start: s.slotStart,
            load_shift_kw: shift,
            thermal: shiftedThermalProb(issue.thermalStressProb[k]!, s.baseKw, sd, shift),
            voltage: shiftedVoltageProb(
              issue.voltageStressProb[k] ?? null,
              issue.voltageTails[k] ?? null,
              band,
              shift,
              DEFAULT_STRESS_CONFIG.heavyTails,
            ),
          };
        });
        return {
          ...base,
          status: 'forecast' as const,
          envelope_source: issue.modelled === null ? ('stored' as const) : ('modelled' as const),
          envelope_issued_at: iso(issue.issuedAt),
          slots,
        };
      });

      // The feeder, slot by slot over the slots its DTs' issues share.
      const bySlot = new Map<number, { thermal: number[]; voltage: number[] }>();
      for (const dt of perDt)
        for (const s of dt.slots) {
          const at = bySlot.get(s.slot_start) ?? { thermal: [], voltage: [] };
          at.thermal.push(s.thermal);
          if (s.voltage !== null) at.voltage.push(s.voltage);
          bySlot.set(s.slot_start, at);
        }
      const feederSlots = [...bySlot.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([slot, p]) => ({
          slot_start: iso(slot),
          dts: p.thermal.length,
          thermal_stress_prob: round(anyOf(p.thermal), 6),
          voltage_stress_prob: p.voltage.length ? round(anyOf(p.voltage), 6) : null,
        }));
      const peak = (values: Array<number | null>) => {
        const present = values.filter((v): v is number => v !== null);
        return present.length ? round(Math.max(...present), 6) : null;
      };
      return {
        feeder_id: body.feeder_id,
        data_quality: worst,
        ami_coverage_pct: Math.min(...[...quality.values()].map((q) => q.coverage)),
        scenario: { load_growth_pct: growth * 100, additions: additions.length, timezone: zone ?? null },
        feeder: {
          peak_thermal_stress_prob: peak(feederSlots.map((s) => s.thermal_stress_prob)),
          peak_voltage_stress_prob: peak(feederSlots.map((s) => s.voltage_stress_prob)),
          slots: feederSlots,
        },
        transformers: perDt.map((dt) => ({
          ...dt,
          peak_thermal_stress_prob: peak(dt.slots.map((s) => s.thermal)),
          peak_voltage_stress_prob: peak(dt.slots.map((s) => s.voltage)),
          slots: dt.slots.map((s) => ({
            slot_start: iso(s.slot_start),
            load_shift_kw: round(s.load_shift_kw, 3),
            thermal_stress_prob: round(s.thermal, 6),
            voltage_stress_prob: s.voltage === null ? null : round(s.voltage, 6),
          })),
        })),
      };
    },
  );
}
