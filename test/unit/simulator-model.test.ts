import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DAY_MS, MINUTE_MS, SLOT_MS } from '../../core/time.js';
import { DEFAULT_INGEST_LIMITS, decodeMessage } from '../../ingest/decode.js';
import {
  SimulationOptionsError,
  VOLTAGE_NOISE_V,
  createSimulation,
  isWeekend,
  localDayOf,
  localHourOf,
  type SimMessage,
  type SimulationOptions,
  type TelemetryReading,
} from '../../simulator/model.js';
import { Rng, hashSeed, rngFor } from '../../simulator/random.js';

// Monday 2026-05-04 00:00 UTC (05:30 local time at the site).
const START = Date.UTC(2026, 4, 4);
const base = (over: Partial<SimulationOptions> = {}): SimulationOptions => ({
  seed: 42,
  transformers: 2,
  metersPerTransformer: 10,
  startMs: START,
  endMs: START + DAY_MS,
  ...over,
});

const readingsOf = (m: SimMessage): TelemetryReading[] =>
  m.kind === 'telemetry' ? (Array.isArray(m.payload) ? m.payload : [m.payload]) : [];

describe('seeded random numbers', () => {
  it('repeats a sequence for a seed and differs between seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('draws standard normal samples', () => {
    const rng = new Rng(1);
    const n = 200_000;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      sum += z;
      sumSq += z * z;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.01);
    expect(Math.abs(sumSq / n - 1)).toBeLessThan(0.02);
  });

  it('keys streams by tuples', () => {
    expect(hashSeed(1, 2, 3)).toBe(hashSeed(1, 2, 3));
    expect(hashSeed(1, 2, 3)).not.toBe(hashSeed(1, 3, 2));
    expect(hashSeed(2 ** 40)).not.toBe(hashSeed(0));
    expect(rngFor(5, -1).next()).toBe(rngFor(5, -1).next());
  });
});

describe('simulation options', () => {
  it('rejects bad options with messages naming them', () => {
    expect(() => createSimulation(base({ intervalMs: 90_000 }))).toThrow(/intervalMs/);
    expect(() => createSimulation(base({ intervalMs: 7 * MINUTE_MS }))).toThrow(/divides a day/);
    expect(() => createSimulation(base({ pvShare: 1.5 }))).toThrow(/pvShare/);
    expect(() => createSimulation(base({ feeders: 3 }))).toThrow(/feeders/);
    expect(() => createSimulation(base({ endMs: START - 1 }))).toThrow(/endMs/);
    expect(() => createSimulation(base({ seed: -1 }))).toThrow(SimulationOptionsError);
  });
});

describe('determinism', () => {
  const serialise = (options: SimulationOptions) => {
    const lines: string[] = [];
    for (const m of createSimulation(options).messages())
      lines.push(`${m.ts} ${m.topic} ${JSON.stringify(m.payload)}`);
    return lines;
  };

  it('gives identical messages for the same options and different ones for another seed', () => {
    const options = base({ silentShare: 0.3, endMs: START + DAY_MS / 2 });
    const a = serialise(options);
    const b = serialise(options);
    expect(b).toEqual(a);
    expect(a.length).toBeGreaterThan(1000);
    const c = serialise({ ...options, seed: 43 });
    expect(c).not.toEqual(a);
  });

  it('iterates afresh every time messages() is called', () => {
    const sim = createSimulation(base({ endMs: START + 3 * MINUTE_MS }));
    const first = [...sim.messages()].map((m) => JSON.stringify(m));
    const second = [...sim.messages()].map((m) => JSON.stringify(m));
    expect(second).toEqual(first);
  });
});

