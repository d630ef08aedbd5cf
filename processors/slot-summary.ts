import { MINUTE_MS } from '../core/time.js';
import type { DtEnvelope, LegReading } from '../schemas/types.gen.js';

const MINUTES = 15;

/** What a slot keeps of one reading: enough to recompute the summary after any revision. */
export interface SlotReading {
  ts: number;
  p_kw: number;
  q_kvar: number | null;
  legs: LegReading[];
}

/** The envelope fields that come from one slot's readings alone (coverage and tier need the 30-day window). */
export type SlotFigures = Pick<
  DtEnvelope,
  | 'net_mean_kw'
  | 'min_kw'
  | 'max_kw'
  | 'p95_kw'
  | 'import_kwh'
  | 'export_kwh'
  | 'q_mean_kvar'
  | 'legs'
  | 'meters_reporting'
  | 'readings'
>;

/**
 * Summarises one DT slot from the readings of its meters.
 *
 * The DT's net power is built as a one-minute series: each meter contributes, per minute, the mean of its
 * readings in that minute, holding its last value through minutes without a reading (a reading's power
 * holds until the next one) and its first value before its first reading. Summing the meters gives the DT
 * series, from which come the mean, min, max and p95 (linear interpolation between ranks), and the energy:
 * import is the integral of the positive part, export of the negative part (reverse power flow through the
 * DT). Reactive power is the sum over meters of each meter's mean. Voltages are per leg across all
 * readings of all meters.
 */
export function summarizeSlot(slotStart: number, meters: Iterable<Map<number, SlotReading>>): SlotFigures {
  const series = new Float64Array(MINUTES);
  const sum = new Float64Array(MINUTES);
  const count = new Uint16Array(MINUTES);
  const legs = new Map<number, { min: number; max: number; sum: number; n: number }>();
  let qTotal = 0;
  let qSeen = false;
  let metersReporting = 0;
  let readings = 0;

  for (const byTs of meters) {
    if (byTs.size === 0) continue;
    metersReporting++;
    sum.fill(0);
    count.fill(0);
    let qSum = 0;
    let qCount = 0;
    for (const reading of byTs.values()) {
      readings++;
      const minute = Math.min(MINUTES - 1, Math.floor((reading.ts - slotStart) / MINUTE_MS));
      sum[minute]! += reading.p_kw;
      count[minute]!++;
      if (reading.q_kvar !== null) {
        qSum += reading.q_kvar;
        qCount++;
      }
      for (const leg of reading.legs) {
        const acc = legs.get(leg.leg);
        if (acc) {
          if (leg.v < acc.min) acc.min = leg.v;
          if (leg.v > acc.max) acc.max = leg.v;
          acc.sum += leg.v;
          acc.n++;
        } else legs.set(leg.leg, { min: leg.v, max: leg.v, sum: leg.v, n: 1 });
      }
    }
    let held = Number.NaN;
    for (let m = 0; m < MINUTES && Number.isNaN(held); m++) if (count[m]) held = sum[m]! / count[m]!;
    for (let m = 0; m < MINUTES; m++) {
      if (count[m]) held = sum[m]! / count[m]!;
      series[m]! += held;
    }
    if (qCount) {
      qTotal += qSum / qCount;
      qSeen = true;
    }
  }

  let total = 0;
  let importKwh = 0;
  let exportKwh = 0;
  for (const kw of series) {
    total += kw;
    if (kw > 0) importKwh += kw / 60;
    else exportKwh -= kw / 60;
  }
  const sorted = Array.from(series).sort((a, b) => a - b);
  return {
    net_mean_kw: total / MINUTES,
    min_kw: sorted[0]!,
    max_kw: sorted[MINUTES - 1]!,
    p95_kw: quantile(sorted, 0.95),
    import_kwh: importKwh,
    export_kwh: exportKwh,
    q_mean_kvar: qSeen ? qTotal : null,
    legs: [...legs.entries()]
      .sort(([a], [b]) => a - b)
      .map(([leg, acc]) => ({ leg, v_min: acc.min, v_mean: acc.sum / acc.n, v_max: acc.max })),
    meters_reporting: metersReporting,
    readings,
  };
}

/** Quantile of sorted values with linear interpolation between closest ranks (NumPy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const rank = q * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}
