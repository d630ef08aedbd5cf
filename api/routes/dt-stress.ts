import type { FastifyInstance } from 'fastify';
import { iso, SLOT_MS } from '../../core/time.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { dataQualityTier, requireDataQuality } from '../data-quality.js';
import { DT_SERIES_HEAD, dtSeriesRange, dtSeriesSchema, type DtSeriesRequest } from '../dt-series.js';
import { round } from '../time-range.js';
import { maxOf } from '../../core/extremes.js';
import {
  BELOW_MINIMUM,
  DATE_TIME,
  DATE_TIME_OR_NULL,
  LIMITING_FACTOR,
  NUMBER_OR_NULL,
  object,
  TIER,
} from '../openapi.js';
import { runQuery } from '../../io/warehouse/query.js';
import { nanAsNull } from '../json-numbers.js';
import { queries } from '../../io/warehouse/queries.gen.js';
import { DEFAULT_STRESS_CONFIG, voltageBandV } from '../../processors/stress/stress.js';

const STRESS_SLOT = object({
  slot_start: DATE_TIME,
  rated_kva: NUMBER_OR_NULL,
  net_kw: NUMBER_OR_NULL,
  apparent_kva: NUMBER_OR_NULL,
  load_factor: NUMBER_OR_NULL,
  ambient_c: NUMBER_OR_NULL,
  ambient_source: { type: 'string', enum: ['observed', 'carried', 'default'] },
  top_oil_c: NUMBER_OR_NULL,
  hot_spot_c: NUMBER_OR_NULL,
  peak_hot_spot_c: NUMBER_OR_NULL,
  ageing_rate: NUMBER_OR_NULL,
  loss_of_life_min: NUMBER_OR_NULL,
  thermal_exceeded: { type: 'boolean' },
  v_min: NUMBER_OR_NULL,
  v_max: NUMBER_OR_NULL,
  voltage_exceeded: { type: 'boolean' },
  thermal_stress_prob: NUMBER_OR_NULL,
  voltage_stress_prob: NUMBER_OR_NULL,
  forecast_lead_slots: { type: 'integer' },
  history_slots: NUMBER_OR_NULL,
  state_initialised: { type: 'boolean' },
  ami_coverage_pct: { type: 'number' },
  data_quality: TIER,
});

/** The limits the stress stage judges a DT's slots against (its configuration: processors/stress/stress.ts). */
const STRESS_LIMITS = object(
  {
    load_factor: { type: 'number', description: 'Largest load factor K (thermal_exceeded above it)' },
    hot_spot_c: { type: 'number', description: 'Highest winding hot spot, degrees C' },
    top_oil_c: { type: 'number', description: 'Highest top oil, degrees C' },
    v_min_pu: { type: 'number', description: 'Lowest customer voltage, per unit of the nominal' },
    v_max_pu: { type: 'number', description: 'Highest customer voltage, per unit of the nominal' },
    nominal_voltage_v: { ...NUMBER_OR_NULL, description: "The DT's nominal voltage (topology), V" },
    v_min_v: {
      ...NUMBER_OR_NULL,
      description: 'v_min_pu at the nominal voltage, V (voltage_exceeded below it)',
    },
    v_max_v: {
      ...NUMBER_OR_NULL,
      description: 'v_max_pu at the nominal voltage, V (voltage_exceeded above it)',
    },
  },
  { additional: false },
);

/** The answer's `limits`: the stress stage's configuration, in volts at `nominalV` when the topology gives it. */
export function stressLimits(nominalV: number | null) {
  const { limits, voltageBand } = DEFAULT_STRESS_CONFIG;
  const volts = nominalV === null ? null : voltageBandV(nominalV, voltageBand);
  return {
    load_factor: limits.loadFactor,
    hot_spot_c: limits.hotSpotC,
    top_oil_c: limits.topOilC,
    v_min_pu: 1 - voltageBand.lowPct / 100,
    v_max_pu: 1 + voltageBand.highPct / 100,
    nominal_voltage_v: nominalV,
    v_min_v: volts?.vLow ?? null,
    v_max_v: volts?.vHigh ?? null,
  };
}

