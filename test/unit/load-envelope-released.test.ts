import { describe, expect, it } from 'vitest';
import {
  initialEnvelopeState,
  stepEnvelope,
  type EnvelopeConfig,
  type EnvelopeInput,
  type EnvelopeOutput,
} from '../../processors/load-envelope/load-envelope.js';
import { slotStart } from '../../core/time.js';
import type { DtEnvelope, MeterReading } from '../../schemas/types.gen.js';
import { meterReading, runEnvelope } from '../support/load-envelope.js';

const T0 = Date.UTC(2026, 6, 1, 0, 0, 0);
const MIN = 60_000;
const HOUR = 3_600_000;
const inMemory: EnvelopeConfig = { allowedLatenessMs: 5 * MIN, revisionHorizonMs: 24 * HOUR };
const released: EnvelopeConfig = { ...inMemory, residentMs: 30 * MIN };

const read = (reading: MeterReading): EnvelopeInput => ({ type: 'reading', reading });
const emit: EnvelopeInput = { type: 'emit' };

/**
 * Runs the processor with a warehouse beside it: every reading is stored (the newest received of a meter's
 * copies kept, as the readings table's FINAL does) before (`written: 'before'`, the task writes a batch before
 * it loads) or after it is applied, and each `load-slot` is answered at once with the stored readings.
 */
function runWithWarehouse(config: EnvelopeConfig, inputs: EnvelopeInput[], written: 'before' | 'after') {
  const store = new Map<string, MeterReading>();
  const keep = (r: MeterReading) => {
    const key = `${r.dt_id}|${r.meter_id}|${r.ts}`;
    const seen = store.get(key);
    if (!seen || seen.received_at <= r.received_at) store.set(key, r);
  };
  let state = initialEnvelopeState();
  const outputs: EnvelopeOutput[] = [];
  const loads: Array<{ dt: string; start: number }> = [];
  const queue = [...inputs];
  while (queue.length) {
    const input = queue.shift()!;
    if (written === 'before' && input.type === 'reading') keep(input.reading);
    const step = stepEnvelope(state, input, config);
    state = step.state;
    if (written === 'after' && input.type === 'reading') keep(input.reading);
    for (const output of step.outputs)
      if (output.type === 'load-slot') {
        loads.push({ dt: output.dt_id, start: output.slot_start });
        queue.unshift({
          type: 'slot-readings',
          dt_id: output.dt_id,
          slot_start: output.slot_start,
          readings: [...store.values()].filter(
            (r) => r.dt_id === output.dt_id && slotStart(r.ts) === output.slot_start,
          ),
        });
      } else outputs.push(output);
  }
  return { state, outputs, loads };
}

function envelopes(outputs: EnvelopeOutput[]): DtEnvelope[] {
  return outputs.flatMap((o) => (o.type === 'envelope' ? [o.envelope] : []));
}

/** Six hours of one-minute readings of two DTs (dt-2 silent from 02:00 to 02:15), then late readings. */
function day(): EnvelopeInput[] {
  const inputs: EnvelopeInput[] = [];
  for (let minute = 0; minute < 6 * 60; minute++) {
    const ts = T0 + minute * MIN;
    for (let m = 0; m < 3; m++)
      inputs.push(
        read(meterReading(`m${m}`, 'dt-1', ts, Math.round(1000 * Math.sin(minute / 17 + m)) / 1000)),
      );
    if (minute < 120 || minute >= 135)
      inputs.push(read(meterReading('n0', 'dt-2', ts, (minute % 13) / 10 - 0.4, { q_kvar: 0.1 })));
    if (minute % 15 === 14) inputs.push(emit);
    if (minute === 4 * 60) {
      // A meter's upload of 01:00–01:15 arrives three hours late, with a correction of another meter's
      // 01:05 reading, and dt-2's missing quarter hour; then the same slot once more, later.
      for (let k = 0; k < 15; k++)
        inputs.push(
          read(meterReading('m3', 'dt-1', T0 + HOUR + k * MIN, 0.5 + k / 100, { received_at: ts + 1_000 })),
        );
      inputs.push(read(meterReading('m1', 'dt-1', T0 + HOUR + 5 * MIN, 7.25, { received_at: ts + 2_000 })));
      inputs.push(
        read(meterReading('n0', 'dt-2', T0 + 2 * HOUR + 3 * MIN, 1.5, { received_at: ts + 3_000 })),
      );
      inputs.push(emit);
    }
    if (minute === 5 * 60)
      inputs.push(
        read(meterReading('m0', 'dt-1', T0 + HOUR + 14 * MIN, -2.5, { received_at: ts + 1_000 })),
        emit,
      );
  }
  return inputs;
}

