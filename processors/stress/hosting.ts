import { inSchedule, type DailySchedule } from '../../core/schedule.js';
import { MINUTE_MS, SLOT_MS } from '../../core/time.js';
import { customerHeadroomKw, type CustomerSensitivity } from './customer-voltage.js';
import { normalCdf, normalQuantile, normalSf, t4Cdf, t4Sf } from './stress-math.js';

/**
 * Hosting capacity: judges new loads and generators behind a DT against its dynamic operating envelope, the
 * newest issue the stress stage stored (dt_operating_envelopes: the next 96 slots). Pure: the envelope, the
 * DT's location and the request in, a verdict out.
 *
 * The judge uses the envelope proper, `import_kw` / `export_kw`: the extra power usable in every slot of the
 * issue at once within hot spot, top oil, K and voltage limits at the confidence. That holds for any
 * schedule, so an addition within it is safe whenever it runs; it is conservative for a short burst (the
 * single-slot headroom `import_slot_kw`, from the transformer's thermal mass, is reported beside it).
 *
 * Verdicts, from the share of the requested energy over the day that has to be curtailed to stay within the
 * envelope:
 * - approve: nothing;
 * - approve-with-curtailment: at most `maxCurtailedShare` (20%), with the schedule of caps per window;
 * - defer-to-DERMS: more than that but at most `deferCurtailedShare` (60%): workable only under active,
 *   slot-by-slot control by a DERMS, not a static sanction; also every request on a `modelled-only` DT, whose
 *   envelope rests on a nameplate and a load shape, not measurements;
 * - decline: more than `deferCurtailedShare`.
 */
export type AdditionType = 'ev' | 'pv' | 'bess' | 'heat_pump';

export interface Addition {
  type: AdditionType;
  /** Rated power, kW (a PV system's peak output). */
  kw: number;
  /** When it runs each day; PV without one follows the sun. */
  schedule?: DailySchedule;
  /** A battery charges (import) or discharges (export); default discharge. */
  mode?: 'charge' | 'discharge';
  /** Most it ever adds, kW (an export limiter): output above it is clipped. */
  capKw?: number;
}

export type LimitingFactor = 'load_factor' | 'hot_spot' | 'top_oil' | 'voltage';

/** One slot of the DT's newest operating-envelope issue. */
export interface EnvelopeSlot {
  slotStart: number;
  importKw: number;
  exportKw: number;
  importSlotKw: number;
  exportSlotKw: number;
  importLimitedBy: LimitingFactor;
  exportLimitedBy: LimitingFactor;
  /** Forecast mean net power and its (1 - c)-quantile, kW (import positive). */
  baseKw: number;
  baseKwLow: number;
  /** The DT's lowest customer voltage at its (1 − c)-quantile and highest at its c-quantile, V (null: none). */
  vMinLow?: number | null;
  vMaxHigh?: number | null;
}

/**
 * The envelope for an addition at one customer's meter rather than spread over the DT: per slot, the voltage
 * headroom of the customers it moves, its own by its sensitivity to its own load, every other by its
 * sensitivity to the DT's load (customer-voltage.ts), from the slot's forecast lowest (import) and highest
 * (export) voltage and each customer's offset from them. The DT's figures cap it (its thermal limits, and its
 * weakest customer for load spread over the DT, which is never the tighter one here: a customer's own
 * sensitivity is at least its sensitivity to the DT's load). Without the meter among the customers (no
 * voltages learnt for it yet) the DT's envelope is returned unchanged.
 */
