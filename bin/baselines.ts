import type { Command } from 'commander';
import { number } from './calibrate.js';
import { dateOfDay } from '../core/schedule.js';
import { DAY_MS, MINUTE_MS, SLOT_MS } from '../core/time.js';
import {
  METHODOLOGIES,
  METHODOLOGY_NAMES,
  computeBaseline,
  type MethodologyName,
} from '../processors/flexibility/baseline.js';
import { deliveredFlexibility, type AssetPeriods } from '../processors/flexibility/delivered.js';
import {
  BATTERY_KW,
  SITE,
  SimulationOptionsError,
  createSimulation,
  localDayOf,
  type SimFlexEvent,
} from '../simulator/model.js';

/**
 * `gridstream baselines`: each baseline methodology, and the delivered flexibility computed from it, against
 * the simulator's ground truth.
 *
 * Simulated households, a share with a behind-the-meter battery, 15-minute readings. After `historyDays` of
 * history, on the event weekdays (Monday, Tuesday and Thursday) of `eventDays`, every battery turns down
 * `kw` in the event window. Per event and methodology: each battery's meter baseline from its own history up to
 * the event (event-affected: the earlier event days are in it, passed as excluded days, which the like-day
 * methods skip and `same-period-yesterday` by its definition does not), and the delivered flexibility from
 * processors/flexibility/delivered.ts on the event's metered readings. The truth: the counterfactual is the
 * same simulation without the events (identical outside them), the true response the event's kW
 * (`flexResponseKw`). Figures:
 * - baseline bias Σ(baseline − counterfactual) / Σ counterfactual over battery-events (mean kW over the window),
 *   MAPE per battery-event (over those whose counterfactual mean is at least 0.3 kW) and per portfolio event
 *   (all batteries summed);
 * - delivered flexibility: bias Σ(delivered − true) / Σ true and error Σ|delivered − true| / Σ true per
 *   battery-event (kWh), and the mean |delivered − true| / true per portfolio event.
 */
export interface FlexAccuracyOptions {
  seed: number;
  transformers: number;
  metersPerTransformer: number;
  /** Share of meters with a battery (each in every event). */
  batteryShare: number;
  /** Local midnight of a Monday, epoch ms: the first simulated day. */
  startMs: number;
  /** Days of history before the first event day. */
  historyDays: number;
  /** Days with events (on Mondays, Tuesdays and Thursdays) after the history. */
  eventDays: number;
  /** The event window, local time. */
  windowStartHour: number;
  windowHours: number;
  /** Turn-down per battery, kW. */
  kw: number;
  /** Called with the share of the simulated time done. */
  onProgress?: (fraction: number) => void;
}

/** A Monday, local midnight at the site (IST). */
const MONDAY = Date.UTC(2026, 4, 4) - SITE.utcOffsetMinutes * MINUTE_MS;

export const DEFAULT_FLEX_ACCURACY: FlexAccuracyOptions = {
  seed: 23,
  transformers: 4,
  metersPerTransformer: 40,
  batteryShare: 0.5,
  startMs: MONDAY,
  historyDays: 21,
  eventDays: 28,
  windowStartHour: 18,
  windowHours: 2,
  kw: 3,
};

const TIME_ZONE = 'Asia/Kolkata';
/** Battery-events whose counterfactual mean is below this are left out of the baseline MAPE (near-zero load). */
const MAPE_FLOOR_KW = 0.3;
/** Event weekdays, days after a Monday. */
const EVENT_WEEKDAYS = new Set([0, 1, 3]);

export interface MethodAccuracy {
  /** The methodology, or a row over some of the events only (named so). */
  label: string;
  /** null: the counterfactual itself as the baseline (the oracle: what delivered.ts adds to a perfect baseline). */
  methodology: MethodologyName | null;
  /** Battery-events with a baseline, and without one. */
  batteryEvents: number;
  missing: number;
  baselineBiasPct: number;
  baselineMapePct: number;
  baselinePortfolioMapePct: number;
  deliveredBiasPct: number;
  deliveredErrorPct: number;
  deliveredPortfolioErrorPct: number;
}