describe('envelope processor with released slots', () => {
  it('revises a slot closed hours ago from its stored readings to exactly the envelope held in memory', () => {
    const expected = runEnvelope(inMemory, day());
    for (const written of ['before', 'after'] as const) {
      const got = runWithWarehouse(released, day(), written);
      expect(got.loads).toEqual([
        { dt: 'dt-1', start: T0 + HOUR },
        { dt: 'dt-2', start: T0 + 2 * HOUR },
        { dt: 'dt-1', start: T0 + HOUR },
      ]);
      expect(envelopes(got.outputs)).toEqual(envelopes(expected.outputs));
      expect(got.outputs.filter((o) => o.type !== 'envelope')).toEqual([]);
    }
    const revised = envelopes(expected.outputs).filter(
      (e) => e.dt_id === 'dt-1' && e.slot_start === T0 + HOUR && e.meters_reporting === 4,
    );
    expect(revised).toHaveLength(2);
    expect(revised.every((e) => e.is_final)).toBe(true);
  });

  it('holds only the slots of the resident window', () => {
    const all = runEnvelope(inMemory, day()).state.dts.get('dt-1')!.slots.size;
    const resident = runWithWarehouse(released, day(), 'before').state.dts.get('dt-1')!.slots.size;
    expect(all).toBe(24);
    expect(resident).toBeLessThanOrEqual(4);
  });

  it('keeps a reading for a slot being loaded until its stored readings come', () => {
    const before = runWithWarehouse(released, day(), 'before').state;
    const late = [
      meterReading('m2', 'dt-1', T0 + 30 * MIN, 9, { received_at: T0 + 6 * HOUR }),
      meterReading('m2', 'dt-1', T0 + 31 * MIN, 8, { received_at: T0 + 6 * HOUR }),
    ];
    let state = before;
    const outputs: EnvelopeOutput[] = [];
    for (const r of late) outputs.push(...stepEnvelope(state, read(r), released).outputs);
    expect(outputs).toEqual([{ type: 'load-slot', dt_id: 'dt-1', slot_start: T0 + 30 * MIN }]);
    expect(stepEnvelope(state, emit, released).outputs).toEqual([]);
    const stored = day().flatMap((i) =>
      i.type === 'reading' && i.reading.dt_id === 'dt-1' && slotStart(i.reading.ts) === T0 + 30 * MIN
        ? [i.reading]
        : [],
    );
    state = stepEnvelope(
      state,
      { type: 'slot-readings', dt_id: 'dt-1', slot_start: T0 + 30 * MIN, readings: stored },
      released,
    ).state;
    const [revised] = envelopes(stepEnvelope(state, emit, released).outputs);
    const inTime = envelopes(runEnvelope(inMemory, [...day(), ...late.map(read), emit]).outputs).at(-1)!;
    expect(revised).toEqual(inTime);
  });

  it('still returns a reading past the revision horizon as too-late, without loading', () => {
    const { state } = runWithWarehouse(released, day(), 'before');
    const step = stepEnvelope(
      state,
      read(meterReading('m0', 'dt-1', T0 + 6 * HOUR - 25 * HOUR, 1)),
      released,
    );
    expect(step.outputs.map((o) => o.type)).toEqual(['too-late']);
  });
});