describe('time alignment', () => {
  it('stamps readings on UTC interval boundaries and sends them at the end of their interval, in time order', () => {
    const interval = 5 * MINUTE_MS;
    const start = START + 3 * MINUTE_MS + 27_000; // not on a boundary
    const sim = createSimulation(
      base({ startMs: start, endMs: start + 6 * 3_600_000, intervalMs: interval }),
    );
    expect(sim.firstTs).toBe(START + interval);
    let previous = 0;
    let count = 0;
    for (const m of sim.messages()) {
      expect(m.ts).toBeGreaterThanOrEqual(previous);
      previous = m.ts;
      const stamps = m.kind === 'weather' ? [m.payload.ts] : readingsOf(m).map((r) => r.ts);
      for (const ts of stamps) {
        expect(ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000Z$/);
        const ms = Date.parse(ts);
        expect(ms % interval).toBe(0);
        expect(ms).toBeGreaterThanOrEqual(start);
        expect(ms + interval).toBeLessThanOrEqual(start + 6 * 3_600_000);
      }
      if (m.kind === 'telemetry' && !Array.isArray(m.payload))
        expect(Date.parse(m.payload.ts) + interval).toBe(m.ts);
      count++;
    }
    expect(count).toBe((6 * 12 - 1) * (20 + 1));
  });

  it('publishes the contract shapes on the contract topics', () => {
    const sim = createSimulation(base({ endMs: START + MINUTE_MS }));
    const messages = [...sim.messages()];
    expect(messages).toHaveLength(21);
    const meter = messages[0]!;
    expect(meter.topic).toBe('gridstream/v1/meters/mtr-000001/telemetry');
    expect(Object.keys(meter.payload)).toEqual(['ts', 'p_kw', 'q_kvar', 'legs', 'e_imp_kwh', 'e_exp_kwh']);
    const weather = messages[20]!;
    expect(weather.topic).toBe('gridstream/v1/weather/ws-01');
    expect(Object.keys(weather.payload)).toEqual(['ts', 'ambient_c']);
    for (const m of messages) {
      const decimals = (x: number) => (String(x).split('.')[1] ?? '').length;
      for (const r of readingsOf(m)) {
        expect(decimals(r.p_kw)).toBeLessThanOrEqual(3);
        for (const leg of r.legs) {
          expect(decimals(leg.v)).toBeLessThanOrEqual(1);
          expect(decimals(leg.i)).toBeLessThanOrEqual(2);
        }
      }
    }
  });

  it('passes the ingest validation of the pipeline without a dead letter', () => {
    const sim = createSimulation(base({ silentShare: 0.3 }));
    const dtOf = new Map(sim.topology.meters.map((m) => [m.meter_id, m.dt_id]));
    let readings = 0;
    for (const m of sim.messages()) {
      const out = decodeMessage(
        m.topic,
        Buffer.from(JSON.stringify(m.payload)),
        m.ts,
        { dtOf: (id) => dtOf.get(id) },
        DEFAULT_INGEST_LIMITS,
      );
      expect(out.deadLetters.map((d) => d.reason)).toEqual([]);
      readings += out.readings.length;
    }
    expect(readings).toBeGreaterThan(0);
  });
});

/** Mean p_kw per meter over the readings matching a filter, over a run of days. */
function meanPower(options: SimulationOptions, match: (ts: number) => boolean): Map<number, number> {
  const sim = createSimulation(options);
  const sum = new Float64Array(sim.meters.length);
  let n = 0;
  for (const step of sim.steps()) {
    if (!match(step.ts)) continue;
    n++;
    step.readings.forEach((r, i) => (sum[i] = sum[i]! + r.p_kw));
  }
  return new Map(Array.from(sum, (s, i) => [i, s / n]));
}