export interface FlexAccuracy {
  batteries: number;
  events: number;
  /** True delivered energy of one battery-event, kWh. */
  trueKwhPerBatteryEvent: number;
  methods: MethodAccuracy[];
  /** Largest |metered − counterfactual − true response| over battery-periods, kW (the readings' rounding). */
  truthCheckKw: number;
  seconds: number;
}

export function runFlexAccuracy(o: FlexAccuracyOptions): FlexAccuracy {
  const began = performance.now();
  const days = o.historyDays + o.eventDays;
  const window = {
    seed: o.seed,
    transformers: o.transformers,
    metersPerTransformer: o.metersPerTransformer,
    batteryShare: o.batteryShare,
    silentShare: 0,
    intervalMs: SLOT_MS,
    startMs: o.startMs,
    endMs: o.startMs + days * DAY_MS,
  };
  const plain = createSimulation(window);
  const assets = plain.topology.assets;
  if (assets.length === 0) throw new SimulationOptionsError('no batteries: batteryShare is too small');
  if (!(o.kw > 0 && o.kw <= BATTERY_KW))
    throw new SimulationOptionsError(`kw must be more than 0 and at most ${BATTERY_KW}`);
  const eventDays: number[] = [];
  for (let d = o.historyDays; d < days; d++) if (EVENT_WEEKDAYS.has(d % 7)) eventDays.push(d);
  const eventStart = (d: number) => o.startMs + d * DAY_MS + o.windowStartHour * 3_600_000;
  const events: SimFlexEvent[] = eventDays.map((d) => ({
    assetIds: assets.map((a) => a.asset_id),
    direction: 'turn-down',
    startMs: eventStart(d),
    endMs: eventStart(d) + o.windowHours * 3_600_000,
    kw: o.kw,
  }));
  const sim = createSimulation({ ...window, flexEvents: events });
  const meterIndex = new Map(sim.topology.meters.map((m, i) => [m.meter_id, i]));
  const meters = assets.map((a) => meterIndex.get(a.meter_id!)!);
  const metered = meters.map(() => new Map<number, number>());
  const counterfactual = meters.map(() => new Map<number, number>());
  const total = days * (DAY_MS / SLOT_MS);
  let done = 0;
  for (const step of sim.steps()) {
    meters.forEach((i, k) => metered[k]!.set(step.ts, step.readings[i]!.p_kw));
    if (++done % 96 === 0) o.onProgress?.(done / (2 * total));
  }
  for (const step of plain.steps()) {
    meters.forEach((i, k) => counterfactual[k]!.set(step.ts, step.readings[i]!.p_kw));
    if (++done % 96 === 0) o.onProgress?.(done / (2 * total));
  }

  const periodsOf = (d: number) =>
    Array.from({ length: o.windowHours * 4 }, (_, k) => eventStart(d) + k * SLOT_MS);
  const dateOf = (d: number) => dateOfDay(localDayOf(o.startMs + d * DAY_MS));
  let truthCheckKw = 0;
  const trueKwh = meters.map(() => new Map<number, number>());
  for (const d of eventDays)
    meters.forEach((i, k) => {
      let kwh = 0;
      for (const p of periodsOf(d)) {
        const response = sim.flexResponseKw(i, p);
        kwh -= response / 4; // a turn-down delivers the negated change
        const off = metered[k]!.get(p)! - counterfactual[k]!.get(p)! - response;
        truthCheckKw = Math.max(truthCheckKw, Math.abs(off));
      }
      trueKwh[k]!.set(d, kwh);
    });

  const eventDaySet = new Set(eventDays);
  type Row = [string, MethodologyName | null, (d: number) => boolean];
  const rows: Row[] = [
    ['counterfactual (oracle)', null, () => true],
    ...METHODOLOGY_NAMES.map((name): Row => [name, name, () => true]),
    // The naive baseline where its one day is clean: the events whose previous day had none.
    ['same-period-yesterday, clean yesterday', 'same-period-yesterday', (d) => !eventDaySet.has(d - 1)],
  ];
  const methods = rows.map(([label, name, counts]): MethodAccuracy => {
    const method = name === null ? null : METHODOLOGIES[name];
    let n = 0;
    let missing = 0;
    let bErr = 0;
    let bTrue = 0;
    let ape = 0;
    let apeN = 0;
    let pApe = 0;
    let dErr = 0;
    let dAbs = 0;
    let dTrue = 0;
    let pErr = 0;
    let pN = 0;
    eventDays.forEach((d, e) => {
      if (!counts(d)) return;
      const periods = periodsOf(d);
      const excludedDays = eventDays.slice(0, e).map(dateOf);
      let portfolioBaseline = 0;
      let portfolioCounterfactual = 0;
      let portfolioTrue = 0;
      const inputs: AssetPeriods[] = [];
      meters.forEach((_, k) => {
        const b =
          method === null
            ? {
                available: true as const,
                periods: periods.map((p) => ({ slotStart: p, kw: counterfactual[k]!.get(p)! })),
              }
            : computeBaseline(method, { history: metered[k]!, periods, timeZone: TIME_ZONE, excludedDays });
        if (!b.available) {
          missing++;
          return;
        }
        n++;
        const baselineKw = mean(b.periods.map((p) => p.kw));
        const cfKw = mean(periods.map((p) => counterfactual[k]!.get(p)!));
        bErr += baselineKw - cfKw;
        bTrue += cfKw;
        if (cfKw >= MAPE_FLOOR_KW) {
          ape += Math.abs(baselineKw - cfKw) / cfKw;
          apeN++;
        }
        portfolioBaseline += baselineKw;
        portfolioCounterfactual += cfKw;
        portfolioTrue += trueKwh[k]!.get(d)!;
        inputs.push({
          assetId: assets[k]!.asset_id,
          meterId: assets[k]!.meter_id,
          baselineKw: new Map(b.periods.map((p) => [p.slotStart, p.kw])),
          metered: new Map(periods.map((p) => [p, { kw: metered[k]!.get(p)!, readings: 1 }])),
        });
      });
      if (inputs.length === 0) return;
      const delivered = deliveredFlexibility({
        direction: 'turn-down',
        periods,
        target: { amount: String(o.kw * inputs.length), unit: 'kW' },
        assets: inputs,
      });
      inputs.forEach((input, j) => {
        const k = assets.findIndex((a) => a.asset_id === input.assetId);
        let kwh = 0;
        for (const p of delivered.periods.slice(j * periods.length, (j + 1) * periods.length))
          kwh += p.deliveredKwh ?? 0;
        const t = trueKwh[k]!.get(d)!;
        dErr += kwh - t;
        dAbs += Math.abs(kwh - t);
        dTrue += t;
      });
      pApe += Math.abs(portfolioBaseline - portfolioCounterfactual) / portfolioCounterfactual;
      pErr += Math.abs(delivered.deliveredKwh - portfolioTrue) / portfolioTrue;
      pN++;
    });
    return {
      label,
      methodology: name,
      batteryEvents: n,
      missing,
      baselineBiasPct: (100 * bErr) / bTrue,
      baselineMapePct: (100 * ape) / apeN,
      baselinePortfolioMapePct: (100 * pApe) / pN,
      deliveredBiasPct: (100 * dErr) / dTrue,
      deliveredErrorPct: (100 * dAbs) / dTrue,
      deliveredPortfolioErrorPct: (100 * pErr) / pN,
    };
  });
  return {
    batteries: assets.length,
    events: eventDays.length,
    trueKwhPerBatteryEvent: o.kw * o.windowHours,
    methods,
    truthCheckKw,
    seconds: (performance.now() - began) / 1000,
  };
}

