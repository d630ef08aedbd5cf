import { SLOT_MS, slotStart } from '../core/time.js';
import type { DtEnvelope, MeterReading } from '../schemas/types.gen.js';
import { CoverageWindow, dataQualityFor } from './coverage.js';
import { SlotReadings } from './slot-readings.js';
import { summarizeSlot } from './slot-summary.js';

/**
 * The 15-minute DT envelope processor. Pure: it reads no clock and does no I/O, so a replay of the same
 * inputs produces the same outputs.
 *
 * Event time: the processor's stream time is the latest reading time it has seen (one processor instance
 * serves one log partition, so this is Kafka Streams' per-partition stream time). A slot [t, t+15 min)
 * closes, and is emitted as final, once stream time reaches t + 15 min + allowed lateness. A reading for a
 * closed slot still revises it (and the slot is emitted again with a higher revision) until stream time has
 * moved `revisionHorizonMs` past the slot's end; after that the slot's detail is released and a reading for
 * it is returned as `too-late` (the raw reading is still stored by the readings sink: nothing is lost).
 *
 * Duplicates: a reading with the same meter and timestamp as one already in the slot replaces it (last
 * write wins) and an identical one changes nothing, so re-delivered readings never double count.
 *
 * Versions: an emitted slot carries 2 x the newest receive time among its readings, plus 1 once final. A
 * change always comes with a reading received later, so versions grow with every change; they depend only
 * on the records, so a replay or a processor restored from the warehouse after a restart emits the same
 * versions, and the warehouse keeps the newest row of a slot whatever order rows arrive in.
 */
export interface EnvelopeConfig {
  allowedLatenessMs: number;
  revisionHorizonMs: number;
}

export const DEFAULT_ENVELOPE_CONFIG: EnvelopeConfig = {
  allowedLatenessMs: 5 * 60_000,
  revisionHorizonMs: 24 * 3_600_000,
};

export type EnvelopeInput =
  | { type: 'reading'; reading: MeterReading }
  /** Topology: how many meters the DT has (the denominator of meters reporting and of coverage). */
  | { type: 'meters-connected'; dt_id: string; meters: number }
  /** Punctuation from the runtime: emit every slot changed since the last emit. */
  | { type: 'emit' };

export type EnvelopeOutput =
  { type: 'envelope'; envelope: DtEnvelope } | { type: 'too-late'; reading: MeterReading; reason: string };

interface SlotState {
  readings: SlotReadings;
  /** Newest receive time among the readings applied: the basis of the version. */
  lastReceivedAt: number;
  final: boolean;
}

interface DtState {
  metersConnected: number;
  /** Meter id → the small integer the DT's slots store instead of the id. */
  meterIndex: Map<string, number>;
  slots: Map<number, SlotState>;
  coverage: CoverageWindow;
}

export interface EnvelopeState {
  streamTime: number;
  /** Slot boundary up to which every slot has been closed. */
  closedBefore: number;
  dts: Map<string, DtState>;
  /** Slots changed since the last emit, as `${dt_id}\u0000${slot_start}`. */
  dirty: Set<string>;
}

export function initialEnvelopeState(): EnvelopeState {
  return {
    streamTime: Number.NEGATIVE_INFINITY,
    closedBefore: Number.NEGATIVE_INFINITY,
    dts: new Map(),
    dirty: new Set(),
  };
}

/**
 * Applies one input. The state passed in is owned by the processor and updated in place (a copy per reading
 * would dominate the cost); callers keep only the returned reference.
 */
export function stepEnvelope(
  state: EnvelopeState,
  input: EnvelopeInput,
  config: EnvelopeConfig = DEFAULT_ENVELOPE_CONFIG,
): { state: EnvelopeState; outputs: EnvelopeOutput[] } {
  const outputs: EnvelopeOutput[] = [];
  switch (input.type) {
    case 'reading':
      applyReading(state, input.reading, config, outputs);
      break;
    case 'meters-connected':
      dtState(state, input.dt_id).metersConnected = input.meters;
      break;
    case 'emit':
      emitDirty(state, outputs);
      break;
  }
  return { state, outputs };
}