const STRESS = object({
  ...DT_SERIES_HEAD,
  limits: STRESS_LIMITS,
  summary: object({
    slots: { type: 'integer' },
    thermal_exceedances: { type: 'integer' },
    voltage_exceedances: { type: 'integer' },
    peak_hot_spot_c: NUMBER_OR_NULL,
    max_load_factor: NUMBER_OR_NULL,
    loss_of_life_min: NUMBER_OR_NULL,
  }),
  slots: { type: 'array', items: STRESS_SLOT },
});

const ENVELOPE_SLOT = object({
  slot_start: DATE_TIME,
  issued_at: DATE_TIME,
  lead_slots: { type: 'integer' },
  confidence: NUMBER_OR_NULL,
  rated_kva: NUMBER_OR_NULL,
  base_kw: NUMBER_OR_NULL,
  base_kw_high: NUMBER_OR_NULL,
  base_kw_low: NUMBER_OR_NULL,
  ambient_c: NUMBER_OR_NULL,
  hot_spot_c: NUMBER_OR_NULL,
  top_oil_c: NUMBER_OR_NULL,
  thermal_stress_prob: NUMBER_OR_NULL,
  voltage_stress_prob: NUMBER_OR_NULL,
  import_kw: NUMBER_OR_NULL,
  export_kw: NUMBER_OR_NULL,
  import_slot_kw: NUMBER_OR_NULL,
  export_slot_kw: NUMBER_OR_NULL,
  import_limited_by: LIMITING_FACTOR,
  export_limited_by: LIMITING_FACTOR,
  v_min_low: NUMBER_OR_NULL,
  v_max_high: NUMBER_OR_NULL,
  voltage_sensitivity_v_per_kw: NUMBER_OR_NULL,
  history_slots: NUMBER_OR_NULL,
  data_quality: TIER,
});

const ENVELOPES = object({
  ...DT_SERIES_HEAD,
  newest_issued_at: DATE_TIME_OR_NULL,
  slots: { type: 'array', items: ENVELOPE_SLOT },
});

/** Default ranges: the last 7 days of stress; envelopes from 1 day ago to 1 day ahead. */
const STRESS_RANGE = { days: 7, aheadDays: 0 };
const ENVELOPES_RANGE = { days: 2, aheadDays: 1 };

/**
 * A DT's thermal stress and dynamic operating envelope, as the stress stage wrote them (tables dt_stress and
 * dt_operating_envelopes; processors/stress/stress.ts). Read only: nothing is recomputed here.
 */
