import { InvalidArgumentError, type Command } from 'commander';
import { DAY_MS, MINUTE_MS, SLOT_MS } from '../core/time.js';
import {
  DEFAULT_ENVELOPE_CONFIG,
  initialEnvelopeState,
  stepEnvelope,
} from '../processors/load-envelope/load-envelope.js';
import {
  ReliabilityAccumulator,
  formatReliability,
  type Reliability,
} from '../processors/stress/stress-calibration.js';
import { ModelCache, constantsOf } from '../processors/stress/stress-thermal.js';
import {
  DEFAULT_STRESS_CONFIG,
  initialStressState,
  stepStress,
  type StressConfig,
  type StressOutput,
} from '../processors/stress/stress.js';
import { ThermalStates } from '../processors/thermal/thermal.js';
import { meterReadingOf } from '../simulator/readings.js';
import {
  MAX_OUTAGE_MS,
  SimulationOptionsError,
  createSimulation,
  type TelemetryReading,
} from '../simulator/model.js';

/**
 * `gridstream calibrate`: checks the stress probabilities against simulated ground truth.
 *
 * A simulated fleet (undersized by `ratingScale`, in a climate `ambientOffsetC` hotter, so that stress
 * happens) is run for a warm-up and then a scored period. Its meters' published readings go through the
 * envelope processor (processors/load-envelope/load-envelope.ts, as in the pipeline: lateness, outages and backfill included) and
 * the final envelopes, with the weather and the topology, through the stress processor. The probabilities it
 * forecasts for each DT slot, at each lead asked for, are compared with what really happened in that slot:
 * - thermal: the IEC 60076-7 model driven by the simulator's true load (the RMS over the slot of the DT's
 *   per-minute apparent power, summed over all its meters, reporting or not) and the true ambient, from
 *   steady state at the first slot: the slot's peak hot spot, end top oil or load factor over its limit;
 * - voltage: any meter's reading in the slot outside the statutory band.
 * The result is a reliability table and the Brier score next to climatology's (the base rate).
 */
export interface CalibrationOptions {
  seed: number;
  transformers: number;
  metersPerTransformer: number;
  feeders: number;
  startMs: number;
  warmupDays: number;
  days: number;
  /** Meter reading interval, ms. */
  intervalMs: number;
  ratingScale: number;
  ambientOffsetC: number;
  /** Leads (slots ahead) to score. */
  leads: number[];
  stress: StressConfig;
  /** Called with the share of the simulated time done. */
  onProgress?: (fraction: number) => void;
}

export const DEFAULT_CALIBRATION: Omit<CalibrationOptions, 'stress'> = {
  seed: 7,
  transformers: 24,
  metersPerTransformer: 40,
  feeders: 2,
  startMs: Date.UTC(2026, 3, 1),
  warmupDays: 7,
  days: 30,
  intervalMs: MINUTE_MS,
  ratingScale: 0.55,
  ambientOffsetC: 5,
  leads: [1, 96],
};

export interface CalibrationResult {
  /** Per lead: thermal and voltage reliability. */
  leads: { lead: number; thermal: Reliability; voltage: Reliability }[];
  /** DT slots scored, and the slots where the processor's own observed exceedance matched the truth's. */
  scoredSlots: number;
  observedAgreement: { thermal: number; voltage: number };
  /** Readings run through the envelope processor, and the stress processor's skipped slots by reason. */
  readings: number;
  skipped: Record<string, number>;
  seconds: number;
}

const MINUTES = SLOT_MS / MINUTE_MS;

