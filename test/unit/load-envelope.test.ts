import { describe, expect, it } from 'vitest';
import {
  type EnvelopeConfig,
  type EnvelopeInput,
  type EnvelopeOutput,
  type EnvelopeState,
} from '../../processors/load-envelope/load-envelope.js';
import type { DtEnvelope, MeterReading } from '../../schemas/types.gen.js';
import { meterReading, runEnvelope } from '../support/load-envelope.js';

const T0 = Date.UTC(2026, 6, 1, 10, 0, 0); // 10:00:00Z, a slot boundary
const MIN = 60_000;
const config: EnvelopeConfig = { allowedLatenessMs: 5 * MIN, revisionHorizonMs: 2 * 3_600_000 };

function reading(meter: string, ts: number, p_kw: number, extra: Partial<MeterReading> = {}): MeterReading {
  return meterReading(meter, 'dt-1', ts, p_kw, extra);
}

const run = (inputs: EnvelopeInput[], state?: EnvelopeState) => runEnvelope(config, inputs, state);

function envelopes(outputs: EnvelopeOutput[]): DtEnvelope[] {
  return outputs.flatMap((o) => (o.type === 'envelope' ? [o.envelope] : []));
}

/** Latest revision per slot: what the warehouse keeps. */
function latest(outputs: EnvelopeOutput[]): Map<number, DtEnvelope> {
  const bySlot = new Map<number, DtEnvelope>();
  for (const e of envelopes(outputs)) {
    const seen = bySlot.get(e.slot_start);
    if (!seen || seen.version < e.version) bySlot.set(e.slot_start, e);
  }
  return bySlot;
}

const read = (r: MeterReading): EnvelopeInput => ({ type: 'reading', reading: r });
const emit: EnvelopeInput = { type: 'emit' };

