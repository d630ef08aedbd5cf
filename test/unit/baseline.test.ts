import { describe, expect, it } from 'vitest';
import { DAY_MS, MINUTE_MS, SLOT_MS } from '../../core/time.js';
import {
  baselineMethod,
  computeBaseline,
  type BaselineMethod,
} from '../../processors/flexibility/baseline.js';
import { SITE, createSimulation } from '../../simulator/model.js';

/**
 * Baseline accuracy against ground truth. The simulator gives weeks of realistic household loads (diurnal
 * shape, weekday/weekend, appliances, air conditioning with the weather, EV charging, rooftop PV); no event
 * happens in it, so the metered load in any window IS the true baseline, the counterfactual a settlement
 * estimates. Three weeks of history, then on each of the next 14 days two event windows (07:00–09:00 and
 * 18:00–21:00 local) for every meter: each methodology's baseline from the history before the event, against
 * the metered mean kW in the window. Figures per meter-event and per portfolio (all meters of the feeder
 * summed, as an aggregator settles them); docs/methods/baselines.md quotes them.
 */
const TIME_ZONE = 'Asia/Kolkata';
const OFFSET_MS = SITE.utcOffsetMinutes * MINUTE_MS;
// Monday 2026-05-04, local midnight.
const START = Date.UTC(2026, 4, 4) - OFFSET_MS;
const HISTORY_DAYS = 21;
const EVENT_DAYS = 14;
const WINDOWS = [
  { name: 'morning', startHour: 7, hours: 2 },
  { name: 'evening', startHour: 18, hours: 3 },
];
/** Meter-events whose true mean is below this are left out of the per-meter MAPE (a net load near zero). */
const MAPE_FLOOR_KW = 0.3;

const METHODS: [string, BaselineMethod][] = [
  ['high-4-of-5', baselineMethod('high-4-of-5')],
  ['high-4-of-5 unadjusted', baselineMethod('high-4-of-5', { adjustment: null })],
  ['10-of-10', baselineMethod('10-of-10')],
  ['high-5-of-10', baselineMethod('high-5-of-10')],
  ['same-period-yesterday', baselineMethod('same-period-yesterday')],
];

interface Figures {
  events: number;
  /** Σ (baseline − true) / Σ true over meter-events, %. */
  biasPct: number;
  /** Mean |baseline − true| / true over meter-events with true ≥ MAPE_FLOOR_KW, %. */
  mapePct: number;
  /** The same two over portfolio events (all meters summed). */
  portfolioBiasPct: number;
  portfolioMapePct: number;
}