export function envelopeAtMeter(
  slots: readonly EnvelopeSlot[],
  customers: readonly CustomerSensitivity[],
  meterId: string,
  band: { vLow: number; vHigh: number },
): EnvelopeSlot[] {
  if (!customers.some((c) => c.meter_id === meterId)) return [...slots];
  return slots.map((s) => {
    const imp =
      s.vMinLow === null || s.vMinLow === undefined
        ? Infinity
        : customerHeadroomKw(customers, band, 1, s.vMinLow, meterId);
    const exp =
      s.vMaxHigh === null || s.vMaxHigh === undefined
        ? Infinity
        : customerHeadroomKw(customers, band, -1, s.vMaxHigh, meterId);
    return {
      ...s,
      importKw: Math.min(s.importKw, imp),
      importSlotKw: Math.min(s.importSlotKw, imp),
      importLimitedBy: imp < s.importKw ? 'voltage' : s.importLimitedBy,
      exportKw: Math.min(s.exportKw, exp),
      exportSlotKw: Math.min(s.exportSlotKw, exp),
      exportLimitedBy: exp < s.exportKw ? 'voltage' : s.exportLimitedBy,
    };
  });
}

export interface HostingRequest {
  slots: readonly EnvelopeSlot[];
  additions: readonly Addition[];
  timeZone: string;
  latitude: number;
  longitude: number;
  confidence: number;
  modelledOnly: boolean;
}

export type Verdict = 'approve' | 'approve-with-curtailment' | 'decline' | 'defer-to-DERMS';

export interface SlotJudgement {
  slotStart: number;
  /** Net power the additions add, kW: import positive, export negative. */
  additionKw: number;
  headroomBefore: { importKw: number; exportKw: number; importSlotKw: number; exportSlotKw: number };
  /** The envelope left after the (uncurtailed) additions; negative: over it. */
  headroomAfter: { importKw: number; exportKw: number };
  /** The limit binding the direction the additions push (null when they add nothing in this slot). */
  bindingConstraint: LimitingFactor | null;
  /** The most the additions may add in this slot, kW (absolute): the curtailment cap. */
  allowedKw: number;
  /** Probability the DT's net flow reverses (exports) with the additions, from the base forecast's spread. */
  reverseFlowProb: number;
}

export interface CurtailmentWindow {
  from: number;
  to: number;
  /** Cap on the additions' net power in the window, kW (absolute, the direction of the additions). */
  maxKw: number;
}

export interface HostingJudgement {
  verdict: Verdict;
  reason: string;
  requestedKwh: number;
  curtailedKwh: number;
  bindingConstraint: LimitingFactor | null;
  curtailment: CurtailmentWindow[];
  slots: SlotJudgement[];
}

export const HOSTING_THRESHOLDS = { maxCurtailedShare: 0.2, deferCurtailedShare: 0.6 } as const;

const SLOT_H = SLOT_MS / 3_600_000;
const DEG = Math.PI / 180;

/**
 * Clear-sky PV output as a share of peak at an instant: the sine of the sun's elevation (declination and
 * equation of time from the day of the year, NOAA's low-precision formulas), 0 below the horizon.
 */
export function pvShare(ms: number, latitude: number, longitude: number): number {
  const day = ms / 86_400_000;
  const gamma = (2 * Math.PI * ((day % 365.2422) + 0.5)) / 365.2422;
  const decl =
    0.006918 -
    0.399912 * Math.cos(gamma) +
    0.070257 * Math.sin(gamma) -
    0.006758 * Math.cos(2 * gamma) +
    0.000907 * Math.sin(2 * gamma);
  const eqTimeMin =
    229.18 *
    (0.000075 +
      0.001868 * Math.cos(gamma) -
      0.032077 * Math.sin(gamma) -
      0.014615 * Math.cos(2 * gamma) -
      0.040849 * Math.sin(2 * gamma));
  const utcMin = (ms % 86_400_000) / MINUTE_MS;
  const solarMin = utcMin + eqTimeMin + 4 * longitude;
  const hourAngle = (solarMin / 4 - 180) * DEG;
  const lat = latitude * DEG;
  const sinElevation = Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(hourAngle);
  return Math.max(0, sinElevation);
}

