import { describe, expect, it } from 'vitest';

import { DAY_MS } from '../../core/time.js';
import {
  DEFAULT_IMPEDANCE_CONFIG,
  initialImpedanceState,
  stepImpedance,
  type ImpedanceConfig,
  type LegDayImpedance,
} from '../../processors/impedance/impedance.js';
import { meterReadingOf } from '../../simulator/readings.js';
import type { ImpedanceFlag } from '../../schemas/types.gen.js';
import { createSimulation, type Simulation } from '../../simulator/model.js';

const START = Date.UTC(2026, 5, 1);
const DAYS = 14;
/**
 * The simulator's healthy service drops are at most 432 mΩ and its degrading joints climb 8-30 % a day from
 * ~150 mΩ, so with the default 800 mΩ few would cross within a short run: the test flags at 500 mΩ.
 */
const CONFIG: ImpedanceConfig = {
  ...DEFAULT_IMPEDANCE_CONFIG,
  flags: { ...DEFAULT_IMPEDANCE_CONFIG.flags, absoluteMohm: 500 },
};

/** Runs the simulated feeder's published readings through the impedance processor, in publication order. */
function runFeeder(sim: Simulation, config: ImpedanceConfig) {
  const dtOf = new Map(sim.topology.meters.map((m) => [m.meter_id, m.dt_id]));
  let state = initialImpedanceState();
  const days: LegDayImpedance[] = [];
  const flags: ImpedanceFlag[] = [];
  let tooLate = 0;
  let insufficient = 0;
  const apply = (outputs: ReturnType<typeof stepImpedance>['outputs']) => {
    for (const o of outputs) {
      if (o.type === 'leg-day' && o.row.is_final) days.push(o.row);
      else if (o.type === 'flag') flags.push(o.flag);
      else if (o.type === 'too-late') tooLate++;
      else if (o.type === 'insufficient') insufficient++;
    }
  };
  for (const message of sim.messages()) {
    if (message.kind !== 'telemetry') continue;
    for (const r of Array.isArray(message.payload) ? message.payload : [message.payload]) {
      const reading = meterReadingOf(r, message.source, dtOf.get(message.source)!, message.ts);
      const step = stepImpedance(state, { type: 'reading', reading }, config);
      state = step.state;
      apply(step.outputs);
    }
  }
  return { days, flags, tooLate, insufficient };
}

/**
 * With the default reference panel (64 legs) every leg of these DTs (~54 legs each) is a panel peer; with 20,
 * most legs learn from and are referenced against a panel of a third of their DT, as in a DT of 200 legs.
 */
describe.each([DEFAULT_IMPEDANCE_CONFIG.steps.referencePanel, 20])(
  'impedance on simulated data, reference panel of %i legs',
  (panel) => {
    const config: ImpedanceConfig = { ...CONFIG, steps: { ...CONFIG.steps, referencePanel: panel } };
    // Every pole at the busbar: a meter's same-phase peers share its voltage reference, so the truth is the
    // service drop alone. On radial feeders the estimate also holds the feeder segments between the meter
    // and its reference peers (docs/methods/impedance.md).
    const sim = createSimulation({
      seed: 11,
      transformers: 4,
      metersPerTransformer: 40,
      silentShare: 0.1,
      lvFeederScale: 0,
      startMs: START,
      endMs: START + DAYS * DAY_MS,
    });
    const meterIndex = new Map(sim.meters.map((m) => [m.meter_id, m.index]));
    const { days, flags, insufficient } = runFeeder(sim, config);
    const truthOf = (row: { meter_id: string; leg: number; day: number }) =>
      sim.impedanceMohm(meterIndex.get(row.meter_id)!, row.leg, row.day / DAY_MS);
    const threshold = CONFIG.flags.absoluteMohm;

    it('publishes a median only on enough evidence, and every healthy leg-day published is within 5% of the truth', () => {
      const healthy = days.filter((d) => {
        const m = sim.meters[meterIndex.get(d.meter_id)!]!;
        return !(m.degradation && m.degradation.leg === d.leg);
      });
      const errors = healthy.map((d) => Math.abs(d.median_mohm / truthOf(d) - 1)).sort((a, b) => a - b);
      const legs = new Set(healthy.map((d) => `${d.meter_id}/${d.leg}`));
      console.log(
        `${healthy.length} healthy leg-days published, ${insufficient} leg-days without enough evidence; ` +
          `${legs.size} legs with a median; error p50 ${(100 * errors[errors.length >> 1]!).toFixed(2)}%, ` +
          `p95 ${(100 * errors[Math.floor(errors.length * 0.95)]!).toFixed(2)}%, max ${(100 * errors.at(-1)!).toFixed(2)}%`,
      );
      // Medians rest on at least the configured evidence...
      for (const d of days) {
        expect(d.effective_events).toBeGreaterThanOrEqual(
          DEFAULT_IMPEDANCE_CONFIG.evidence.minEffectiveEvents,
        );
        expect(d.stderr_mohm).toBeLessThanOrEqual(
          DEFAULT_IMPEDANCE_CONFIG.evidence.maxRelativeStdErr * d.median_mohm,
        );
      }
      // ... there are enough of them to matter (a third of the single-leg legs get one on some day) ...
      const singleLegLegs = sim.meters.filter((m) => m.legs === 1).length;
      expect(legs.size).toBeGreaterThan(singleLegLegs / 3);
      // ... and each is within 5% of the simulator's true impedance of that leg on that day.
      for (const d of healthy)
        expect(Math.abs(d.median_mohm / truthOf(d) - 1), `${d.meter_id}/${d.leg} ${d.day}`).toBeLessThan(
          0.05,
        );
    });

    it('flags every degrading connection within two days of crossing the threshold, and no healthy leg', () => {
      const degrading = sim.meters.filter((m) => m.degradation);
      let crossing = 0;
      for (const m of degrading) {
        const leg = m.degradation!.leg;
        let crossed: number | null = null;
        for (let day = START / DAY_MS; day < START / DAY_MS + DAYS - 1; day++)
          if (crossed === null && sim.impedanceMohm(m.index, leg, day) >= threshold) crossed = day * DAY_MS;
        if (crossed === null) continue;
        crossing++;
        const flagged = flags.filter((f) => f.meter_id === m.meter_id && f.leg === leg).map((f) => f.day);
        expect(
          flagged.some((day) => day <= crossed + 2 * DAY_MS),
          `${m.meter_id} leg ${leg}`,
        ).toBe(true);
      }
      console.log(
        `${degrading.length} degrading connections, ${crossing} cross ${threshold} mΩ in time; flags: ` +
          ['absolute', 'own_rise', 'peer_rise']
            .map((k) => `${k} ${flags.filter((f) => f.kind === k).length}`)
            .join(', '),
      );
      // The feeder has degrading connections that cross the threshold with two days left to flag them.
      expect(crossing).toBeGreaterThan(0);
      const wrong = flags.filter((f) => {
        const m = sim.meters[meterIndex.get(f.meter_id)!]!;
        return !(m.degradation && m.degradation.leg === f.leg && f.day / DAY_MS >= m.degradation.onsetDay);
      });
      expect(wrong).toEqual([]);
    });
  },
);