describe('envelope processor', () => {
  it('puts a reading at exactly :15:00 in the new slot', () => {
    const { outputs } = run([
      read(reading('m1', T0 + 14 * MIN + 59_999, 1)),
      read(reading('m1', T0 + 15 * MIN, 2)),
      emit,
    ]);
    const slots = latest(outputs);
    expect([...slots.keys()].sort()).toEqual([T0, T0 + 15 * MIN]);
    expect(slots.get(T0)!.readings).toBe(1);
    expect(slots.get(T0 + 15 * MIN)!.readings).toBe(1);
    expect(slots.get(T0 + 15 * MIN)!.net_mean_kw).toBe(2);
  });

  it('aligns slots to UTC quarter hours whatever the local time zone', () => {
    const ts = Date.UTC(2026, 2, 29, 1, 7, 0); // the night European clocks change
    const { outputs } = run([read(reading('m1', ts, 1)), emit]);
    expect(envelopes(outputs)[0]!.slot_start).toBe(Date.UTC(2026, 2, 29, 1, 0, 0));
  });

  it('computes energy, mean, min, max and p95 from the one-minute DT series', () => {
    const inputs: EnvelopeInput[] = [];
    for (let m = 0; m < 15; m++) {
      inputs.push(read(reading('m1', T0 + m * MIN, m))); // 0..14 kW
      inputs.push(read(reading('m2', T0 + m * MIN, -2))); // PV export
    }
    const e = envelopes(run([...inputs, emit]).outputs)[0]!;
    // DT series: m - 2 for m = 0..14 => -2..12
    expect(e.net_mean_kw).toBeCloseTo(5, 10);
    expect(e.min_kw).toBe(-2);
    expect(e.max_kw).toBe(12);
    expect(e.p95_kw).toBeCloseTo(11 + 0.3, 10); // rank 13.3 between 11 and 12
    expect(e.import_kwh).toBeCloseTo((1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 + 11 + 12) / 60, 10);
    expect(e.export_kwh).toBeCloseTo((2 + 1) / 60, 10);
    expect(e.meters_reporting).toBe(2);
    expect(e.readings).toBe(30);
  });

  it('holds a meter power between sparse readings', () => {
    // 5-minute readings: each power holds for five minutes.
    const e = envelopes(
      run([
        read(reading('m1', T0, 3)),
        read(reading('m1', T0 + 5 * MIN, 6)),
        read(reading('m1', T0 + 10 * MIN, 0)),
        emit,
      ]).outputs,
    )[0]!;
    expect(e.import_kwh).toBeCloseTo((3 * 5 + 6 * 5) / 60, 10);
    expect(e.net_mean_kw).toBeCloseTo(3, 10);
  });

  it('summarises voltage per leg across meters', () => {
    const e = envelopes(
      run([
        read(
          reading('m1', T0, 1, {
            legs: [
              { leg: 1, v: 228, i: 4 },
              { leg: 2, v: 240, i: 4 },
            ],
          }),
        ),
        read(reading('m2', T0, 1, { legs: [{ leg: 1, v: 232, i: 4 }] })),
        emit,
      ]).outputs,
    )[0]!;
    expect(e.legs).toEqual([
      { leg: 1, v_min: 228, v_mean: 230, v_max: 232 },
      { leg: 2, v_min: 240, v_mean: 240, v_max: 240 },
    ]);
  });

  it('gives the same result whatever order the readings arrive in', () => {
    const rs = Array.from({ length: 15 }, (_, m) => reading('m1', T0 + m * MIN, (m * 7) % 5));
    const inOrder = latest(run([...rs.map(read), emit]).outputs).get(T0)!;
    const shuffled = latest(run([...[...rs].reverse().map(read), emit]).outputs).get(T0)!;
    expect(shuffled).toEqual(inOrder);
  });

  it('does not double count a duplicate reading (same meter, same ts)', () => {
    const once = latest(run([read(reading('m1', T0, 4)), emit]).outputs).get(T0)!;
    const twice = run([read(reading('m1', T0, 4)), emit, read(reading('m1', T0, 4)), emit]);
    const last = latest(twice.outputs).get(T0)!;
    expect(last.import_kwh).toBe(once.import_kwh);
    expect(last.readings).toBe(1);
    // An identical duplicate is not even a change: no second emission.
    expect(envelopes(twice.outputs)).toHaveLength(1);
  });

  it('lets a corrected reading with the same ts replace the earlier one', () => {
    const correction = reading('m1', T0, 8, { received_at: T0 + 60_000 });
    const { outputs } = run([read(reading('m1', T0, 4)), emit, read(correction), emit]);
    const last = latest(outputs).get(T0)!;
    expect(last.readings).toBe(1);
    expect(last.net_mean_kw).toBe(8);
    expect(last.version).toBeGreaterThan(envelopes(outputs)[0]!.version);
  });

  it('closes a slot as final once the watermark passes its end plus allowed lateness', () => {
    const early = run([read(reading('m1', T0, 1)), read(reading('m1', T0 + 19 * MIN, 1))]);
    expect(envelopes(early.outputs)).toHaveLength(0); // 10:19 < 10:15 + 5 min
    const closed = run([read(reading('m1', T0 + 20 * MIN, 1))], early.state);
    const finals = envelopes(closed.outputs);
    expect(finals).toHaveLength(1);
    expect(finals[0]).toMatchObject({ slot_start: T0, is_final: true });
  });

  it('revises a closed slot with a late reading, with a higher version and no double count', () => {
    const first = run([read(reading('m1', T0, 2)), read(reading('m1', T0 + 30 * MIN, 1))]);
    const final = envelopes(first.outputs).find((e) => e.slot_start === T0)!;
    expect(final.is_final).toBe(true);
    const late = run([read(reading('m2', T0 + 3 * MIN, 4)), emit], first.state);
    const revised = latest(late.outputs).get(T0)!;
    expect(revised.version).toBeGreaterThan(final.version);
    expect(revised.is_final).toBe(true);
    expect(revised.meters_reporting).toBe(2);
    expect(revised.net_mean_kw).toBeCloseTo(2 + 4, 10);
  });

  it('holds a closed slot packed and revises it to exactly the figures of the same readings in time', () => {
    // Meter decimals and values no decimal scale reproduces (0.1 + 0.2, π), on up to three legs.
    const slotReadings = Array.from({ length: 40 }, (_, k) =>
      reading(
        `m${k % 8}`,
        T0 + Math.floor(k / 8) * MIN + (k % 3) * 250,
        k % 5 === 0 ? 0.1 + 0.2 : k / 8 - 2.125,
        {
          q_kvar: k % 4 === 0 ? null : k % 7 === 0 ? Math.PI : k / 1000,
          legs: [1, 2, 3].slice(0, 1 + (k % 3)).map((leg) => ({ leg, v: 229.9 + leg + (k % 7) / 10, i: 2 })),
        },
      ),
    );
    const late = reading('m9', T0 + 7 * MIN, 1.234, { q_kvar: 0.5, received_at: T0 + 40 * MIN });
    const closeIt = reading('m1', T0 + 30 * MIN, 1);
    const inTime = latest(run([...slotReadings, late, closeIt].map(read)).outputs).get(T0)!;

    const closed = run([...slotReadings, closeIt].map(read));
    const stored = closed.state.dts.get('dt-1')!.slots.get(T0)!.readings;
    expect(stored.frozen).toBe(true);
    const revised = run([read(late), emit], closed.state);
    const { version: _v, ...figures } = latest(revised.outputs).get(T0)!;
    const { version: _w, ...expected } = inTime;
    expect(figures).toEqual(expected);
    // Unpacked by the late reading, packed again at the next close once emitted.
    expect(stored.frozen).toBe(false);
    run([read(reading('m1', T0 + 45 * MIN, 1))], revised.state);
    expect(stored.frozen).toBe(true);
  });

  it('revises a closed slot to a higher version with a late reading received before the slot’s newest one', () => {
    // Out of receive order: a second bridge's reading (or the log's older readings replayed after a restore
    // applied the warehouse's newer ones) reaches the processor after the slot was emitted as final.
    const first = run([
      read(reading('m1', T0, 2, { received_at: T0 + 5 * MIN })),
      read(reading('m1', T0 + 30 * MIN, 1)),
    ]);
    const final = envelopes(first.outputs).find((e) => e.slot_start === T0)!;
    expect(final.is_final).toBe(true);
    const late = run(
      [read(reading('m2', T0 + 3 * MIN, 4, { received_at: T0 + 4 * MIN })), emit],
      first.state,
    );
    const revised = latest(late.outputs).get(T0)!;
    expect(revised.version).toBeGreaterThan(final.version);
    expect(revised.readings).toBe(2);
    expect(revised.net_mean_kw).toBeCloseTo(2 + 4, 10);
  });

  it('gives a slot the same version whatever order its readings came in', () => {
    const inputs = [
      reading('m1', T0, 2, { received_at: T0 + 9 * MIN }),
      reading('m2', T0 + MIN, 3, { received_at: T0 + 2 * MIN }),
      reading('m3', T0 + 2 * MIN, 1, { received_at: T0 + 5 * MIN }),
    ];
    const close = read(reading('m1', T0 + 30 * MIN, 1));
    const forward = latest(run([...inputs.map(read), close, emit]).outputs).get(T0)!;
    const backward = latest(run([...[...inputs].reverse().map(read), close, emit]).outputs).get(T0)!;
    expect(backward.version).toBe(forward.version);
    expect(backward.import_kwh).toBe(forward.import_kwh);
  });

  it('returns a reading past the revision horizon as too-late instead of revising', () => {
    const first = run([read(reading('m1', T0, 2)), read(reading('m1', T0 + 3 * 3_600_000, 1))]);
    const late = run([read(reading('m2', T0 + MIN, 4)), emit], first.state);
    expect(late.outputs.filter((o) => o.type === 'too-late')).toHaveLength(1);
    expect(envelopes(late.outputs).filter((e) => e.slot_start === T0)).toHaveLength(0);
  });

  it('reports meters reporting against meters connected and the 30-day coverage tier', () => {
    const connected: EnvelopeInput = { type: 'meters-connected', dt_id: 'dt-1', meters: 4 };
    const e = envelopes(
      run([connected, read(reading('m1', T0, 1)), read(reading('m2', T0, 1)), emit]).outputs,
    )[0]!;
    expect(e.meters_reporting).toBe(2);
    expect(e.meters_connected).toBe(4);
    // 2 of 4 meters for 1 of 2880 slots.
    expect(e.ami_coverage_pct).toBeCloseTo((100 * 2) / (4 * 2880), 10);
    expect(e.data_quality).toBe('ami_imputed');
  });

  it('declares ami-direct once meters cover at least 90% of the last 30 days', () => {
    const inputs: EnvelopeInput[] = [{ type: 'meters-connected', dt_id: 'dt-1', meters: 2 }];
    const slots = 2880;
    for (let s = 0; s < slots; s++) {
      const ts = T0 + s * 15 * MIN;
      inputs.push(read(reading('m1', ts, 1)));
      // m2 misses one slot in six: coverage (1 + 5/6) / 2 = 91.7%
      if (s % 6 !== 0) inputs.push(read(reading('m2', ts, 1)));
    }
    const slotsOut = latest(run([...inputs, emit]).outputs);
    const last = slotsOut.get(T0 + (slots - 1) * 15 * MIN)!;
    expect(last.ami_coverage_pct).toBeCloseTo((100 * (slots + (slots * 5) / 6)) / (2 * slots), 6);
    expect(last.data_quality).toBe('ami_direct');
    // Halfway through, half of the window is still empty: imputed.
    expect(slotsOut.get(T0 + 1440 * 15 * MIN)!.data_quality).toBe('ami_imputed');
  });

  it('is deterministic: the same inputs give the same outputs', () => {
    const inputs = Array.from({ length: 200 }, (_, k) =>
      read(reading(`m${k % 7}`, T0 + ((k * 37) % 120) * MIN, (k % 11) - 3)),
    );
    const a = run([...inputs, emit]).outputs;
    const b = run([...inputs, emit]).outputs;
    expect(b).toEqual(a);
  });
});