/** Mean over the slot (sampled each 5 minutes) of what an addition adds, kW, import positive. */
export function additionKw(
  a: Addition,
  slotStart: number,
  req: Pick<HostingRequest, 'timeZone' | 'latitude' | 'longitude'>,
): number {
  const sign = a.type === 'pv' || (a.type === 'bess' && a.mode !== 'charge') ? -1 : 1;
  let sum = 0;
  const samples = 3;
  for (let k = 0; k < samples; k++) {
    const t = slotStart + (k + 0.5) * (SLOT_MS / samples);
    const on = a.schedule === undefined || inSchedule(a.schedule, t, req.timeZone);
    if (!on) continue;
    const output = a.kw * (a.type === 'pv' ? pvShare(t, req.latitude, req.longitude) : 1);
    sum += Math.min(output, a.capKw ?? Infinity);
  }
  return (sign * sum) / samples;
}

export function judgeHosting(req: HostingRequest): HostingJudgement {
  const z = normalQuantile(req.confidence);
  let requested = 0;
  let curtailed = 0;
  const binding = new Map<LimitingFactor, number>();
  const slots: SlotJudgement[] = req.slots.map((s) => {
    const add = req.additions.reduce((sum, a) => sum + additionKw(a, s.slotStart, req), 0);
    const headroom = add > 0 ? s.importKw : add < 0 ? s.exportKw : Infinity;
    const magnitude = Math.abs(add);
    const allowed = Math.min(magnitude, Math.max(0, headroom));
    requested += magnitude * SLOT_H;
    curtailed += (magnitude - allowed) * SLOT_H;
    const constraint = add > 0 ? s.importLimitedBy : add < 0 ? s.exportLimitedBy : null;
    if (constraint && magnitude > allowed) binding.set(constraint, (binding.get(constraint) ?? 0) + 1);
    // The base's (1 - c)-quantile sits z standard deviations below its mean.
    const sd = z > 0 ? Math.max(1e-9, (s.baseKw - s.baseKwLow) / z) : 1e-9;
    return {
      slotStart: s.slotStart,
      additionKw: add,
      headroomBefore: {
        importKw: s.importKw,
        exportKw: s.exportKw,
        importSlotKw: s.importSlotKw,
        exportSlotKw: s.exportSlotKw,
      },
      headroomAfter: { importKw: s.importKw - add, exportKw: s.exportKw + add },
      bindingConstraint: constraint,
      allowedKw: allowed,
      reverseFlowProb: normalCdf(-(s.baseKw + add) / sd),
    };
  });
  const curtailment = curtailmentWindows(slots);
  const share = requested > 0 ? curtailed / requested : 0;
  const top = [...binding.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
  const base = {
    requestedKwh: requested,
    curtailedKwh: curtailed,
    bindingConstraint: top,
    curtailment,
    slots,
  };
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  if (req.modelledOnly)
    return {
      ...base,
      verdict: 'defer-to-DERMS',
      reason:
        'the DT has no AMI data (modelled-only): its envelope rests on the nameplate and a load shape, too weak for a static sanction',
    };
  if (curtailed <= 1e-9)
    return { ...base, verdict: 'approve', reason: 'within the operating envelope in every slot' };
  if (share <= HOSTING_THRESHOLDS.maxCurtailedShare)
    return {
      ...base,
      verdict: 'approve-with-curtailment',
      reason: `${pct(share)} of the requested energy must be curtailed to stay within the envelope (${top} binds)`,
    };
  if (share <= HOSTING_THRESHOLDS.deferCurtailedShare)
    return {
      ...base,
      verdict: 'defer-to-DERMS',
      reason: `${pct(share)} of the requested energy would be curtailed (${top} binds): workable only under active control`,
    };
  return {
    ...base,
    verdict: 'decline',
    reason: `${pct(share)} of the requested energy would exceed the envelope (${top} binds)`,
  };
}

/** Consecutive slots whose additions must be capped, merged into windows with the lowest cap among them. */
function curtailmentWindows(slots: readonly SlotJudgement[]): CurtailmentWindow[] {
  const windows: CurtailmentWindow[] = [];
  for (const s of slots) {
    if (Math.abs(s.additionKw) <= s.allowedKw + 1e-9) continue;
    const last = windows.at(-1);
    if (last && last.to === s.slotStart) {
      last.to = s.slotStart + SLOT_MS;
      last.maxKw = Math.min(last.maxKw, s.allowedKw);
    } else windows.push({ from: s.slotStart, to: s.slotStart + SLOT_MS, maxKw: s.allowedKw });
  }
  return windows;
}

/**
 * The thermal stress probability once a DT's net load (mean `meanKw`, standard deviation `sdKw`, normal) moves
 * by `shiftKw`, given the probability `p0` the stress stage forecast for the unshifted load. Heating goes with
 * the apparent power, so the limit is a bound on |P|: ±p*. p0 puts the bound on the side the load leans to,
 * z0 = Φ⁻¹(1 − p0) deviations beyond the mean (p* = |mean| + z0·sd), and the shifted load exceeds it on either
 * side: P = P(X + shift > p*) + P(X + shift < −p*). Extra generation on an importing DT first relieves it,
 * then, past zero, loads it in reverse flow. Unshifted it returns p0 exactly, so a scenario's figures stay
 * consistent with GET /v1/dt/{id}/envelopes; p0 is clamped to [1e-12, 1 − 1e-12] to keep z0 finite.
 */
export function shiftedThermalProb(p0: number, meanKw: number, sdKw: number, shiftKw: number): number {
  // Exactly p0 unshifted (the quantile function's approximation would round-trip it to ~1e-9 only).
  if (shiftKw === 0) return p0;
  const sd = Math.max(1e-9, sdKw);
  const p = Math.min(1 - 1e-12, Math.max(1e-12, p0));
  const bound = Math.max(0, Math.abs(meanKw) + normalQuantile(1 - p) * sd);
  const mean = meanKw + shiftKw;
  return Math.min(1, normalSf((bound - mean) / sd) + normalCdf((-bound - mean) / sd));
}

/** The forecast distribution of a slot's lowest and highest customer voltage, and their sensitivity to load. */
export interface VoltageTails {
  minMean: number;
  minSd: number;
  maxMean: number;
  maxSd: number;
  /** Volts every customer voltage drops per kW of extra DT load (the most sensitive customer's). */
  vPerKw: number;
}

/**
 * The voltage stress probability once a DT's net load moves by `shiftKw`: extra import lowers the lowest and
 * the highest customer voltage alike by `vPerKw` per kW (extra export raises them), and each is read against
 * its edge of the band with the forecast's own distribution, as the stress stage computed `p0`:
 * P = 1 − (1 − P(v_min < low))(1 − P(v_max > high)). Unshifted, or for an issue without the tails, it returns
 * `p0`.
 */
export function shiftedVoltageProb(
  p0: number | null,
  tails: VoltageTails | null,
  band: { vLow: number; vHigh: number },
  shiftKw: number,
  heavyTails: boolean,
): number | null {
  if (p0 === null || tails === null || shiftKw === 0) return p0;
  const drop = tails.vPerKw * shiftKw;
  const cdf = heavyTails ? t4Cdf : normalCdf;
  const sf = heavyTails ? t4Sf : normalSf;
  const pLow = cdf((band.vLow - (tails.minMean - drop)) / Math.max(tails.minSd, 1e-6));
  const pHigh = sf((band.vHigh - (tails.maxMean - drop)) / Math.max(tails.maxSd, 1e-6));
  return 1 - (1 - pLow) * (1 - pHigh);
}

/** Probability that at least one of independent events happens: 1 − Π(1 − pᵢ). */
export function anyOf(probabilities: readonly number[]): number {
  return 1 - probabilities.reduce((keep, p) => keep * (1 - p), 1);
}
