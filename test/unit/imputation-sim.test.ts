import { transformerTimeZone } from '../../core/schedule.js';
import { localCell, ZoneOffsets } from '../../core/zone-offsets.js';
import { describe, expect, it } from 'vitest';
import { DAY_MS, SLOTS_PER_DAY, slotStart } from '../../core/time.js';
import {
  initialEnvelopeState,
  stepEnvelope,
  type EnvelopeConfig,
  type EnvelopeInput,
  type EnvelopeState,
} from '../../processors/load-envelope/load-envelope.js';
import {
  buildLoadPatterns,
  shapeIndex,
  type DtLevelRow,
  type DtNameplate,
  type FeederPatternRow,
  type MeterShapeRow,
} from '../../processors/load-envelope/imputation.js';
import type { DtEnvelope } from '../../schemas/types.gen.js';
import { createSimulation } from '../../simulator/model.js';

/**
 * Imputation on simulated data. The simulator's steps carry every meter's reading and which meters are in a
 * communication outage; the processor sees only the readings of meters not in an outage (as without
 * backfill), while the truth is the whole DT. Two weeks of final envelopes build the feeder patterns exactly
 * as sql/queries/feeder_load_patterns.sql and dt_load_levels.sql aggregate them; from then on, slots with
 * meters missing are imputed, and their net load must be much closer to the truth than the reporting
 * meters' sum. One DT publishes nothing at all and must get modelled slots.
 */
const START = Date.UTC(2026, 4, 4);
const DAYS = 18;
const LEARN_DAYS = 14;
const config: EnvelopeConfig = { allowedLatenessMs: 5 * 60_000, revisionHorizonMs: 2 * 3_600_000 };

