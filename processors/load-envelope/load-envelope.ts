import { SLOT_MS, slotStart } from '../../core/time.js';
import { ZoneOffsets } from '../../core/zone-offsets.js';
import type { DtEnvelope, MeterReading } from '../../schemas/types.gen.js';
import { CoverageWindow, dataQualityFor } from './coverage.js';
import { emptyLoadPatterns, imputeMissing, modelledKw, type LoadPatterns } from './imputation.js';
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
 * Resident slots: a closed slot's readings stay in memory only until stream time is `residentMs` past its end
 * (default: the whole revision horizon). A reading for a slot released before its revision horizon asks the
 * edge for the slot's stored readings (a `load-slot` output; the readings sink wrote every reading applied
 * before it) and waits, with any further reading for that slot, until they come back as a `slot-readings`
 * input: the slot is rebuilt from them and the waiting readings applied in their order, which gives the
 * envelope the slot would have had in memory. (The warehouse keeps, of copies of one meter's reading, the
 * newest received: a slot whose meter re-sent an identical reading later than the one applied comes back
 * with that later receive time, so a higher version, never a lower one. A stored reading identical to a
 * waiting one, receive time included, is left to the waiting one, so a re-delivered reading re-emits the
 * slot's envelope unchanged, where in memory it would have emitted nothing.)
 *
 * Duplicates: a reading with the same meter and timestamp as one already in the slot replaces it (last
 * write wins) and an identical one changes nothing, so re-delivered readings never double count.
 *
 * Versions: an emitted slot carries 2 x (the newest receive time among its readings + the number of
 * readings), plus 1 once final. A reading added grows the count, a correction received later grows the
 * newest receive time, so versions grow with every change even when readings arrive out of receive order
 * (several bridges feeding one partition, or a restore that applies the warehouse's newer readings before
 * the log's older ones); a version depends only on the slot's readings, never on their order, so a replay or
 * a processor restored after a restart emits the same versions, a partial slot emitted during a rebuild
 * always has a lower version than the whole one, and the warehouse keeps the newest row of a slot whatever
 * order rows arrive in. (A correction received before the reading it replaces keeps the version: corrections
 * are last-arrived-wins.)
 *
 * Data-quality tiers in full (processors/load-envelope/imputation.ts has the patterns):
 * - Imputation. When a slot is emitted with fewer meters reporting than connected, and the DT's feeder has a
 *   load pattern for the slot (a `load-patterns` input), the missing meters' load is added: imputed kW =
 *   each missing meter's own mean for that day type and local hour where the warehouse has its history, and
 *   for the others the feeder's kW per meter for that day type and local slot of day × the DT's scale. The
 *   figures (net_mean_kw, min, max, p95, import and export kWh) then describe the whole DT, `imputed_kw` is the
 *   part that was added (the measured part is net_mean_kw − imputed_kw), `imputed_meters` the meters filled,
 *   and `profile_source` is `imputed`. Without a pattern the slot stays as measured. Imputation does not
 *   change the version (it depends only on the readings): the imputed figures are those of the patterns in
 *   force when the slot is emitted; patterns change slowly (four weeks of final slots, reloaded hourly), and a
 *   pattern change alone does not re-emit a slot.
 * - Modelled-only DTs. A DT the topology gives meters (`meters-connected` > 0) and a nameplate
 *   (`dt-nameplate`) but that has never had a reading in this processor gets, for every slot that closes
 *   (stream time passing slot end + allowed lateness, so the partition's readings drive it), a final modelled
 *   slot: rated kVA × the feeder's kW per kVA for the slot (from the feeder's DTs with AMI), or × the standard
 *   residential shape when the feeder has none. A DT the warehouse has measured slots of (in the
 *   patterns' four weeks) is not modelled, and neither are the slots of the first close after start (other
 *   DTs of the partition may not have shown their first reading yet) nor any slot before the slot of the
 *   first reading the state took (one upload spans a quarter hour: its first message alone closes twice,
 *   before the partition's other DTs have shown a reading); a restart re-emits the same rows for
 *   the slots it closes again. A modelled slot has version 1,
 *   is_final, no readings, `profile_source` `modelled`, `imputed_kw` = net_mean_kw, `imputed_meters` =
 *   meters_connected and tier `modelled_only`; any measured row of the slot has a higher version and replaces
 *   it. Once the DT has a reading, modelling stops. A partition with no readings at all has no stream time
 *   and models nothing. The thermal model is not run here: the stress and operating-envelope processors run
 *   it over these profiles like any other.
 */
export interface EnvelopeConfig {
  allowedLatenessMs: number;
  revisionHorizonMs: number;
  /**
   * How long after its end a closed slot's readings stay in memory (at least the allowed lateness, at most
   * the revision horizon); undefined: the revision horizon.
   */
  residentMs?: number;
}

export const DEFAULT_ENVELOPE_CONFIG: EnvelopeConfig = {
  allowedLatenessMs: 5 * 60_000,
  revisionHorizonMs: 24 * 3_600_000,
};

export type EnvelopeInput =
  | { type: 'reading'; reading: MeterReading }
  /** Topology: how many meters the DT has (the denominator of meters reporting and of coverage). */
  | { type: 'meters-connected'; dt_id: string; meters: number }
  /** Topology: the DT's feeder, rating and IANA time zone (core/schedule.ts transformerTimeZone). */
  | { type: 'dt-nameplate'; dt_id: string; feeder_id: string; rated_kva: number; time_zone: string }
  /** Side input: the feeder load patterns (replaces the previous ones). */
  | { type: 'load-patterns'; patterns: LoadPatterns }
  /** Punctuation from the runtime: emit every slot changed since the last emit. */
  | { type: 'emit' }
  /** The edge's answer to a `load-slot`: the stored readings of the DT with `ts` in the slot. */
  | { type: 'slot-readings'; dt_id: string; slot_start: number; readings: MeterReading[] };

export type EnvelopeOutput =
  | { type: 'envelope'; envelope: DtEnvelope }
  | { type: 'too-late'; reading: MeterReading; reason: string }
  /** A request to the edge: the stored readings of a released slot, as a `slot-readings` input. */
  | { type: 'load-slot'; dt_id: string; slot_start: number };

interface SlotState {
  dtId: string;
  start: number;
  readings: SlotReadings;
  /** Newest receive time among the readings applied: the basis of the version. */
  lastReceivedAt: number;
  final: boolean;
}

interface DtState {
  metersConnected: number;
  nameplate: { feederId: string; ratedKva: number; zone: ZoneOffsets } | null;
  /** Meter id → the small integer the DT's slots store instead of the id, and back. */
  meterIndex: Map<string, number>;
  meterIds: string[];
  slots: Map<number, SlotState>;
  coverage: CoverageWindow;
  /**
   * Readings in the DT's last closed slot: the next slot is sized for as many up front, instead of growing to
   * it by copies (and leaving up to half again as slack while open).
   */
  slotReadings: number;
}

export interface EnvelopeState {
  streamTime: number;
  /** Slot boundary up to which every slot has been closed. */
  closedBefore: number;
  /** Start of the slot of the first reading this state took: no slot before it is modelled. */
  firstDataSlot: number;
  dts: Map<string, DtState>;
  /** Slots changed since the last emit (the slots themselves: no key string per reading). */
  dirty: Set<SlotState>;
  patterns: LoadPatterns;
  /** Released slots whose stored readings were asked for, by DT and slot start: the readings waiting for them. */
  loading: Map<string, Map<number, MeterReading[]>>;
}

export function initialEnvelopeState(): EnvelopeState {
  return {
    streamTime: Number.NEGATIVE_INFINITY,
    closedBefore: Number.NEGATIVE_INFINITY,
    firstDataSlot: Number.NEGATIVE_INFINITY,
    dts: new Map(),
    dirty: new Set(),
    patterns: emptyLoadPatterns(),
    loading: new Map(),
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
      applyEnvelopeReading(state, input.reading, config, outputs);
      break;
    case 'meters-connected':
      dtState(state, input.dt_id).metersConnected = input.meters;
      break;
    case 'dt-nameplate':
      dtState(state, input.dt_id).nameplate = {
        feederId: input.feeder_id,
        ratedKva: input.rated_kva,
        zone: ZoneOffsets.of(input.time_zone),
      };
      break;
    case 'load-patterns':
      state.patterns = input.patterns;
      break;
    case 'emit':
      emitDirty(state, outputs);
      break;
    case 'slot-readings':
      rebuildSlot(state, input.dt_id, input.slot_start, input.readings, config, outputs);
      break;
  }
  return { state, outputs };
}

function dtState(state: EnvelopeState, dtId: string): DtState {
  let dt = state.dts.get(dtId);
  if (!dt) {
    dt = {
      metersConnected: 0,
      nameplate: null,
      meterIndex: new Map(),
      meterIds: [],
      slots: new Map(),
      coverage: new CoverageWindow(),
      slotReadings: 4,
    };
    state.dts.set(dtId, dt);
  }
  return dt;
}

/** stepEnvelope of a `reading` input, its outputs pushed to `outputs` (the hot path: no input object). */
export function applyEnvelopeReading(
  state: EnvelopeState,
  reading: MeterReading,
  config: EnvelopeConfig,
  outputs: EnvelopeOutput[],
): void {
  const start = slotStart(reading.ts);
  if (state.firstDataSlot === Number.NEGATIVE_INFINITY) state.firstDataSlot = start;
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
    const waiting = state.loading.get(reading.dt_id);
    const queued = waiting?.get(start);
    if (queued) return void queued.push(reading);
    if (start + SLOT_MS <= state.streamTime - residentMsOf(config)) {
      // Released: its stored readings come back as a `slot-readings` input, this one waits for them.
      if (waiting) waiting.set(start, [reading]);
      else state.loading.set(reading.dt_id, new Map([[start, [reading]]]));
      outputs.push({ type: 'load-slot', dt_id: reading.dt_id, slot_start: start });
      return;
    }
    slot = newSlot(dt, reading.dt_id, start, false);
  }
  putReading(state, dt, slot, reading);

  if (reading.ts > state.streamTime) {
    state.streamTime = reading.ts;
    closeSlots(state, config, outputs);
  }
}

function newSlot(dt: DtState, dtId: string, start: number, final: boolean): SlotState {
  const slot: SlotState = {
    dtId,
    start,
    readings: new SlotReadings(dt.slotReadings),
    lastReceivedAt: 0,
    final,
  };
  dt.slots.set(start, slot);
  return slot;
}

/** How long after its end a closed slot's readings stay in memory (EnvelopeConfig.residentMs, bounded). */
export function residentMsOf(config: EnvelopeConfig): number {
  return Math.max(
    config.allowedLatenessMs,
    Math.min(config.residentMs ?? config.revisionHorizonMs, config.revisionHorizonMs),
  );
}

/** Adds a reading to its slot, marking the slot dirty if it changed. */
function putReading(state: EnvelopeState, dt: DtState, slot: SlotState, reading: MeterReading): void {
  let meter = dt.meterIndex.get(reading.meter_id);
  if (meter === undefined) {
    dt.meterIndex.set(reading.meter_id, (meter = dt.meterIndex.size));
    dt.meterIds.push(reading.meter_id);
  }
  const metersBefore = slot.readings.meters;
  const result = slot.readings.put(
    meter,
    reading.ts - slot.start,
    reading.p_kw,
    reading.q_kvar,
    reading.legs,
  );
  if (slot.readings.meters !== metersBefore) dt.coverage.record(slot.start, slot.readings.meters);
  if (result === 'unchanged') return;
  slot.lastReceivedAt = Math.max(slot.lastReceivedAt, reading.received_at);
  state.dirty.add(slot);
}

/**
 * A released slot's stored readings are back: the slot is rebuilt from them (closed, as it was when released;
 * a slot that has none was never held, and is new, as it would have been in memory), then the readings that
 * waited for them are applied in their order. Stored readings identical to a waiting one are left to it.
 */
function rebuildSlot(
  state: EnvelopeState,
  dtId: string,
  start: number,
  stored: MeterReading[],
  config: EnvelopeConfig,
  outputs: EnvelopeOutput[],
) {
  const waiting = state.loading.get(dtId);
  const queued = waiting?.get(start);
  if (!waiting || !queued) return;
  waiting.delete(start);
  if (waiting.size === 0) state.loading.delete(dtId);
  const dt = dtState(state, dtId);
  const same = new Set(queued.map(identity));
  const kept = stored.filter((r) => r.dt_id === dtId && slotStart(r.ts) === start && !same.has(identity(r)));
  const slot = newSlot(dt, dtId, start, kept.length > 0);
  for (const reading of kept) putReading(state, dt, slot, reading);
  // Rebuilt as it was: only the waiting readings change it.
  state.dirty.delete(slot);
  for (const reading of queued) putReading(state, dt, slot, reading);
  if (slot.final && !state.dirty.has(slot)) slot.readings.freeze();
  // Past the revision horizon meanwhile (stream time moved on in the same batch): emitted once and released.
  if (start + SLOT_MS <= state.streamTime - config.revisionHorizonMs) {
    if (state.dirty.delete(slot)) outputs.push({ type: 'envelope', envelope: envelopeOf(state, slot, dt) });
    dt.slots.delete(start);
  }
}

function identity(r: MeterReading): string {
  return `${r.meter_id}\u0000${r.ts}\u0000${r.received_at}`;
}

/**
 * Closes (emits as final) every slot whose end plus allowed lateness stream time has reached, packs closed
 * slots' readings (SlotReadings.freeze) and releases the detail of slots past the resident window. Runs only
 * when stream time crosses a slot boundary.
 */
function closeSlots(state: EnvelopeState, config: EnvelopeConfig, outputs: EnvelopeOutput[]) {
  const closeBefore = slotStart(state.streamTime - config.allowedLatenessMs);
  if (closeBefore <= state.closedBefore) return;
  const closedBefore = state.closedBefore;
  state.closedBefore = closeBefore;
  // The first close after start models nothing: the partition's other DTs may not have shown a reading yet.
  // Nor is a slot before the partition's first data: an upload spans a quarter hour, so its first message
  // alone can make two closes, the second of the slot before it, when nearly no DT has shown a reading.
  const modelFrom = Number.isFinite(closedBefore)
    ? Math.max(closedBefore, state.firstDataSlot)
    : closedBefore;
  const releaseBefore = state.streamTime - residentMsOf(config);
  for (const [dtId, dt] of state.dts) {
    if (
      Number.isFinite(modelFrom) &&
      dt.meterIndex.size === 0 &&
      dt.metersConnected > 0 &&
      dt.nameplate &&
      !state.patterns.metered.has(dtId)
    )
      for (let start = modelFrom; start < closeBefore; start += SLOT_MS)
        outputs.push({ type: 'envelope', envelope: modelledEnvelope(state, dtId, dt, start) });
    for (const [start, slot] of dt.slots) {
      if (!slot.final && start + SLOT_MS <= closeBefore) {
        slot.final = true;
        dt.slotReadings = Math.max(4, slot.readings.size);
        state.dirty.delete(slot);
        outputs.push({ type: 'envelope', envelope: envelopeOf(state, slot, dt) });
      }
      if (slot.final && start + SLOT_MS <= releaseBefore) {
        if (state.dirty.delete(slot))
          outputs.push({ type: 'envelope', envelope: envelopeOf(state, slot, dt) });
        dt.slots.delete(start);
      } else if (slot.final && !state.dirty.has(slot)) {
        // Closed slots are held packed until released (a late reading unpacks one until the next close;
        // a slot it dirtied is packed once emitted).
        slot.readings.freeze();
      }
    }
  }
}

function emitDirty(state: EnvelopeState, outputs: EnvelopeOutput[]) {
  for (const slot of state.dirty)
    outputs.push({ type: 'envelope', envelope: envelopeOf(state, slot, state.dts.get(slot.dtId)!) });
  state.dirty.clear();
}

function envelopeOf(state: EnvelopeState, slot: SlotState, dt: DtState): DtEnvelope {
  const { dtId, start } = slot;
  const reporting = slot.readings.meters;
  // Until topology says otherwise, the meters seen are the meters connected.
  const connected = Math.max(dt.metersConnected, reporting);
  const missing = connected - reporting;
  const added =
    dt.nameplate && missing > 0
      ? imputeMissing(
          state.patterns,
          dtId,
          dt.nameplate.feederId,
          start,
          dt.nameplate.zone,
          missing,
          reportingIn(slot, dt),
        )
      : null;
  // Each meter's own slot only in the final envelope: the stress processor learns from final ones alone.
  const figures = summarizeSlot(
    slot.readings,
    added?.kw ?? 0,
    slot.final ? (meter) => dt.meterIds[meter]! : undefined,
  );
  const coverage = Math.min(100, dt.coverage.coveragePct(start, connected));
  return {
    dt_id: dtId,
    slot_start: start,
    version: 2 * (slot.lastReceivedAt + slot.readings.size) + (slot.final ? 1 : 0),
    is_final: slot.final,
    ...figures,
    meters_connected: connected,
    ami_coverage_pct: coverage,
    data_quality: dataQualityFor(coverage),
    imputed_kw: added?.kw ?? 0,
    imputed_meters: added?.meters ?? 0,
    profile_source: added === null ? 'measured' : 'imputed',
  };
}

/** Whether a meter (by id) has a reading in the slot. */
function reportingIn(slot: SlotState, dt: DtState): (meterId: string) => boolean {
  let present: Set<number> | undefined;
  return (meterId) => {
    const index = dt.meterIndex.get(meterId);
    if (index === undefined) return false;
    if (!present) {
      present = new Set();
      for (let row = 0; row < slot.readings.size; row++) present.add(slot.readings.meterOf(row));
    }
    return present.has(index);
  };
}

/** A modelled slot of a DT without AMI (see the header): nameplate × load shape, constant over the slot. */
function modelledEnvelope(state: EnvelopeState, dtId: string, dt: DtState, start: number): DtEnvelope {
  const plate = dt.nameplate!;
  const { kw } = modelledKw(state.patterns, plate.feederId, plate.ratedKva, start, plate.zone);
  const hours = SLOT_MS / 3_600_000;
  return {
    dt_id: dtId,
    slot_start: start,
    version: 1,
    is_final: true,
    net_mean_kw: kw,
    min_kw: kw,
    max_kw: kw,
    p95_kw: kw,
    import_kwh: Math.max(kw, 0) * hours,
    export_kwh: Math.max(-kw, 0) * hours,
    q_mean_kvar: null,
    legs: [],
    meters_reporting: 0,
    meters_connected: dt.metersConnected,
    readings: 0,
    ami_coverage_pct: 0,
    data_quality: 'modelled_only',
    imputed_kw: kw,
    imputed_meters: dt.metersConnected,
    profile_source: 'modelled',
    meters: [],
  };
}