export async function dtStressRoutes(
  app: FastifyInstance,
  { warehouse, ...options }: { warehouse: Warehouse; retentionDays: number },
) {
  app.get<DtSeriesRequest>(
    '/v1/dt/:id/stress',
    {
      schema: {
        summary:
          'Per 15-minute slot: thermal state (IEC 60076-7), limit exceedances and forecast stress probabilities',
        description:
          'Default: the last 7 days. thermal_stress_prob and voltage_stress_prob were forecast forecast_lead_slots before the slot (null without a forecast); thermal_exceeded and voltage_exceeded say what then happened. loss_of_life_min is cumulative.',
        ...dtSeriesSchema(options.retentionDays, STRESS_RANGE),
        response: { 200: STRESS, ...BELOW_MINIMUM },
      },
    },
    async (request) => {
      const { id, from, to } = await dtSeriesRange(warehouse, request, options.retentionDays, STRESS_RANGE);
      const [rows, [location]] = await Promise.all([
        runQuery(warehouse, queries.dt_stress_rows, { dt_id: id, from_ms: from, to_ms: to }),
        runQuery(warehouse, queries.dt_location, { dt_id: id }),
      ]);
      const slots = rows.map((r) => ({
        ...nanAsNull(r),
        slot_start: iso(r.slot_start_ms),
        ami_coverage_pct: round(r.ami_coverage_pct, 2),
        data_quality: dataQualityTier(r.data_quality),
      }));
      const newest = slots.at(-1);
      const dataQuality = newest?.data_quality ?? 'modelled-only';
      requireDataQuality(`transformer ${JSON.stringify(id)}`, dataQuality, request.query.min_data_quality);
      return {
        dt_id: id,
        from: iso(from),
        to: iso(to),
        slot_minutes: 15,
        data_quality: dataQuality,
        ami_coverage_pct: newest?.ami_coverage_pct ?? 0,
        limits: stressLimits(location?.nominal_voltage_v ?? null),
        summary: {
          slots: slots.length,
          thermal_exceedances: slots.filter((s) => s.thermal_exceeded).length,
          voltage_exceedances: slots.filter((s) => s.voltage_exceeded).length,
          peak_hot_spot_c: slots.length ? maxOf(slots.map((s) => s.peak_hot_spot_c ?? -Infinity)) : null,
          max_load_factor: slots.length ? maxOf(slots.map((s) => s.load_factor ?? 0)) : null,
          loss_of_life_min: newest?.loss_of_life_min ?? null,
        },
        slots,
      };
    },
  );

  app.get<DtSeriesRequest>(
    '/v1/dt/:id/envelopes',
    {
      schema: {
        summary:
          'Dynamic operating envelope per 15-minute slot: extra import and export kW within the limits',
        description:
          'Default: from 1 day ago to 1 day ahead. Each past slot shows the issue that was in force during it (made just before it); each slot ahead the newest forecast. import_kw / export_kw hold in every slot of an issue at once (the envelope proper); import_slot_kw / export_slot_kw in that slot alone (the thermal mass lets a short burst go further). limited_by names the binding limit.',
        ...dtSeriesSchema(options.retentionDays, ENVELOPES_RANGE),
        response: { 200: ENVELOPES, ...BELOW_MINIMUM },
      },
    },
    async (request) => {
      const { id, from, to } = await dtSeriesRange(
        warehouse,
        request,
        options.retentionDays,
        ENVELOPES_RANGE,
      );
      const [rows, [quality]] = await Promise.all([
        runQuery(warehouse, queries.dt_operating_envelope_rows, { dt_id: id, from_ms: from, to_ms: to }),
        runQuery(warehouse, queries.dt_newest_quality, { dt_id: id }),
      ]);
      const slots = rows.map((r) => ({
        ...nanAsNull(r),
        slot_start: iso(r.slot_start_ms),
        issued_at: iso(r.issued_at_ms),
        data_quality: dataQualityTier(r.data_quality),
      }));
      // Tier and coverage from one place: the load-envelope slot the newest issue in the range was forecast from
      // (the slot before its issued_at, whose tier the stress stage copied into the issue); without an issue in
      // the range, the DT's newest load envelope.
      const newestIssue = rows.reduce<(typeof rows)[number] | undefined>(
        (best, r) => (best === undefined || r.issued_at_ms > best.issued_at_ms ? r : best),
        undefined,
      );
      const [forecastFrom] = newestIssue
        ? await runQuery(warehouse, queries.envelopes_for_dt, {
            dt_id: id,
            from_ms: newestIssue.issued_at_ms - SLOT_MS,
            to_ms: newestIssue.issued_at_ms,
          })
        : [];
      const source = newestIssue
        ? {
            tier: dataQualityTier(forecastFrom?.data_quality ?? newestIssue.data_quality),
            // The slot is gone only past the retention: no coverage to declare then.
            coverage: forecastFrom?.ami_coverage_pct ?? 0,
          }
        : quality !== undefined && quality.slots > 0
          ? { tier: dataQualityTier(quality.data_quality), coverage: quality.ami_coverage_pct }
          : { tier: 'modelled-only' as const, coverage: 0 };
      const dataQuality = source.tier;
      requireDataQuality(`transformer ${JSON.stringify(id)}`, dataQuality, request.query.min_data_quality);
      return {
        dt_id: id,
        from: iso(from),
        to: iso(to),
        slot_minutes: 15,
        data_quality: dataQuality,
        ami_coverage_pct: round(source.coverage, 2),
        newest_issued_at: newestIssue ? iso(newestIssue.issued_at_ms) : null,
        slots,
      };
    },
  );
}