export function formatFlexAccuracy(o: FlexAccuracyOptions, r: FlexAccuracy): string {
  const pct = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`.padStart(7);
  const abs = (v: number) => v.toFixed(1).padStart(7);
  const hh = (h: number) => `${String(h).padStart(2, '0')}:00`;
  return [
    `gridstream baselines: ${o.transformers} DTs x ${o.metersPerTransformer} meters (seed ${o.seed}), ${r.batteries} with a ${BATTERY_KW} kW battery; ` +
      `${o.historyDays} days of history, then ${r.events} events (Mon, Tue, Thu of ${o.eventDays} days) ${hh(o.windowStartHour)}-${hh(o.windowStartHour + o.windowHours)} local, turn-down ${o.kw} kW each (${r.trueKwhPerBatteryEvent} kWh a battery-event)`,
    `  truth: the same simulation without the events; metered - counterfactual = true response within ${r.truthCheckKw.toFixed(4)} kW; ${r.seconds.toFixed(1)} s`,
    '',
    '                                         baseline vs counterfactual (%)   delivered vs true (%)',
    '  methodology                              bias    MAPE  portf.MAPE         bias   error  portf.err   battery-events (missing)',
    ...r.methods.map(
      (m) =>
        `  ${m.label.padEnd(39)}${pct(m.baselineBiasPct)} ${abs(m.baselineMapePct)} ${abs(m.baselinePortfolioMapePct)}     ${pct(m.deliveredBiasPct)} ${abs(m.deliveredErrorPct)} ${abs(m.deliveredPortfolioErrorPct)}   ${m.batteryEvents} (${m.missing})`,
    ),
  ].join('\n');
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

export function baselinesCommand(program: Command): void {
  const d = DEFAULT_FLEX_ACCURACY;
  const command = program
    .command('baselines')
    .description(
      'Check the flexibility baselines and delivered flexibility against simulated ground truth (responsive batteries, the run without events as the counterfactual)',
    )
    .option('--seed <n>', 'simulation seed', number('--seed', 0, Number.MAX_SAFE_INTEGER, true), d.seed)
    .option('--transformers <n>', 'simulated DTs', number('--transformers', 1, 200, true), d.transformers)
    .option('--meters <n>', 'meters per DT', number('--meters', 1, 500, true), d.metersPerTransformer)
    .option(
      '--battery-share <f>',
      'share of meters with a battery',
      number('--battery-share', 0.01, 1),
      d.batteryShare,
    )
    .option(
      '--history-days <n>',
      'days of history before the first event day',
      number('--history-days', 1, 120, true),
      d.historyDays,
    )
    .option(
      '--event-days <n>',
      'days with events on Mondays, Tuesdays and Thursdays',
      number('--event-days', 1, 120, true),
      d.eventDays,
    )
    .option(
      '--window-start <h>',
      'event window start, local hour',
      number('--window-start', 0, 22, true),
      d.windowStartHour,
    )
    .option(
      '--window-hours <h>',
      'event window length, hours',
      number('--window-hours', 1, 6, true),
      d.windowHours,
    )
    .option(
      '--kw <kw>',
      `turn-down per battery, kW (at most ${BATTERY_KW})`,
      number('--kw', 0.1, BATTERY_KW),
      d.kw,
    )
    .action((opts) => {
      if (opts.windowStart + opts.windowHours > 24)
        command.error('error: the event window must end by midnight (--window-start + --window-hours <= 24)');
      const options: FlexAccuracyOptions = {
        ...d,
        seed: opts.seed,
        transformers: opts.transformers,
        metersPerTransformer: opts.meters,
        batteryShare: opts.batteryShare,
        historyDays: opts.historyDays,
        eventDays: opts.eventDays,
        windowStartHour: opts.windowStart,
        windowHours: opts.windowHours,
        kw: opts.kw,
        onProgress: (f) => process.stderr.write(`\r  simulated ${(100 * f).toFixed(0)}%`),
      };
      let result: FlexAccuracy;
      try {
        result = runFlexAccuracy(options);
      } catch (error) {
        if (error instanceof SimulationOptionsError) command.error(`error: ${error.message}`);
        throw error;
      }
      process.stderr.write('\r');
      console.log(formatFlexAccuracy(options, result));
    });
}
