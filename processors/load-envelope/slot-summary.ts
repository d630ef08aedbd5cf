import { MINUTE_MS } from '../../core/time.js';
import type { DtEnvelope, MeterSlot } from '../../schemas/types.gen.js';
import type { SlotReadings } from './slot-readings.js';

const MINUTES = 15;

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
 *
 * With `meterIdOf` (the id of a slot's meter number), also each meter's own slot (`meters`): the mean of its
 * readings' power and the lowest and highest of its legs' mean voltages, for meters that report voltages.
 *
 * `addedKw` (default 0) is added to every minute of the DT series before the figures are taken: the imputed
 * mean load of meters that did not report (processors/load-envelope/imputation.ts), so mean, min, max, p95 and the energy
 * describe the whole DT. Reactive power, voltages and counts stay those of the reporting meters.
 */
export function summarizeSlot(
  rows: SlotReadings,
  addedKw = 0,
  meterIdOf?: (meter: number) => string,
): SlotFigures & { meters: MeterSlot[] } {
  const meterSlots: MeterSlot[] = [];
  const own = [0, 1, 2].map(() => ({ sum: 0, n: 0 }));
  const series = new Float64Array(MINUTES).fill(addedKw);
  const sum = new Float64Array(MINUTES);
  const count = new Uint16Array(MINUTES);
  const legs = [0, 1, 2].map(() => ({ min: Infinity, max: -Infinity, sum: 0, n: 0 }));
  let qTotal = 0;
  let qSeen = false;

  // Rows are sorted by meter, so each meter's readings are one run.
  for (let row = 0; row < rows.size;) {
    const meter = rows.meterOf(row);
    sum.fill(0);
    count.fill(0);
    let qSum = 0;
    let qCount = 0;
    let pSum = 0;
    let readings = 0;
    for (const acc of own) acc.sum = acc.n = 0;
    for (; row < rows.size && rows.meterOf(row) === meter; row++) {
      pSum += rows.pOf(row);
      readings++;
      const minute = Math.min(MINUTES - 1, Math.floor(rows.offsetOf(row) / MINUTE_MS));
      sum[minute]! += rows.pOf(row);
      count[minute]!++;
      const q = rows.qOf(row);
      if (!Number.isNaN(q)) {
        qSum += q;
        qCount++;
      }
      for (let leg = 1; leg <= 3; leg++) {
        const v = rows.vOf(row, leg);
        if (Number.isNaN(v)) continue;
        const acc = legs[leg - 1]!;
        if (v < acc.min) acc.min = v;
        if (v > acc.max) acc.max = v;
        acc.sum += v;
        acc.n++;
        own[leg - 1]!.sum += v;
        own[leg - 1]!.n++;
      }
    }
    if (meterIdOf) {
      let low = Infinity;
      let high = -Infinity;
      for (const acc of own)
        if (acc.n) {
          const v = acc.sum / acc.n;
          if (v < low) low = v;
          if (v > high) high = v;
        }
      if (low !== Infinity)
        meterSlots.push({
          meter_id: meterIdOf(meter),
          p_kw: round(pSum / readings, 6),
          v_low: round(low, 3),
          v_high: round(high, 3),
        });
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
    // Reactive power and voltages are stored as 32-bit floats: reported to a precision far below a meter's.
    q_mean_kvar: qSeen ? round(qTotal, 6) : null,
    legs: legs.flatMap((acc, i) =>
      acc.n
        ? [
            {
              leg: i + 1,
              v_min: round(acc.min, 3),
              v_mean: round(acc.sum / acc.n, 3),
              v_max: round(acc.max, 3),
            },
          ]
        : [],
    ),
    meters_reporting: rows.meters,
    readings: rows.size,
    // By meter id: the meter numbers follow arrival order, which a restart or a rebalance changes.
    meters: meterSlots.sort((a, b) => (a.meter_id < b.meter_id ? -1 : a.meter_id > b.meter_id ? 1 : 0)),
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Quantile of sorted values with linear interpolation between closest ranks (NumPy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const rank = q * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}