export function runCalibration(options: CalibrationOptions): CalibrationResult {
  const started = process.hrtime.bigint();
  const o = options;
  const endMs = o.startMs + (o.warmupDays + o.days) * DAY_MS;
  const sim = createSimulation({
    seed: o.seed,
    transformers: o.transformers,
    metersPerTransformer: o.metersPerTransformer,
    feeders: o.feeders,
    startMs: o.startMs,
    endMs,
    intervalMs: o.intervalMs,
    ratingScale: o.ratingScale,
    ambientOffsetC: o.ambientOffsetC,
  });
  const cfg = o.stress;
  const transformers = sim.topology.transformers;
  const nDt = transformers.length;
  const dtIndex = new Map(transformers.map((t, i) => [t.dt_id, i]));
  const meterDt = new Map(sim.topology.meters.map((m) => [m.meter_id, dtIndex.get(m.dt_id)!]));
  const firstSlot = Math.ceil(o.startMs / SLOT_MS);
  const totalSlots = Math.floor(endMs / SLOT_MS) - firstSlot;
  const scoredFrom = firstSlot + o.warmupDays * (DAY_MS / SLOT_MS);

  // --- the processors
  let envelopes = initialEnvelopeState();
  let stress = initialStressState();
  const leadIndex = new Map(o.leads.map((lead, i) => [lead, i]));
  const predictions = o.leads.map(() => ({
    thermal: new Float32Array(nDt * totalSlots).fill(Number.NaN),
    voltage: new Float32Array(nDt * totalSlots).fill(Number.NaN),
  }));
  const observed = new Uint8Array(nDt * totalSlots); // bit 0 thermal, bit 1 voltage, bit 2 row seen
  const skipped: Record<string, number> = {};
  const at = (dt: string, slotStart: number) => {
    const s = slotStart / SLOT_MS - firstSlot;
    return s >= 0 && s < totalSlots ? dtIndex.get(dt)! * totalSlots + s : -1;
  };
  const collect = (outputs: StressOutput[]) => {
    for (const out of outputs) {
      if (out.type === 'skipped') skipped[out.reason] = (skipped[out.reason] ?? 0) + 1;
      else if (out.type === 'stress') {
        const i = at(out.row.dt_id, out.row.slot_start);
        if (i >= 0) observed[i] = 4 | (out.row.thermal_exceeded ? 1 : 0) | (out.row.voltage_exceeded ? 2 : 0);
      } else {
        const li = leadIndex.get(out.row.lead_slots);
        if (li === undefined) continue;
        const i = at(out.row.dt_id, out.row.slot_start);
        if (i < 0) continue;
        predictions[li]!.thermal[i] = out.row.thermal_stress_prob;
        if (out.row.voltage_stress_prob !== null) predictions[li]!.voltage[i] = out.row.voltage_stress_prob;
      }
    }
  };
  const feed = (input: Parameters<typeof stepStress>[1]) => {
    const step = stepStress(stress, input, cfg);
    stress = step.state;
    collect(step.outputs);
  };
  const counts = new Map<string, number>();
  for (const m of sim.topology.meters) counts.set(m.dt_id, (counts.get(m.dt_id) ?? 0) + 1);
  for (const t of transformers) {
    envelopes = stepEnvelope(envelopes, {
      type: 'meters-connected',
      dt_id: t.dt_id,
      meters: counts.get(t.dt_id)!,
    }).state;
    feed({ type: 'transformer', transformer: t });
  }

  // --- the truth, per DT and slot, from every published reading (backfilled ones included)
  const truth = new Uint8Array(nDt * totalSlots); // bit 0 thermal, bit 1 voltage, bit 2 known
  const models = new ModelCache();
  const dtModels = transformers.map((t) => models.get(constantsOf(t), cfg.paper));
  const thermal = new ThermalStates(nDt);
  const started_ = new Uint8Array(nDt);
  const lim = cfg.limits;
  const vLow = transformers.map((t) => t.nominal_voltage_v * (1 - cfg.voltageBand.lowPct / 100));
  const vHigh = transformers.map((t) => t.nominal_voltage_v * (1 + cfg.voltageBand.highPct / 100));
  const feederOf = transformers.map((t) => sim.stations.indexOf(t.weather_station_id!));
  interface OpenSlot {
    p: Float64Array;
    q: Float64Array;
    covered: Uint8Array;
    vMin: Float64Array;
    vMax: Float64Array;
    ambientSum: Float64Array;
    ambientCount: Float64Array;
  }
  const open = new Map<number, OpenSlot>();
  const slotOf = (s: number): OpenSlot => {
    let slot = open.get(s);
    if (!slot) {
      slot = {
        p: new Float64Array(nDt * MINUTES),
        q: new Float64Array(nDt * MINUTES),
        covered: new Uint8Array(nDt * MINUTES),
        vMin: new Float64Array(nDt).fill(Number.POSITIVE_INFINITY),
        vMax: new Float64Array(nDt).fill(Number.NEGATIVE_INFINITY),
        ambientSum: new Float64Array(sim.stations.length),
        ambientCount: new Float64Array(sim.stations.length),
      };
      open.set(s, slot);
    }
    return slot;
  };
  const addTruth = (d: number, r: TelemetryReading) => {
    const ts = Date.parse(r.ts);
    for (let t = ts; t < ts + o.intervalMs; t += MINUTE_MS) {
      const s = Math.floor(t / SLOT_MS);
      const slot = slotOf(s);
      const m = d * MINUTES + (t / MINUTE_MS - s * MINUTES);
      slot.p[m]! += r.p_kw;
      slot.q[m]! += r.q_kvar;
      slot.covered[m] = 1;
      for (const leg of r.legs) {
        if (leg.v < slot.vMin[d]!) slot.vMin[d] = leg.v;
        if (leg.v > slot.vMax[d]!) slot.vMax[d] = leg.v;
      }
    }
  };
  const closeTruth = (before: number) => {
    const ready = [...open.keys()].filter((s) => s < before).sort((a, b) => a - b);
    for (const s of ready) {
      const slot = open.get(s)!;
      open.delete(s);
      const index = s - firstSlot;
      for (let d = 0; d < nDt; d++) {
        let sum = 0;
        let n = 0;
        for (let m = 0; m < MINUTES; m++)
          if (slot.covered[d * MINUTES + m]) {
            const p = slot.p[d * MINUTES + m]!;
            const q = slot.q[d * MINUTES + m]!;
            sum += p * p + q * q;
            n++;
          }
        const f = feederOf[d]!;
        if (!n || !slot.ambientCount[f]) continue;
        const k = Math.sqrt(sum / n) / transformers[d]!.rated_kva;
        const ambient = slot.ambientSum[f]! / slot.ambientCount[f]!;
        const { model, kernel } = dtModels[d]!;
        if (!started_[d]) {
          model.initSteady(thermal, d, k, ambient);
          started_[d] = 1;
        }
        const peak = kernel.slotExact(
          thermal.topOilC(d),
          thermal.rise1(d),
          thermal.rise2(d),
          k,
          ambient,
        ).peakHotSpotC;
        model.stepSlot(thermal, d, k, ambient);
        const hot = peak > lim.hotSpotC || thermal.topOilC(d) > lim.topOilC || k > lim.loadFactor;
        const volts = slot.vMin[d]! < vLow[d]! || slot.vMax[d]! > vHigh[d]!;
        if (index >= 0 && index < totalSlots)
          truth[d * totalSlots + index] = 4 | (hot ? 1 : 0) | (volts ? 2 : 0);
      }
    }
  };

  // --- run
  const horizon = MAX_OUTAGE_MS + 2 * o.intervalMs;
  let readings = 0;
  let lastProgress = 0;
  for (const message of sim.messages()) {
    if (message.kind === 'weather') {
      const ts = Date.parse(message.payload.ts);
      const f = sim.stations.indexOf(message.source);
      const slot = slotOf(Math.floor(ts / SLOT_MS));
      slot.ambientSum[f]! += message.payload.ambient_c;
      slot.ambientCount[f]!++;
      feed({
        type: 'weather',
        observation: {
          station_id: message.source,
          ts,
          ambient_c: message.payload.ambient_c,
          received_at: message.ts,
        },
      });
      continue;
    }
    const d = meterDt.get(message.source)!;
    const dtId = transformers[d]!.dt_id;
    for (const r of Array.isArray(message.payload) ? message.payload : [message.payload]) {
      addTruth(d, r);
      const reading = meterReadingOf(r, message.source, dtId, message.ts);
      readings++;
      const step = stepEnvelope(envelopes, { type: 'reading', reading }, DEFAULT_ENVELOPE_CONFIG);
      envelopes = step.state;
      for (const out of step.outputs)
        if (out.type === 'envelope' && out.envelope.is_final)
          feed({ type: 'envelope', envelope: out.envelope });
    }
    if (message.ts - lastProgress >= 6 * 3_600_000) {
      lastProgress = message.ts;
      closeTruth(Math.floor((message.ts - horizon) / SLOT_MS));
      o.onProgress?.((message.ts - o.startMs) / (endMs - o.startMs));
    }
  }
  closeTruth(Number.POSITIVE_INFINITY);
  feed({ type: 'emit', watermark: Number.MAX_SAFE_INTEGER });

  // --- score
  const scoredStart = scoredFrom - firstSlot;
  const result: CalibrationResult = {
    leads: [],
    scoredSlots: 0,
    observedAgreement: { thermal: 0, voltage: 0 },
    readings,
    skipped,
    seconds: 0,
  };
  let agreeT = 0;
  let agreeV = 0;
  let both = 0;
  for (let d = 0; d < nDt; d++)
    for (let s = scoredStart; s < totalSlots; s++) {
      const i = d * totalSlots + s;
      if (!(truth[i]! & 4)) continue;
      result.scoredSlots++;
      if (observed[i]! & 4) {
        both++;
        if ((observed[i]! & 1) === (truth[i]! & 1)) agreeT++;
        if ((observed[i]! & 2) === (truth[i]! & 2)) agreeV++;
      }
    }
  result.observedAgreement = {
    thermal: both ? agreeT / both : Number.NaN,
    voltage: both ? agreeV / both : Number.NaN,
  };
  o.leads.forEach((lead, li) => {
    const t = new ReliabilityAccumulator();
    const v = new ReliabilityAccumulator();
    const pred = predictions[li]!;
    for (let d = 0; d < nDt; d++)
      for (let s = scoredStart; s < totalSlots; s++) {
        const i = d * totalSlots + s;
        if (!(truth[i]! & 4)) continue;
        if (!Number.isNaN(pred.thermal[i]!))
          t.add(Math.min(1, Math.max(0, pred.thermal[i]!)), (truth[i]! & 1) === 1);
        if (!Number.isNaN(pred.voltage[i]!))
          v.add(Math.min(1, Math.max(0, pred.voltage[i]!)), (truth[i]! & 2) === 2);
      }
    result.leads.push({ lead, thermal: t.result(), voltage: v.result() });
  });
  result.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return result;
}

