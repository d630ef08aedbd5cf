import { SLOT_MS } from '../../core/time.js';
import { ZoneOffsets } from '../../core/zone-offsets.js';
import { modelledKw, type LoadPatterns } from '../load-envelope/imputation.js';
import type { EnvelopeSlot } from './hosting.js';
import { allocateForecast, OperatingEnvelopeSolver, type EnvelopeDt } from './operating-envelope.js';
import { confidenceQuantiles, DEFAULT_STRESS_CONFIG, type StressConfig } from './stress.js';
import { ModelCache, constantsOf, type ThermalNameplate } from './stress-thermal.js';
import { ThermalStates } from '../thermal/thermal.js';

/**
 * A modelled operating-envelope issue for a DT that has a nameplate but no issue of the stress stage (no AMI
 * data: no meters, or none that ever reported), so that the judges of hosting.ts can still answer, at tier
 * `modelled-only`. Pure: the nameplate, the feeder load patterns and the first slot in, the issue out.
 *
 * - Load: rated kVA × the feeder's measured kW per kVA for the slot's local day type and slot of day (the
 *   feeder's DTs with AMI), or × the standard residential shape on a feeder without any
 *   (load-envelope/imputation.ts modelledKw, as the envelope stage models such DTs); the forecast's spread is
 *   the one the stress stage gives a DT it has not yet learnt (25% of the load plus 2% of the rating), and
 *   reactive power follows the configured power factor.
 * - Ambient: the stress configuration's default (25 °C, sd 5 K): the issue reads no weather.
 * - Thermal model: the DT's own (IEC 60076-7 constants of its cooling class, overridden by the topology's),
 *   started in the steady state of the first slot's load, run by the same solver as the stress stage's
 *   issues (operating-envelope.ts) at the configured confidence. No voltages: headroom is thermal only.
 */
export interface ModelledDt extends ThermalNameplate {
  feeder_id: string;
  rated_kva: number;
  /** The IANA zone its day types and local slots are read in (core/schedule.ts transformerTimeZone). */
  time_zone: string;
}

export interface ModelledIssue {
  slots: EnvelopeSlot[];
  confidence: number;
  thermalStressProb: number[];
  /** Where the load shape came from: the feeder's DTs with AMI, or the standard residential shape. */
  loadSource: 'feeder' | 'standard';
  /** Mean and peak of the modelled load over the issue, kW. */
  meanKw: number;
  peakKw: number;
  ambientC: number;
}

const models = new ModelCache();

/** The DT's issue of `horizon` slots (default the stress configuration's) starting at `firstSlot`. */
export function modelledIssue(
  dt: ModelledDt,
  patterns: LoadPatterns,
  firstSlot: number,
  config: StressConfig = DEFAULT_STRESS_CONFIG,
  horizon = config.horizonSlots,
): ModelledIssue {
  const rated = dt.rated_kva;
  const fc = allocateForecast(horizon);
  const zone = ZoneOffsets.of(dt.time_zone);
  const tanPhi = Math.tan(Math.acos(Math.min(1, Math.max(0.1, config.powerFactor))));
  let source: 'feeder' | 'standard' = 'feeder';
  for (let j = 0; j < horizon; j++) {
    const { kw, source: from } = modelledKw(patterns, dt.feeder_id, rated, firstSlot + j * SLOT_MS, zone);
    if (from === 'standard') source = 'standard';
    fc.pMean[j] = kw;
    fc.pSd[j] = 0.25 * Math.abs(kw) + 0.02 * rated;
    fc.q[j] = Math.abs(kw) * tanPhi;
    fc.w[j] = 0;
    fc.ambMean[j] = config.defaultAmbientC;
    fc.ambSd[j] = config.defaultAmbientSdC;
    fc.vMinMean[j] = Number.NaN;
    fc.vMaxMean[j] = Number.NaN;
  }
  const { model, kernel } = models.get(constantsOf(dt), config.paper);
  const state = new ThermalStates(1);
  const k0 = Math.hypot(fc.pMean[0]!, fc.q[0]!) / rated;
  model.initSteady(state, 0, k0, config.defaultAmbientC);
  const env: EnvelopeDt = {
    kernel,
    ratedKva: rated,
    limits: config.limits,
    vLow: 0,
    vHigh: Number.POSITIVE_INFINITY,
    sensitivityVPerKw: 1,
    topOilC: state.topOilC(0),
    rise1: state.rise1(0),
    rise2: state.rise2(0),
  };
  const solver = new OperatingEnvelopeSolver(horizon, config.thermalModelSdK, config.heavyTails);
  const thermal = new Float64Array(horizon);
  solver.thermalProbabilities(env, fc, horizon, thermal);
  const quantiles = confidenceQuantiles(config);
  const res = solver.envelope(env, fc, horizon, quantiles);
  const slots: EnvelopeSlot[] = [];
  for (let j = 0; j < horizon; j++)
    slots.push({
      slotStart: firstSlot + j * SLOT_MS,
      importKw: res.importKw[j]!,
      exportKw: res.exportKw[j]!,
      importSlotKw: res.importSlotKw[j]!,
      exportSlotKw: res.exportSlotKw[j]!,
      importLimitedBy: res.importLimitedBy[j]!,
      exportLimitedBy: res.exportLimitedBy[j]!,
      baseKw: fc.pMean[j]!,
      baseKwLow: fc.pMean[j]! - quantiles.load * fc.pSd[j]!,
    });
  const loads = [...fc.pMean.subarray(0, horizon)];
  return {
    slots,
    confidence: config.confidence,
    thermalStressProb: [...thermal],
    loadSource: source,
    meanKw: loads.reduce((a, b) => a + b, 0) / Math.max(1, horizon),
    peakKw: Math.max(...loads),
    ambientC: config.defaultAmbientC,
  };
}

/** What the issue was modelled from, in words for a response's `reason`. */
export function modelledBasis(issue: ModelledIssue, ratedKva: number): string {
  const shape =
    issue.loadSource === 'feeder'
      ? "the feeder's measured load per kVA (its DTs with AMI)"
      : 'the standard residential load shape (no AMI on the feeder)';
  return `modelled from the ${ratedKva} kVA nameplate × ${shape} (mean ${issue.meanKw.toFixed(1)} kW, peak ${issue.peakKw.toFixed(1)} kW) through the thermal model at ${issue.ambientC} °C ambient`;
}
