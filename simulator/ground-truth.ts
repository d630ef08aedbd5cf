import { createWriteStream, mkdirSync, openSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { DAY_MS, MINUTE_MS, SLOT_MS, iso, slotStart } from '../core/time.js';
import { MAX_OUTAGE_MS, type SimMessage, type Simulation, type TelemetryReading } from './model.js';

/**
 * Ground truth of a simulation, computed from the messages exactly as they were published (rounded values),
 * so it is what a correct pipeline must find.
 *
 * Per DT and 15-minute UTC slot [t, t + 15 min): with P(m) the sum over the DT's meters of the power of minute
 * m (a reading's p_kw holds for every minute of its interval; with one-minute readings it is the reading
 * itself), import_kwh = Σ_m max(P(m), 0) / 60, export_kwh = Σ_m max(−P(m), 0) / 60 and net_mean_kw the mean of
 * P(m), over the minutes of the slot that have data. `meters` counts the meters with data in the slot.
 * Sums are kept in integer watts (p_kw has three decimals), so the result does not depend on the order in
 * which readings arrive.
 */
export interface DtSlotTruth {
  dt_id: string;
  /** Epoch ms of the slot start (UTC quarter hour). */
  slot_start: number;
  import_kwh: number;
  export_kwh: number;
  net_mean_kw: number;
  meters: number;
  /** Minutes of the slot with data from at least one meter (15 except at the edges of a run). */
  minutes: number;
}

export interface ImpedanceTruth {
  meter_id: string;
  leg: number;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  impedance_mohm: number;
}

const MINUTES_PER_SLOT = SLOT_MS / MINUTE_MS;

interface SlotAccumulator {
  watts: Float64Array;
  covered: Uint8Array;
  meters: Set<string>;
}

export interface GroundTruthOptions {
  /** Reading interval of the simulation, ms (default one minute). */
  intervalMs?: number;
  /**
   * How long after a slot's end a reading for it may still arrive (default: the longest outage plus two
   * intervals, after which a backfilled reading can no longer come). Slots are final once message time has
   * passed it.
   */
  horizonMs?: number;
}

/** Accumulates the truth from a stream of published messages; memory is bounded by the horizon. */
export class GroundTruth {
  private readonly dtOf: Map<string, string>;
  private readonly intervalMs: number;
  private readonly horizonMs: number;
  private readonly open = new Map<number, Map<string, SlotAccumulator>>();
  private lastTs = Number.NEGATIVE_INFINITY;

  constructor(meters: Iterable<{ meter_id: string; dt_id: string }>, options: GroundTruthOptions = {}) {
    this.dtOf = new Map([...meters].map((m) => [m.meter_id, m.dt_id]));
    this.intervalMs = options.intervalMs ?? MINUTE_MS;
    this.horizonMs = options.horizonMs ?? MAX_OUTAGE_MS + 2 * this.intervalMs;
  }

  /** Adds one published message; returns the slots that became final (time-ordered, then by DT id). */
  add(message: SimMessage): DtSlotTruth[] {
    if (message.kind === 'telemetry') {
      const dt = this.dtOf.get(message.source);
      if (dt === undefined) throw new Error(`ground truth: meter ${message.source} is not in the topology`);
      const readings = Array.isArray(message.payload) ? message.payload : [message.payload];
      for (const reading of readings) this.addReading(dt, message.source, reading);
    }
    if (message.ts > this.lastTs) {
      this.lastTs = message.ts;
      return this.close(message.ts - this.horizonMs);
    }
    return [];
  }

  /** The remaining (still open) slots. */
  finish(): DtSlotTruth[] {
    return this.close(Number.POSITIVE_INFINITY);
  }

  private addReading(dt: string, meter: string, reading: TelemetryReading): void {
    const ts = Date.parse(reading.ts);
    const watts = Math.round(reading.p_kw * 1000);
    for (let t = ts; t < ts + this.intervalMs; t += MINUTE_MS) {
      const start = slotStart(t);
      let slot = this.open.get(start);
      if (!slot) {
        slot = new Map();
        this.open.set(start, slot);
      }
      let acc = slot.get(dt);
      if (!acc) {
        acc = {
          watts: new Float64Array(MINUTES_PER_SLOT),
          covered: new Uint8Array(MINUTES_PER_SLOT),
          meters: new Set(),
        };
        slot.set(dt, acc);
      }
      const m = (t - start) / MINUTE_MS;
      acc.watts[m] = acc.watts[m]! + watts;
      acc.covered[m] = 1;
      acc.meters.add(meter);
    }
  }

  /** Finalises the slots that end at or before `until`. */
  private close(until: number): DtSlotTruth[] {
    const starts = [...this.open.keys()].filter((start) => start + SLOT_MS <= until).sort((a, b) => a - b);
    const rows: DtSlotTruth[] = [];
    for (const start of starts) {
      const slot = this.open.get(start)!;
      this.open.delete(start);
      for (const dt of [...slot.keys()].sort()) rows.push(slotTruth(dt, start, slot.get(dt)!));
    }
    return rows;
  }
}

function slotTruth(dt: string, start: number, acc: SlotAccumulator): DtSlotTruth {
  let importW = 0;
  let exportW = 0;
  let netW = 0;
  let minutes = 0;
  for (let m = 0; m < MINUTES_PER_SLOT; m++) {
    if (!acc.covered[m]) continue;
    const w = acc.watts[m]!;
    minutes++;
    netW += w;
    if (w > 0) importW += w;
    else exportW -= w;
  }
  return {
    dt_id: dt,
    slot_start: start,
    import_kwh: importW / 60_000,
    export_kwh: exportW / 60_000,
    net_mean_kw: netW / minutes / 1000,
    meters: acc.meters.size,
    minutes,
  };
}

/** The truth of a whole (finite) message stream, in memory. */
export function computeGroundTruth(
  messages: Iterable<SimMessage>,
  meters: Iterable<{ meter_id: string; dt_id: string }>,
  options: GroundTruthOptions = {},
): DtSlotTruth[] {
  const truth = new GroundTruth(meters, options);
  const rows: DtSlotTruth[] = [];
  for (const message of messages) rows.push(...truth.add(message));
  rows.push(...truth.finish());
  return rows;
}

/** The true impedance of every meter leg on every UTC day that overlaps [fromMs, toMs). */
export function* impedanceTruth(sim: Simulation, fromMs: number, toMs: number): Generator<ImpedanceTruth> {
  for (let day = Math.floor(fromMs / DAY_MS); day * DAY_MS < toMs; day++) {
    const date = iso(day * DAY_MS).slice(0, 10);
    for (const m of sim.meters)
      for (let leg = 1; leg <= m.legs; leg++)
        yield { meter_id: m.meter_id, leg, day: date, impedance_mohm: sim.impedanceMohm(m.index, leg, day) };
  }
}

// ---------------------------------------------------------------------------------------------------------
// CSV

export const TRUTH_CSV_HEADER = 'dt_id,slot_start,import_kwh,export_kwh,net_mean_kw';
export const IMPEDANCE_CSV_HEADER = 'meter_id,leg,day,impedance_mohm';

/** Six decimals: 1 Wh / 1000 resolution, far below what rounding of p_kw introduces. */
const fixed = (x: number): string => {
  const r = Math.round(x * 1e6) / 1e6;
  return String(r === 0 ? 0 : r);
};

export function truthCsvLine(row: DtSlotTruth): string {
  return `${row.dt_id},${iso(row.slot_start)},${fixed(row.import_kwh)},${fixed(row.export_kwh)},${fixed(row.net_mean_kw)}`;
}

export function impedanceCsvLine(row: ImpedanceTruth): string {
  return `${row.meter_id},${row.leg},${row.day},${row.impedance_mohm}`;
}

export function formatTruthCsv(rows: Iterable<DtSlotTruth>): string {
  const lines = [TRUTH_CSV_HEADER];
  for (const row of rows) lines.push(truthCsvLine(row));
  return lines.join('\n') + '\n';
}

export function formatImpedanceCsv(rows: Iterable<ImpedanceTruth>): string {
  const lines = [IMPEDANCE_CSV_HEADER];
  for (const row of rows) lines.push(impedanceCsvLine(row));
  return lines.join('\n') + '\n';
}

/** A CSV file written line by line (for runs too long to hold in memory), respecting the stream's backpressure. */
export class CsvFileWriter {
  private readonly stream: WriteStream;
  private error: Error | null = null;

  /** Opens (creates or truncates) the file at once, so a bad path fails here rather than later. */
  constructor(
    readonly path: string,
    header: string,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.stream = createWriteStream(path, { fd: openSync(path, 'w'), encoding: 'utf8' });
    this.stream.on('error', (error) => (this.error ??= error));
    this.stream.write(header + '\n');
  }

  /** Buffers lines without waiting for the disk (for small amounts written from synchronous code). */
  write(lines: readonly string[]): void {
    if (this.error) throw this.error;
    if (lines.length) this.stream.write(lines.join('\n') + '\n');
  }

  async writeLines(lines: Iterable<string>): Promise<void> {
    for (const line of lines) {
      if (this.error) throw this.error;
      if (!this.stream.write(line + '\n')) await once(this.stream, 'drain');
    }
  }

  async close(): Promise<void> {
    if (this.error) throw this.error;
    this.stream.end();
    await once(this.stream, 'finish');
  }
}
