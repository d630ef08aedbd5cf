import type { FastifyInstance } from 'fastify';
import { iso } from '../../core/time.js';
import { sqlQuery } from '../../io/warehouse/sql-files.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { dataQualityTier, requireDataQuality } from '../data-quality.js';
import { dtSeriesRange, dtSeriesSchema, type DtSeriesRequest } from '../dt-series.js';
import { round } from '../time-range.js';
import { tenantOf } from '../tenancy.js';

/** Transformer endpoints. They read what the processors wrote and never recompute it. */
export function dtRoutes(app: FastifyInstance, warehouse: Warehouse, options: { retentionDays: number }) {
  app.get(
    '/v1/dt',
    {
      schema: {
        summary: "The key's tenant's distribution transformers with AMI coverage and data-quality tier",
        querystring: { type: 'object', additionalProperties: false, properties: {} },
      },
    },
    async (request) => {
      const rows = await warehouse.query<Record<string, unknown>>(sqlQuery('list_dts'), {
        tenant: tenantOf(request),
      });
      return {
        transformers: rows.map((r) => ({
          dt_id: r.dt_id,
          feeder_id: r.feeder_id,
          rated_kva: r.rated_kva,
          cooling_class: r.cooling_class,
          latitude: r.latitude,
          longitude: r.longitude,
          weather_station_id: r.weather_station_id,
          meters_connected: Number(r.meters_connected),
          last_slot_start: r.last_slot_start
            ? iso(Date.parse(String(r.last_slot_start).replace(' ', 'T') + 'Z'))
            : null,
          ami_coverage_pct: round(Number(r.ami_coverage_pct), 2),
          data_quality: r.data_quality,
        })),
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
        ...dtSeriesSchema(options.retentionDays, { days: 30, to: 'now' }),
      },
    },
    async (request) => {
      const { id, from, to } = await dtSeriesRange(warehouse, request, {
        retentionDays: options.retentionDays,
        defaultDays: 30,
        defaultTo: Date.now(),
      });
      const rows = await warehouse.query<Record<string, unknown>>(sqlQuery('envelopes_for_dt'), {
        dt_id: id,
        from_ms: from,
        to_ms: to,
      });
      const slots = rows.map((r) => ({
        slot_start: iso(Number(r.slot_start_ms)),
        is_final: Boolean(r.is_final),
        net_mean_kw: r.net_mean_kw,
        min_kw: r.min_kw,
        max_kw: r.max_kw,
        p95_kw: r.p95_kw,
        import_kwh: r.import_kwh,
        export_kwh: r.export_kwh,
        q_mean_kvar: r.q_mean_kvar,
        legs: (r.leg as number[]).map((leg, i) => ({
          leg,
          v_min: (r.v_min as number[])[i],
          v_mean: (r.v_mean as number[])[i],
          v_max: (r.v_max as number[])[i],
        })),
        meters_reporting: Number(r.meters_reporting),
        meters_connected: Number(r.meters_connected),
        readings: Number(r.readings),
        ami_coverage_pct: round(Number(r.ami_coverage_pct), 2),
        data_quality: r.data_quality,
        // net_mean_kw and the other power and energy figures describe the whole DT; these say how much of it
        // was measured (processors/imputation.ts).
        profile_source: r.profile_source,
        measured_net_mean_kw: Number(r.net_mean_kw) - Number(r.imputed_kw),
        imputed_kw: r.imputed_kw,
        imputed_meters: Number(r.imputed_meters),
      }));
      // The profile as a whole is declared with the tier of its newest slot: the 30 days ending there.
      const newest = slots.at(-1);
      const dataQuality = dataQualityTier(newest?.data_quality ?? 'modelled-only');
      requireDataQuality(`transformer ${JSON.stringify(id)}`, dataQuality, request.query.min_data_quality);
      return {
        dt_id: id,
        from: iso(from),
        to: iso(to),
        slot_minutes: 15,
        data_quality: dataQuality,
        ami_coverage_pct: newest?.ami_coverage_pct ?? 0,
        slots,
      };
    },
  );
}