export function formatCalibration(options: CalibrationOptions, r: CalibrationResult): string {
  const o = options;
  const lines = [
    `gridstream calibrate: ${o.transformers} DTs x ${o.metersPerTransformer} meters (seed ${o.seed}, ratings x${o.ratingScale}, ambient ${o.ambientOffsetC >= 0 ? '+' : ''}${o.ambientOffsetC} K), ${o.warmupDays} days warm-up + ${o.days} days scored`,
    `  limits: K <= ${o.stress.limits.loadFactor}, hot spot <= ${o.stress.limits.hotSpotC} °C, top oil <= ${o.stress.limits.topOilC} °C; voltage band -${o.stress.voltageBand.lowPct}% / +${o.stress.voltageBand.highPct}% of nominal`,
    `  ${r.readings} readings through the envelope and stress processors in ${r.seconds.toFixed(1)} s; ${r.scoredSlots} DT slots scored`,
    ...Object.entries(r.skipped).map(([reason, n]) => `  ${n} envelopes not applied: ${reason}`),
    `  observed exceedances (from envelopes) agree with the truth in ${(100 * r.observedAgreement.thermal).toFixed(2)}% (thermal) and ${(100 * r.observedAgreement.voltage).toFixed(2)}% (voltage) of slots`,
  ];
  for (const { lead, thermal, voltage } of r.leads) {
    const ahead =
      lead === 1 ? 'next slot' : `${lead} slots (${((lead * 15) / 60).toFixed(lead % 4 ? 2 : 0)} h) ahead`;
    lines.push('', formatReliability(`thermal stress, forecast ${ahead}:`, thermal));
    lines.push('', formatReliability(`voltage stress, forecast ${ahead}:`, voltage));
  }
  return lines.join('\n');
}

