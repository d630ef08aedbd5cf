import { describe, expect, it } from 'vitest';

import { DAY_MS, SLOT_MS } from '../../core/time.js';
import {
  DEFAULT_ENVELOPE_CONFIG,
  initialEnvelopeState,
  stepEnvelope,
} from '../../processors/load-envelope/load-envelope.js';
import { customerHeadroomKw } from '../../processors/stress/customer-voltage.js';
import {
  DEFAULT_STRESS_CONFIG,
  dtCustomerSensitivities,
  initialStressState,
  stepStress,
  type StressInput,
} from '../../processors/stress/stress.js';
import type { DtEnvelope } from '../../schemas/types.gen.js';
import { createSimulation, localHourOf } from '../../simulator/model.js';
import { meterReadingOf } from '../../simulator/readings.js';
import { powerFlowLimitKw } from '../../simulator/voltage-limit.js';

/**
 * The voltage headroom gridstream finds, against the AC power flow's own limit, on a simulated DT with radial
 * LV feeders. Processor level: the simulator's readings through the load-envelope and stress processors (as
 * the pipeline runs them, without the log), 12 days; then, for the evening slots of the last two days
 * (import: the lowest voltages) and the midday slots (export: PV), the headroom from the customers'
 * sensitivities the stress processor learnt, applied to the slot's observed customer voltages, is compared
 * with the power flow's limit at the slot's mean loads: the extra kW at which the first customer leaves the
 * band (−6 % / +10 % of 230 V), at the feeder end (the meter at the DT's farthest pole) and at the busbar.
 * The forecast (which voltage the envelope expects) is left out: this is the question of where extra load
 * moves which customer's voltage, which one sensitivity per DT answered 1.06–2.4 times too generously at
 * the feeder end.
 */
const START = Date.UTC(2026, 3, 1); // April: the heat's evening peaks and clear middays
const DAYS = 12;
const INTERVAL = 300_000;
const BAND = {
  vLow: 230 * (1 - DEFAULT_STRESS_CONFIG.voltageBand.lowPct / 100),
  vHigh: 230 * (1 + DEFAULT_STRESS_CONFIG.voltageBand.highPct / 100),
};

interface SlotCase {
  slot: number;
  sign: 1 | -1;
  gridstreamEnd: number;
  gridstreamBus: number;
  singleDtEnd: number;
  powerFlowEnd: number;
  powerFlowBus: number;
}