function dtState(state: EnvelopeState, dtId: string): DtState {
  let dt = state.dts.get(dtId);
  if (!dt) {
    dt = { metersConnected: 0, meterIndex: new Map(), slots: new Map(), coverage: new CoverageWindow() };
    state.dts.set(dtId, dt);
  }
  return dt;
}

function applyReading(
  state: EnvelopeState,
  reading: MeterReading,
  config: EnvelopeConfig,
  outputs: EnvelopeOutput[],
) {
  const start = slotStart(reading.ts);
  const dt = dtState(state, reading.dt_id);
  let slot = dt.slots.get(start);
  if (!slot) {
    if (start + SLOT_MS <= state.streamTime - config.revisionHorizonMs) {
      outputs.push({
        type: 'too-late',
        reading,
        reason: `reading at ${new Date(reading.ts).toISOString()} is past the revision horizon of its slot (stream time ${new Date(state.streamTime).toISOString()})`,
      });
      return;
    }
    slot = { readings: new SlotReadings(), lastReceivedAt: 0, final: false };
    dt.slots.set(start, slot);
  }

  let meter = dt.meterIndex.get(reading.meter_id);
  if (meter === undefined) dt.meterIndex.set(reading.meter_id, (meter = dt.meterIndex.size));
  const metersBefore = slot.readings.meters;
  const result = slot.readings.put(meter, reading.ts - start, reading.p_kw, reading.q_kvar, reading.legs);
  if (slot.readings.meters !== metersBefore) dt.coverage.record(start, slot.readings.meters);
  if (result !== 'unchanged') {
    slot.lastReceivedAt = Math.max(slot.lastReceivedAt, reading.received_at);
    state.dirty.add(dirtyKey(reading.dt_id, start));
  }

  if (reading.ts > state.streamTime) {
    state.streamTime = reading.ts;
    closeSlots(state, config, outputs);
  }
}

/**
 * Closes (emits as final) every slot whose end plus allowed lateness stream time has reached, and releases
 * the detail of slots past the revision horizon. Runs only when stream time crosses a slot boundary.
 */
function closeSlots(state: EnvelopeState, config: EnvelopeConfig, outputs: EnvelopeOutput[]) {
  const closeBefore = slotStart(state.streamTime - config.allowedLatenessMs);
  if (closeBefore <= state.closedBefore) return;
  state.closedBefore = closeBefore;
  const releaseBefore = state.streamTime - config.revisionHorizonMs;
  for (const [dtId, dt] of state.dts) {
    for (const [start, slot] of dt.slots) {
      if (!slot.final && start + SLOT_MS <= closeBefore) {
        slot.final = true;
        slot.readings.trim();
        state.dirty.delete(dirtyKey(dtId, start));
        outputs.push({ type: 'envelope', envelope: envelopeOf(dtId, start, slot, dt) });
      }
      if (slot.final && start + SLOT_MS <= releaseBefore) {
        const key = dirtyKey(dtId, start);
        if (state.dirty.delete(key))
          outputs.push({ type: 'envelope', envelope: envelopeOf(dtId, start, slot, dt) });
        dt.slots.delete(start);
      }
    }
  }
}

function emitDirty(state: EnvelopeState, outputs: EnvelopeOutput[]) {
  for (const key of state.dirty) {
    const [dtId, startText] = key.split('\u0000') as [string, string];
    const start = Number(startText);
    const dt = state.dts.get(dtId)!;
    outputs.push({ type: 'envelope', envelope: envelopeOf(dtId, start, dt.slots.get(start)!, dt) });
  }
  state.dirty.clear();
}

function dirtyKey(dtId: string, start: number): string {
  return `${dtId}\u0000${start}`;
}

function envelopeOf(dtId: string, start: number, slot: SlotState, dt: DtState): DtEnvelope {
  const figures = summarizeSlot(slot.readings);
  // Until topology says otherwise, the meters seen are the meters connected.
  const connected = Math.max(dt.metersConnected, figures.meters_reporting);
  const coverage = Math.min(100, dt.coverage.coveragePct(start, connected));
  return {
    dt_id: dtId,
    slot_start: start,
    version: 2 * slot.lastReceivedAt + (slot.final ? 1 : 0),
    is_final: slot.final,
    ...figures,
    meters_connected: connected,
    ami_coverage_pct: coverage,
    data_quality: dataQualityFor(coverage),
  };
}