/** A commander parser for a number (or, with `integer`, a whole number) in [min, max]. */
export function number(name: string, min: number, max: number, integer = false) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(
        `${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`,
      );
    return n;
  };
}

export function calibrateCommand(program: Command): void {
  const d = DEFAULT_CALIBRATION;
  const command = program
    .command('calibrate')
    .description(
      'Check the stress probabilities against simulated ground truth: reliability tables and Brier scores next to climatology',
    )
    .option('--seed <n>', 'simulation seed', number('--seed', 0, Number.MAX_SAFE_INTEGER, true), d.seed)
    .option('--transformers <n>', 'simulated DTs', number('--transformers', 1, 2000, true), d.transformers)
    .option('--meters <n>', 'meters per DT', number('--meters', 1, 500, true), d.metersPerTransformer)
    .option(
      '--feeders <n>',
      'feeders (one weather station each)',
      number('--feeders', 1, 99, true),
      d.feeders,
    )
    .option(
      '--start <date>',
      'first simulated day (UTC, YYYY-MM-DD)',
      new Date(d.startMs).toISOString().slice(0, 10),
    )
    .option(
      '--warmup-days <n>',
      'days simulated before scoring starts',
      number('--warmup-days', 1, 60, true),
      d.warmupDays,
    )
    .option('--days <n>', 'days scored', number('--days', 1, 366, true), d.days)
    .option(
      '--interval <s>',
      'meter reading interval, seconds',
      number('--interval', 60, 900, true),
      d.intervalMs / 1000,
    )
    .option(
      '--rating-scale <x>',
      'multiply every DT rating (below 1: an undersized, stressed fleet)',
      number('--rating-scale', 0.05, 20),
      d.ratingScale,
    )
    .option(
      '--ambient-offset <k>',
      'hotter (or cooler) climate, K',
      number('--ambient-offset', -30, 30),
      d.ambientOffsetC,
    )
    .option(
      '--leads <list>',
      'comma-separated leads to score, in slots (1 = next slot, 96 = a day ahead)',
      d.leads.join(','),
    )
    .option(
      '--confidence <c>',
      'confidence of the operating envelope',
      number('--confidence', 0.5, 0.999),
      DEFAULT_STRESS_CONFIG.confidence,
    )
    .action((opts) => {
      const start = /^\d{4}-\d{2}-\d{2}$/.test(opts.start) ? Date.parse(`${opts.start}T00:00:00Z`) : NaN;
      if (Number.isNaN(start)) command.error(`error: --start must be a date YYYY-MM-DD, got ${opts.start}`);
      const leads = String(opts.leads)
        .split(',')
        .map((x) => Number(x.trim()));
      if (!leads.every((l) => Number.isInteger(l) && l >= 1 && l <= DEFAULT_STRESS_CONFIG.horizonSlots))
        command.error(`error: --leads must be whole numbers from 1 to ${DEFAULT_STRESS_CONFIG.horizonSlots}`);
      const options: CalibrationOptions = {
        seed: opts.seed,
        transformers: opts.transformers,
        metersPerTransformer: opts.meters,
        feeders: Math.min(opts.feeders, opts.transformers),
        startMs: start,
        warmupDays: opts.warmupDays,
        days: opts.days,
        intervalMs: opts.interval * 1000,
        ratingScale: opts.ratingScale,
        ambientOffsetC: opts.ambientOffset,
        leads,
        stress: { ...DEFAULT_STRESS_CONFIG, confidence: opts.confidence },
        onProgress: (f) => process.stderr.write(`\r  simulated ${(100 * f).toFixed(0)}%`),
      };
      let result: CalibrationResult;
      try {
        result = runCalibration(options);
      } catch (error) {
        if (error instanceof SimulationOptionsError) command.error(`error: ${error.message}`);
        throw error;
      }
      process.stderr.write('\r');
      console.log(formatCalibration(options, result));
      const beaten = result.leads.every((l) => !(l.thermal.skill <= 0) && !(l.voltage.skill <= 0));
      if (!beaten) {
        console.error('gridstream calibrate: a forecast does not beat climatology');
        process.exitCode = 1;
      }
    });
}