describe('imputation on simulated data', () => {
  it('imputed slots are at least twice as close to the true DT load as the reporting meters alone; a DT without AMI is modelled', () => {
    const sim = createSimulation({
      seed: 11,
      transformers: 5,
      metersPerTransformer: 30,
      silentShare: 0.6,
      intervalMs: 5 * 60_000,
      startMs: START,
      endMs: START + DAYS * DAY_MS,
    });
    const topology = sim.topology;
    const silentDt = topology.transformers.at(-1)!.dt_id;
    const dtOfMeter = topology.meters.map((m) => m.dt_id);
    const counts = new Map<string, number>();
    for (const m of topology.meters) counts.set(m.dt_id, (counts.get(m.dt_id) ?? 0) + 1);
    const nameplates = new Map<string, DtNameplate & { zone: ZoneOffsets }>();
    for (const t of topology.transformers)
      nameplates.set(t.dt_id, {
        feeder_id: t.feeder_id,
        rated_kva: t.rated_kva,
        meters_connected: counts.get(t.dt_id)!,
        zone: ZoneOffsets.of(transformerTimeZone(t)),
      });

    let state: EnvelopeState = initialEnvelopeState();
    const latest = new Map<string, DtEnvelope>();
    const feed = (input: EnvelopeInput) => {
      const step = stepEnvelope(state, input, config);
      state = step.state;
      for (const o of step.outputs) {
        if (o.type !== 'envelope') continue;
        const key = `${o.envelope.dt_id} ${o.envelope.slot_start}`;
        const seen = latest.get(key);
        if (!seen || seen.version <= o.envelope.version) latest.set(key, o.envelope);
      }
    };
    for (const t of topology.transformers) {
      feed({ type: 'meters-connected', dt_id: t.dt_id, meters: counts.get(t.dt_id)! });
      const plate = nameplates.get(t.dt_id)!;
      feed({
        type: 'dt-nameplate',
        dt_id: t.dt_id,
        feeder_id: plate.feeder_id,
        rated_kva: plate.rated_kva,
        time_zone: plate.zone.zone,
      });
    }

    // What sql/queries/meter_load_patterns.sql sums from the readings table: per meter, day type and hour.
    const shapes = new Map<string, MeterShapeRow>();
    // Truth: per DT and slot, the sum of every meter's power (mean over the slot's reading intervals).
    const truth = new Map<string, { sum: number; n: number }>();
    const learnUntil = START + LEARN_DAYS * DAY_MS;
    let patternsAt = Number.NaN;
    for (const step of sim.steps()) {
      if (Number.isNaN(patternsAt) && step.ts >= learnUntil) {
        patternsAt = step.ts;
        feed({
          type: 'load-patterns',
          patterns: patternsFrom([...latest.values()], nameplates, [...shapes.values()]),
        });
      }
      const perDt = new Map<string, number>();
      step.readings.forEach((r, i) => {
        const dt = dtOfMeter[i]!;
        perDt.set(dt, (perDt.get(dt) ?? 0) + r.p_kw);
        if (step.outage[i] || dt === silentDt) return;
        const meterId = topology.meters[i]!.meter_id;
        if (step.ts < learnUntil) {
          const index = shapeIndex(step.ts, nameplates.get(dt)!.zone);
          const key = `${meterId} ${index}`;
          const row = shapes.get(key) ?? {
            dt_id: dt,
            meter_id: meterId,
            day_type: index >= 24 ? 1 : 0,
            hour: index % 24,
            kw_sum: 0,
            readings: 0,
          };
          row.kw_sum += r.p_kw;
          row.readings++;
          shapes.set(key, row);
        }
        feed({
          type: 'reading',
          reading: {
            meter_id: meterId,
            dt_id: dt,
            ts: step.ts,
            p_kw: r.p_kw,
            q_kvar: r.q_kvar,
            legs: r.legs.map((l) => ({ leg: l.leg, v: l.v, i: l.i })),
            e_imp_kwh: r.e_imp_kwh,
            e_exp_kwh: r.e_exp_kwh,
            received_at: step.emitTs,
          },
        });
      });
      for (const [dt, kw] of perDt) {
        const key = `${dt} ${slotStart(step.ts)}`;
        const acc = truth.get(key) ?? { sum: 0, n: 0 };
        acc.sum += kw;
        acc.n++;
        truth.set(key, acc);
      }
    }

    let imputedError = 0;
    let measuredError = 0;
    let imputed = 0;
    let measuredOnlyAfter = 0;
    const modelled: DtEnvelope[] = [];
    for (const [key, e] of latest) {
      if (e.dt_id === silentDt) {
        modelled.push(e);
        continue;
      }
      if (!e.is_final || e.slot_start < patternsAt + 3_600_000) continue;
      if (e.meters_reporting < e.meters_connected && e.profile_source !== 'imputed') measuredOnlyAfter++;
      if (e.profile_source !== 'imputed') continue;
      const t = truth.get(key)!;
      const trueKw = t.sum / t.n;
      expect(e.imputed_meters).toBe(e.meters_connected - e.meters_reporting);
      expect(e.data_quality).toBe('ami_imputed');
      imputedError += Math.abs(e.net_mean_kw - trueKw);
      measuredError += Math.abs(e.net_mean_kw - e.imputed_kw - trueKw);
      imputed++;
    }
    const maeImputed = imputedError / imputed;
    const maeMeasured = measuredError / imputed;
    console.log(
      `imputation on simulated data: ${imputed} imputed slots, MAE ${maeImputed.toFixed(3)} kW imputed vs ${maeMeasured.toFixed(3)} kW reporting meters only (${(maeMeasured / maeImputed).toFixed(2)}x)`,
    );
    expect(imputed).toBeGreaterThan(200);
    // Every slot with meters missing after the patterns arrived was imputed (the feeder has data for all).
    expect(measuredOnlyAfter).toBe(0);
    expect(maeImputed).toBeLessThanOrEqual(maeMeasured / 2);

    // The DT without AMI: modelled, final, version 1, one slot per closed quarter hour from the start.
    expect(modelled.length).toBeGreaterThan((DAYS - 1) * SLOTS_PER_DAY);
    for (const e of modelled) {
      expect(e).toMatchObject({
        profile_source: 'modelled',
        data_quality: 'modelled_only',
        version: 1,
        is_final: true,
        meters_reporting: 0,
        meters_connected: counts.get(silentDt),
      });
      expect(e.imputed_kw).toBe(e.net_mean_kw);
    }
  }, 120_000);
});

/** What the two pattern queries compute, over the final envelopes at hand (measured part, local time). */
function patternsFrom(
  envelopes: DtEnvelope[],
  dts: Map<string, DtNameplate & { zone: ZoneOffsets }>,
  meterRows: MeterShapeRow[],
) {
  const feeder = new Map<string, FeederPatternRow>();
  const levels = new Map<string, DtLevelRow>();
  for (const e of envelopes) {
    if (!e.is_final || e.meters_reporting === 0) continue;
    const dt = dts.get(e.dt_id)!;
    const index = localCell(e.slot_start, dt.zone);
    const key = `${dt.feeder_id} ${index}`;
    const row = feeder.get(key) ?? {
      feeder_id: dt.feeder_id,
      day_type: index >= SLOTS_PER_DAY ? 1 : 0,
      slot_of_day: index % SLOTS_PER_DAY,
      kw_sum: 0,
      meter_slots: 0,
    };
    row.kw_sum += e.net_mean_kw - e.imputed_kw;
    row.meter_slots += e.meters_reporting;
    feeder.set(key, row);
    const level = levels.get(e.dt_id) ?? { dt_id: e.dt_id, kw_sum: 0, meter_slots: 0 };
    level.kw_sum += e.net_mean_kw - e.imputed_kw;
    level.meter_slots += e.meters_reporting;
    levels.set(e.dt_id, level);
  }
  return buildLoadPatterns([...feeder.values()], [...levels.values()], dts, meterRows);
}