describe('behaviour', () => {
  const week = base({ transformers: 3, metersPerTransformer: 20, endMs: START + 7 * DAY_MS });
  const sim = createSimulation(week);

  it('has an evening peak above the night for residential meters', () => {
    const residential = sim.meters.filter((m) => !m.pvKwp && !m.evKw).map((m) => m.index);
    expect(residential.length).toBeGreaterThan(30);
    const evening = meanPower(week, (ts) => localHourOf(ts) >= 19 && localHourOf(ts) < 22);
    const night = meanPower(week, (ts) => localHourOf(ts) >= 2 && localHourOf(ts) < 5);
    const total = (m: Map<number, number>) => residential.reduce((s, i) => s + m.get(i)!, 0);
    expect(total(evening)).toBeGreaterThan(2 * total(night));
    const higher = residential.filter((i) => evening.get(i)! > night.get(i)!);
    expect(higher.length / residential.length).toBeGreaterThan(0.8);
    // A household draws a realistic amount: 0.1–3 kW on average.
    for (const i of residential) expect(evening.get(i)!).toBeGreaterThan(0.1);
    for (const i of residential) expect(evening.get(i)!).toBeLessThan(4);
  });

  it('differs between weekdays and weekends', () => {
    const morning = (weekend: boolean) =>
      meanPower(
        week,
        (ts) => isWeekend(localDayOf(ts)) === weekend && localHourOf(ts) >= 6.5 && localHourOf(ts) < 7.5,
      );
    const weekday = [...morning(false).values()].reduce((a, b) => a + b, 0);
    const weekend = [...morning(true).values()].reduce((a, b) => a + b, 0);
    expect(Math.abs(weekday - weekend) / weekday).toBeGreaterThan(0.1);
  });

  it('makes PV meters export around midday on a clear day', () => {
    const days = Array.from({ length: 7 }, (_, d) => localDayOf(START) + d);
    const clearest = days.reduce((a, b) => (sim.cloudCover(0, b) < sim.cloudCover(0, a) ? b : a));
    expect(sim.cloudCover(0, clearest)).toBeLessThan(0.1);
    const midday = meanPower(
      week,
      (ts) => localDayOf(ts) === clearest && localHourOf(ts) >= 11.5 && localHourOf(ts) < 13,
    );
    const night = meanPower(
      week,
      (ts) => localDayOf(ts) === clearest && localHourOf(ts) >= 1 && localHourOf(ts) < 4,
    );
    const pv = sim.meters.filter((m) => m.pvKwp > 0);
    expect(pv.length).toBe(15);
    const exporting = pv.filter((m) => midday.get(m.index)! < 0);
    expect(exporting.length / pv.length).toBeGreaterThanOrEqual(0.8);
    for (const m of pv) expect(night.get(m.index)!).toBeGreaterThan(0);
    // Non-PV meters never export.
    for (const m of sim.meters.filter((m) => !m.pvKwp)) expect(midday.get(m.index)!).toBeGreaterThan(0);
  });

  it('shows evening EV charging blocks of the charger power', () => {
    const ev = sim.meters.filter((m) => m.evKw > 0);
    expect(ev.length).toBe(9);
    const series = new Map(ev.map((m) => [m.index, new Map<number, number>()]));
    for (const step of sim.steps())
      for (const m of ev) series.get(m.index)!.set(step.ts, step.readings[m.index]!.p_kw);
    let sessions = 0;
    for (const m of ev) {
      const p = series.get(m.index)!;
      for (let day = localDayOf(START); day < localDayOf(START) + 7; day++) {
        const session = sim.evSession(m.index, day);
        if (!session || session[1] > START + 7 * DAY_MS) continue;
        sessions++;
        const [start, end] = session;
        const hour = localHourOf(start);
        expect(hour).toBeGreaterThanOrEqual(17);
        expect(hour).toBeLessThanOrEqual(23);
        expect(end - start).toBeGreaterThanOrEqual(30 * MINUTE_MS);
        expect(end - start).toBeLessThanOrEqual(4 * 3_600_000);
        const mean = (from: number, to: number) => {
          let s = 0;
          let n = 0;
          for (let t = from; t < to; t += MINUTE_MS) {
            s += p.get(t)!;
            n++;
          }
          return s / n;
        };
        // The block: the charger's power on top of the household's load, from its first to its last minute.
        expect(mean(start, end) - mean(start - 30 * MINUTE_MS, start)).toBeGreaterThan(0.75 * m.evKw);
        expect(p.get(start)! - p.get(start - MINUTE_MS)!).toBeGreaterThan(m.evKw - 3);
        expect(p.get(end - MINUTE_MS)! - p.get(end)!).toBeGreaterThan(m.evKw - 3);
      }
    }
    expect(sessions).toBeGreaterThan(20);
  });

  it('reports summer ambient temperatures with a diurnal cycle', () => {
    const byDay = new Map<number, { early: number[]; afternoon: number[] }>();
    for (const m of sim.messages()) {
      if (m.kind !== 'weather') continue;
      const ts = Date.parse(m.payload.ts);
      const c = m.payload.ambient_c;
      expect(c).toBeGreaterThan(15);
      expect(c).toBeLessThan(40);
      const day = localDayOf(ts);
      const entry = byDay.get(day) ?? { early: [], afternoon: [] };
      byDay.set(day, entry);
      const h = localHourOf(ts);
      if (h >= 5 && h < 7) entry.early.push(c);
      if (h >= 14 && h < 16) entry.afternoon.push(c);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const means: number[] = [];
    for (const { early, afternoon } of byDay.values()) {
      if (!early.length || !afternoon.length) continue;
      expect(mean(afternoon) - mean(early)).toBeGreaterThan(3);
      means.push(mean(afternoon));
    }
    expect(means.length).toBeGreaterThanOrEqual(6);
    expect(Math.max(...means) - Math.min(...means)).toBeGreaterThan(0.3); // days differ
  });
});

describe('voltage and current', () => {
  it("gives each meter leg its pole's voltage minus its service-drop impedance times the leg current", () => {
    const sim = createSimulation(base({ endMs: START + 2 * DAY_MS }));
    const residuals: number[] = [];
    let worstResidual = -Infinity; // beyond the noise and rounding bound
    let worstCurrent = -Infinity;
    for (const step of sim.steps()) {
      for (const m of sim.meters) {
        const r = step.readings[m.index]!;
        expect(r.legs.map((l) => l.leg)).toEqual(Array.from({ length: m.legs }, (_, k) => k + 1));
        for (const leg of r.legs) {
          const vPole = step.poleVoltage[m.index]![leg.leg - 1]!;
          const z = step.impedanceMohm[m.index]![leg.leg - 1]! / 1000;
          const current = Math.sign(r.p_kw) * leg.i; // export raises the meter's voltage
          const residual = leg.v - (vPole - z * current);
          // Noise, plus the rounding of v (0.05 V) and of i (0.005 A × Z).
          const bound = 5 * VOLTAGE_NOISE_V + 0.05 + z * 0.005 + 1e-9;
          worstResidual = Math.max(worstResidual, Math.abs(residual) - bound);
          residuals.push(residual);
          // Current from power: |P_leg| / V, power split evenly over the legs (within the rounding).
          // (The published v carries the measurement noise, the current was computed from the true voltage.)
          const expected = Math.abs((r.p_kw * 1000) / m.legs / leg.v);
          worstCurrent = Math.max(worstCurrent, Math.abs(leg.i - expected) - (0.008 + expected * 0.002));
        }
      }
    }
    expect(worstResidual).toBeLessThan(0);
    expect(worstCurrent).toBeLessThan(0);
    const mean = residuals.reduce((a, b) => a + b, 0) / residuals.length;
    const sd = Math.sqrt(residuals.reduce((a, b) => a + (b - mean) ** 2, 0) / residuals.length);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(sd).toBeGreaterThan(0.6 * VOLTAGE_NOISE_V);
    expect(sd).toBeLessThan(1.5 * VOLTAGE_NOISE_V);
  });

  it('sags the DT voltage with its load and keeps voltages near nominal', () => {
    const sim = createSimulation(
      base({ transformers: 1, metersPerTransformer: 40, endMs: START + 2 * DAY_MS }),
    );
    const pairs: [number, number][] = [];
    let low = Infinity;
    let high = -Infinity;
    let outside = 0;
    let legReadings = 0;
    for (const step of sim.steps()) {
      const load = step.readings.reduce((s, r) => s + r.p_kw, 0);
      const v = step.dtVoltage[0]!;
      pairs.push([load, (v[0]! + v[1]! + v[2]!) / 3]);
      for (const r of step.readings)
        for (const leg of r.legs) {
          low = Math.min(low, leg.v);
          high = Math.max(high, leg.v);
          legReadings++;
          if (leg.v < 0.94 * 230 || leg.v > 1.1 * 230) outside++;
        }
    }
    // Near nominal; outside the statutory band (+10 % / −6 %) only rarely, at the heaviest evening peaks.
    expect(low).toBeGreaterThan(0.9 * 230);
    expect(high).toBeLessThan(1.1 * 230);
    expect(outside / legReadings).toBeLessThan(0.01);
    // Negative correlation between DT load and DT voltage.
    const n = pairs.length;
    const mx = pairs.reduce((s, [x]) => s + x, 0) / n;
    const my = pairs.reduce((s, [, y]) => s + y, 0) / n;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (const [x, y] of pairs) {
      sxy += (x - mx) * (y - my);
      sxx += (x - mx) ** 2;
      syy += (y - my) ** 2;
    }
    expect(sxy / Math.sqrt(sxx * syy)).toBeLessThan(-0.5);
  });
});

describe('energy registers', () => {
  it('only ever increase, by the energy of the published power', () => {
    const sim = createSimulation(base({ silentShare: 0.3, endMs: START + 2 * DAY_MS }));
    const last = new Map<string, TelemetryReading>();
    const sums = new Map<string, { imp: number; exp: number; first: TelemetryReading }>();
    let outOfSequence = 0;
    let lowestStep = 0;
    let worst = 0;
    for (const m of sim.messages()) {
      if (m.kind !== 'telemetry') continue;
      for (const r of readingsOf(m)) {
        const prev = last.get(m.source);
        if (prev) {
          if (Date.parse(r.ts) - Date.parse(prev.ts) !== MINUTE_MS) outOfSequence++; // backfill keeps the sequence
          const dImp = r.e_imp_kwh - prev.e_imp_kwh;
          const dExp = r.e_exp_kwh - prev.e_exp_kwh;
          lowestStep = Math.min(lowestStep, dImp, dExp);
          worst = Math.max(
            worst,
            Math.abs(dImp - Math.max(r.p_kw, 0) / 60),
            Math.abs(dExp - Math.max(-r.p_kw, 0) / 60),
          );
          const s = sums.get(m.source)!;
          s.imp += Math.max(r.p_kw, 0) / 60;
          s.exp += Math.max(-r.p_kw, 0) / 60;
        } else sums.set(m.source, { imp: 0, exp: 0, first: r });
        last.set(m.source, r);
      }
    }
    expect(outOfSequence).toBe(0);
    expect(lowestStep).toBeGreaterThanOrEqual(0);
    // Per reading: the energy of the published power, within the rounding of p_kw and of the registers.
    expect(worst).toBeLessThan(0.0011);
    // No drift over two days: the registers are the integral of the power.
    for (const [meter, s] of sums) {
      const end = last.get(meter)!;
      expect(Math.abs(end.e_imp_kwh - s.first.e_imp_kwh - s.imp)).toBeLessThan(0.002);
      expect(Math.abs(end.e_exp_kwh - s.first.e_exp_kwh - s.exp)).toBeLessThan(0.002);
    }
  });
});

describe('silent meters', () => {
  const options = base({
    transformers: 2,
    metersPerTransformer: 25,
    silentShare: 0.2,
    endMs: START + 4 * DAY_MS,
  });

  it('go quiet for 1–6 hours and then publish what they stored as one array', () => {
    const sim = createSimulation(options);
    const silent = new Set(sim.meters.filter((m) => m.silent).map((m) => m.meter_id));
    expect(silent.size).toBe(10);
    const seen = new Map<string, number[]>();
    let arrays = 0;
    for (const m of sim.messages()) {
      if (m.kind !== 'telemetry') continue;
      const rs = readingsOf(m);
      if (Array.isArray(m.payload)) {
        arrays++;
        expect(silent.has(m.source)).toBe(true);
        expect(m.readings).toBe(rs.length);
        expect(rs.length).toBeGreaterThanOrEqual(60);
        expect(rs.length).toBeLessThanOrEqual(360);
        // Sent when the meter is back: after the last stored interval has ended.
        expect(m.ts).toBeGreaterThan(Date.parse(rs.at(-1)!.ts) + MINUTE_MS);
        expect(Date.parse(rs[0]!.ts) % SLOT_MS).toBe(0);
      }
      const list = seen.get(m.source) ?? [];
      seen.set(m.source, list);
      for (const r of rs) list.push(Date.parse(r.ts));
    }
    expect(arrays).toBeGreaterThan(5);
    // With backfill, every reading arrives (except those of an outage still going on at the end).
    for (const [meter, times] of seen) {
      times.sort((a, b) => a - b);
      expect(times[0]).toBe(START);
      expect(times.filter((t, k) => k > 0 && t - times[k - 1]! !== MINUTE_MS)).toEqual([]);
      if (!silent.has(meter)) expect(times).toHaveLength(4 * 1440);
    }
  });

  it('lose the readings of an outage without backfill', () => {
    const sim = createSimulation({ ...options, backfillSilent: false });
    const silent = new Set(sim.meters.filter((m) => m.silent).map((m) => m.meter_id));
    const counts = new Map<string, number>();
    let gaps = 0;
    let arrays = 0;
    const lastTs = new Map<string, number>();
    for (const m of sim.messages()) {
      if (m.kind !== 'telemetry') continue;
      if (Array.isArray(m.payload)) arrays++;
      const ts = Date.parse(readingsOf(m)[0]!.ts);
      const prev = lastTs.get(m.source);
      if (prev !== undefined && ts - prev > MINUTE_MS) {
        gaps++;
        expect(silent.has(m.source)).toBe(true);
        expect(ts - prev - MINUTE_MS).toBeGreaterThanOrEqual(3_600_000);
        expect(ts - prev - MINUTE_MS).toBeLessThanOrEqual(6 * 3_600_000);
      }
      lastTs.set(m.source, ts);
      counts.set(m.source, (counts.get(m.source) ?? 0) + 1);
    }
    expect(arrays).toBe(0);
    expect(gaps).toBeGreaterThan(5);
    for (const [meter, n] of counts) if (!silent.has(meter)) expect(n).toBe(4 * 1440);
  });
});

describe('bounded memory', () => {
  it('streams a 30-day run without holding its messages', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const sim = createSimulation(
      base({ transformers: 2, metersPerTransformer: 20, silentShare: 0, endMs: START + 30 * DAY_MS }),
    );
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let peak = 0;
    let messages = 0;
    let readings = 0;
    for (const m of sim.messages()) {
      messages++;
      if (m.kind === 'telemetry') readings += m.readings;
      if (messages % 200_000 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - baseline);
      }
    }
    const minutes = 30 * 1440;
    expect(readings).toBe(40 * minutes);
    expect(messages).toBe(41 * minutes);
    // Holding 1.2 million readings would take hundreds of MB; the iterator needs next to nothing.
    expect(peak).toBeLessThan(20 * 1024 * 1024);
  }, 120_000);
});