function run(): SlotCase[] {
  const sim = createSimulation({
    seed: 11,
    transformers: 1,
    metersPerTransformer: 40,
    silentShare: 0,
    startMs: START,
    endMs: START + DAYS * DAY_MS,
    intervalMs: INTERVAL,
    // An undersized DT: evening voltages close to the band's bottom, so the import limit is voltage's.
    ratingScale: 0.8,
    pvShare: 0.35,
  });
  const dt = sim.transformers[0]!;
  const meters = sim.meters;
  // The feeder end: the customer at the farthest pole.
  const far = [...dt.meterIndices].sort(
    (a, b) => dt.lv.distanceM[meters[b]!.pole]! - dt.lv.distanceM[meters[a]!.pole]! || a - b,
  )[0]!;
  const farId = meters[far]!.meter_id;

  let envelopes = initialEnvelopeState();
  envelopes = stepEnvelope(envelopes, { type: 'meters-connected', dt_id: dt.dt_id, meters: 40 }).state;
  let stress = initialStressState();
  const feed = (input: StressInput) => (stress = stepStress(stress, input).state);
  feed({ type: 'transformer', transformer: sim.topology.transformers[0]! });

  // Per slot: mean loads and source voltage (for the power flow); the single-DT regression of today's method.
  const slotP = new Map<number, { p: Float64Array; q: Float64Array; source: number; n: number }>();
  const single = { xy: 0, xx: 0, lastP: Number.NaN, lastV: Number.NaN, lastSlot: Number.NaN };
  const prior = (DEFAULT_STRESS_CONFIG.voltageSensitivityPriorPu * 230) / dt.ratedKva;
  const cases: SlotCase[] = [];
  const evalFrom = START + (DAYS - 2) * DAY_MS;

  const onEnvelope = (e: DtEnvelope) => {
    feed({ type: 'envelope', envelope: e });
    // Today's method: one sensitivity, ΔV_mean on ΔP of the DT, forgotten over ten days, with its prior.
    const vMean = e.legs.reduce((s, l) => s + l.v_mean, 0) / e.legs.length;
    if (single.lastSlot === e.slot_start - SLOT_MS) {
      const f = 1 - 1 / 960;
      const dp = e.net_mean_kw - single.lastP;
      single.xy = f * single.xy - (vMean - single.lastV) * dp;
      single.xx = f * single.xx + dp * dp;
    }
    Object.assign(single, { lastP: e.net_mean_kw, lastV: vMean, lastSlot: e.slot_start });
    const loads = slotP.get(e.slot_start);
    slotP.delete(e.slot_start);
    if (e.slot_start < evalFrom || !loads) return;
    const hour = localHourOf(e.slot_start + SLOT_MS / 2);
    const sign = hour >= 18.5 && hour < 22 ? 1 : hour >= 11 && hour < 14 ? -1 : 0;
    if (sign === 0) return;
    const customers = dtCustomerSensitivities(stress, dt.dt_id);
    const observed = new Map(e.meters.map((m) => [m.meter_id, sign > 0 ? m.v_low : m.v_high]));
    const voltageOf = (id: string) => observed.get(id);
    const priorXX = 20 * (0.1 * dt.ratedKva) ** 2;
    const sDt = Math.min(
      10 * prior,
      Math.max(0.2 * prior, (single.xy + prior * priorXX) / (single.xx + priorXX)),
    );
    const extreme = sign > 0 ? Math.min(...observed.values()) : Math.max(...observed.values());
    const pKw = loads.p.map((x) => x / loads.n);
    const qKvar = loads.q.map((x) => x / loads.n);
    const limit = (at: 'busbar' | number) =>
      powerFlowLimitKw(sim, {
        dtIndex: 0,
        pKw,
        qKvar,
        sourceV: loads.source / loads.n,
        utcDay: Math.floor(e.slot_start / DAY_MS),
        at,
        sign,
        ...BAND,
      });
    cases.push({
      slot: e.slot_start,
      sign,
      gridstreamEnd: customerHeadroomKw(customers, BAND, sign, Number.NaN, farId, voltageOf),
      gridstreamBus: customerHeadroomKw(customers, BAND, sign, Number.NaN, undefined, voltageOf),
      singleDtEnd: Math.max(0, (sign > 0 ? extreme - BAND.vLow : BAND.vHigh - extreme) / sDt),
      powerFlowEnd: limit(far),
      powerFlowBus: limit('busbar'),
    });
  };

  for (const step of sim.steps()) {
    const slot = Math.floor(step.ts / SLOT_MS) * SLOT_MS;
    let acc = slotP.get(slot);
    if (!acc) slotP.set(slot, (acc = { p: new Float64Array(40), q: new Float64Array(40), source: 0, n: 0 }));
    acc.n++;
    acc.source += step.sourceVoltage[0]!;
    for (const w of step.weather)
      feed({
        type: 'weather',
        observation: {
          station_id: sim.stations[0]!,
          ts: Date.parse(w.ts),
          ambient_c: w.ambient_c,
          received_at: step.emitTs,
        },
      });
    for (let i = 0; i < 40; i++) {
      const r = step.readings[i]!;
      acc.p[i]! += r.p_kw;
      acc.q[i]! += r.q_kvar;
      const out = stepEnvelope(
        envelopes,
        { type: 'reading', reading: meterReadingOf(r, meters[i]!.meter_id, dt.dt_id, step.emitTs) },
        DEFAULT_ENVELOPE_CONFIG,
      );
      envelopes = out.state;
      for (const o of out.outputs) if (o.type === 'envelope' && o.envelope.is_final) onEnvelope(o.envelope);
    }
  }
  return cases;
}

describe('voltage headroom against the AC power flow of a radial LV network', () => {
  const cases = run();
  const imports = cases.filter((c) => c.sign > 0 && c.powerFlowEnd > 0);
  const exports = cases.filter((c) => c.sign < 0 && c.powerFlowEnd > 0);

  it('has evening (import) and midday (export) slots to compare', () => {
    expect(imports.length).toBeGreaterThanOrEqual(20);
    expect(exports.length).toBeGreaterThanOrEqual(20);
  });

  // Margins. At the feeder end the customer's own sensitivity is what the power flow has there; what is left
  // is the regression's noise and the common MV drift in its voltage changes (0.93–0.99 of the limit for
  // import, 0.83–0.88 for export on this seed): 25 %. At the busbar the figure is the DT's, for extra load
  // spread over the feeders as the DT's load varies (each customer's sensitivity to the DT's load holds
  // the feeder it shares with that load); load at the busbar itself moves the voltages only through the DT's
  // impedance, so the DT figure is at or below the busbar's limit by the feeders' share: here 0.47–0.76, 60 %.
  /** Every slot's gridstream / power-flow ratio within [lowest, 1]. */
  const expectWithin = (ratioOf: (c: SlotCase) => number, lowest: number) => {
    for (const c of [...imports, ...exports]) {
      const what = `${new Date(c.slot).toISOString()} ${c.sign > 0 ? 'import' : 'export'}`;
      expect(ratioOf(c), what).toBeLessThanOrEqual(1);
      expect(ratioOf(c), what).toBeGreaterThanOrEqual(lowest);
    }
  };

  it('at the feeder end: at or below the power flow, within 25 %; one sensitivity per DT allowed far more', () => {
    expectWithin((c) => c.gridstreamEnd / c.powerFlowEnd, 0.75);
    // The method this replaces, on the same slots: above the power flow's limit at the feeder end.
    const ratios = [...imports, ...exports].map((c) => c.singleDtEnd / c.powerFlowEnd).sort((a, b) => a - b);
    expect(ratios[Math.floor(ratios.length / 2)]).toBeGreaterThan(2);
  });

  it('at the busbar: at or below the power flow, within 60 %', () => {
    expectWithin((c) => c.gridstreamBus / c.powerFlowBus, 0.4);
  });
});