describe('baseline accuracy on simulated meters', () => {
  it('each methodology’s bias and MAPE stay within bounds, and the adjusted High 4 of 5 beats same period yesterday', () => {
    const sim = createSimulation({
      seed: 23,
      transformers: 2,
      metersPerTransformer: 40,
      silentShare: 0,
      intervalMs: SLOT_MS,
      startMs: START,
      endMs: START + (HISTORY_DAYS + EVENT_DAYS) * DAY_MS,
    });
    const meters = sim.topology.meters.length;
    const history = Array.from({ length: meters }, () => new Map<number, number>());
    for (const step of sim.steps()) step.readings.forEach((r, i) => history[i]!.set(step.ts, r.p_kw));

    const acc = new Map<string, Accumulator>();
    const add = (key: string): Accumulator => {
      let a = acc.get(key);
      if (!a)
        acc.set(key, (a = { err: 0, true: 0, ape: 0, apeN: 0, n: 0, pErr: 0, pTrue: 0, pApe: 0, pN: 0 }));
      return a;
    };
    for (const [name, method] of METHODS)
      for (let d = HISTORY_DAYS; d < HISTORY_DAYS + EVENT_DAYS; d++)
        for (const w of WINDOWS) {
          const first = START + d * DAY_MS + w.startHour * 3_600_000;
          const periods = Array.from({ length: w.hours * 4 }, (_, k) => first + k * SLOT_MS);
          const into = [add(`${name}|all`), add(`${name}|${w.name}`)];
          let baselineTotal = 0;
          let trueTotal = 0;
          for (let i = 0; i < meters; i++) {
            const b = computeBaseline(method, { history: history[i]!, periods, timeZone: TIME_ZONE });
            if (!b.available) throw new Error(`${name}: ${b.reason}`);
            const baselineKw = mean(b.periods.map((p) => p.kw));
            const trueKw = mean(periods.map((p) => history[i]!.get(p)!));
            baselineTotal += baselineKw;
            trueTotal += trueKw;
            for (const a of into) {
              a.err += baselineKw - trueKw;
              a.true += trueKw;
              a.n++;
              if (trueKw >= MAPE_FLOOR_KW) {
                a.ape += Math.abs(baselineKw - trueKw) / trueKw;
                a.apeN++;
              }
            }
          }
          for (const a of into) {
            a.pErr += baselineTotal - trueTotal;
            a.pTrue += trueTotal;
            a.pApe += Math.abs(baselineTotal - trueTotal) / trueTotal;
            a.pN++;
          }
        }
    const f = (name: string, window = 'all'): Figures => {
      const a = acc.get(`${name}|${window}`)!;
      return {
        events: a.n,
        biasPct: (100 * a.err) / a.true,
        mapePct: (100 * a.ape) / a.apeN,
        portfolioBiasPct: (100 * a.pErr) / a.pTrue,
        portfolioMapePct: (100 * a.pApe) / a.pN,
      };
    };
    const pct = (v: number) => v.toFixed(1).padStart(6);
    console.log(
      `baseline accuracy, ${meters} simulated meters, ${EVENT_DAYS} event days × ${WINDOWS.length} windows ` +
        `(bias, MAPE %; per meter-event | per portfolio event):\n` +
        METHODS.flatMap(([name]) =>
          ['all', ...WINDOWS.map((w) => w.name)].map((window) => {
            const x = f(name, window);
            return `  ${name.padEnd(24)} ${window.padEnd(8)} ${pct(x.biasPct)} ${pct(x.mapePct)} | ${pct(x.portfolioBiasPct)} ${pct(x.portfolioMapePct)}`;
          }),
        ).join('\n'),
    );
    expect(f('high-4-of-5').events).toBe(meters * EVENT_DAYS * WINDOWS.length);
    for (const [name, bounds] of Object.entries(BOUNDS)) {
      const got = f(name);
      expect(got.biasPct, `${name} bias`).toBeGreaterThanOrEqual(bounds.bias[0]);
      expect(got.biasPct, `${name} bias`).toBeLessThanOrEqual(bounds.bias[1]);
      expect(got.mapePct, `${name} MAPE`).toBeLessThanOrEqual(bounds.mape);
      expect(got.portfolioMapePct, `${name} portfolio MAPE`).toBeLessThanOrEqual(bounds.portfolioMape);
    }
    // The adjusted High 4 of 5 beats the naive baseline on a portfolio, and per meter in the morning. Per meter in
    // the evening it does not: picking each household's highest days picks its EV-charging evenings.
    const naive = f('same-period-yesterday');
    expect(f('high-4-of-5').portfolioMapePct).toBeLessThan(naive.portfolioMapePct);
    expect(f('high-4-of-5', 'morning').mapePct).toBeLessThan(f('same-period-yesterday', 'morning').mapePct);
    expect(f('high-4-of-5', 'morning').portfolioMapePct).toBeLessThan(
      f('same-period-yesterday', 'morning').portfolioMapePct,
    );
  }, 120_000);
});

interface Accumulator {
  err: number;
  true: number;
  ape: number;
  apeN: number;
  n: number;
  pErr: number;
  pTrue: number;
  pApe: number;
  pN: number;
}

/** Bounds, %: bias per meter-event [low, high] (High X of Y is biased upward by design), MAPE per meter-event and per portfolio event. */
const BOUNDS: Record<string, { bias: [number, number]; mape: number; portfolioMape: number }> = {
  'high-4-of-5': { bias: [0, 20], mape: 40, portfolioMape: 25 },
  '10-of-10': { bias: [-10, 10], mape: 30, portfolioMape: 20 },
  'high-5-of-10': { bias: [0, 30], mape: 45, portfolioMape: 35 },
  'same-period-yesterday': { bias: [-10, 10], mape: 35, portfolioMape: 30 },
};

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}
