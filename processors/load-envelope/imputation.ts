import { SLOTS_PER_DAY } from '../../core/time.js';
import { localCell, type ZoneOffsets } from '../../core/zone-offsets.js';

/**
 * Feeder-level load patterns for the data-quality tiers `ami-imputed` and `modelled-only`. Pure: the
 * patterns are built from aggregates the envelope stage reads from the warehouse (sql/queries/
 * feeder_load_patterns.sql and dt_load_levels.sql) and handed to the envelope processor as a side input.
 *
 * Pattern key: day type × slot of day in the DT's own time zone, daylight-saving time included (the zone of
 * core/schedule.ts transformerTimeZone; core/zone-offsets.ts localCell). Day type: weekday (Monday to Friday)
 * or weekend (Saturday, Sunday) of the local date. So a pattern is 2 × 96 values, index
 * `dayType * 96 + slotOfDay`, NaN where there was no data. The queries are given each DT's UTC offsets over
 * their window as parameters (ZoneOffsets.changes) and compute the same cell for every slot.
 *
 * Per feeder, `perMeter` is the mean measured kW per reporting meter: Σ measured kW / Σ meters reporting over
 * the final envelope slots of the last four weeks (measured part only: imputed and modelled kW never feed a
 * pattern). Every slot with at least one meter reporting counts, not only fully covered ones: a DT whose
 * silent meters never all report at once still contributes, and the reporting meters of a slot are a fair
 * sample of its meters when outages are independent of load.
 *
 * Per DT, `dtScale` scales the feeder pattern to the DT: the DT's own mean kW per reporting meter over the
 * same window divided by its feeder's, clamped to [0.25, 4]; 1 when the DT has no measured slots.
 *
 * Per meter, `meterShapes` (grouped by DT) is the meter's own mean kW by day type and local hour over the same
 * window, from its readings (sql/queries/meter_load_patterns.sql): 2 × 24 values, NaN where it had none. A
 * missing meter with its own shape for the slot's hour is imputed from it; the feeder pattern fills the
 * others. On simulated data the own shape is what makes the difference: households differ in level and in
 * shape (when they cook, cool, charge a car), so a single household's load is far closer to its own history
 * than to the feeder's mean household (test/unit/imputation-sim.test.ts measures both).
 *
 * Per feeder, `perKva` is the measured load per kVA of rating: `perMeter` × (meters connected ÷ rated kVA)
 * summed over the feeder's DTs with AMI. A `modelled-only` DT gets rated kVA × this; on a feeder without AMI
 * it gets rated kVA × STANDARD_RESIDENTIAL_KW_PER_KVA.
 */
export interface LoadPatterns {
  perMeter: Map<string, Float64Array>;
  perKva: Map<string, Float64Array>;
  dtScale: Map<string, number>;
  /** DTs with measured slots in the window: they have AMI, so they are never modelled. */
  metered: Set<string>;
  /** DT → meter → mean kW by `dayType * 24 + local hour`. */
  meterShapes: Map<string, Map<string, Float32Array>>;
}

export const SHAPE_HOURS = 2 * 24;

export const PATTERN_SLOTS = 2 * SLOTS_PER_DAY;
export const PATTERN_WEEKS = 4;
const SCALE_MIN = 0.25;
const SCALE_MAX = 4;

export function emptyLoadPatterns(): LoadPatterns {
  return {
    perMeter: new Map(),
    perKva: new Map(),
    dtScale: new Map(),
    metered: new Set(),
    meterShapes: new Map(),
  };
}

/** One row of sql/queries/feeder_load_patterns.sql. */
export interface FeederPatternRow {
  feeder_id: string;
  day_type: number;
  slot_of_day: number;
  kw_sum: number;
  meter_slots: number;
}

/** One row of sql/queries/dt_load_levels.sql. */
export interface DtLevelRow {
  dt_id: string;
  kw_sum: number;
  meter_slots: number;
}

/** One row of sql/queries/meter_load_patterns.sql. */
export interface MeterShapeRow {
  dt_id: string;
  meter_id: string;
  day_type: number;
  hour: number;
  kw_sum: number;
  readings: number;
}

/** What the patterns need to know of each DT (from the topology). */
export interface DtNameplate {
  feeder_id: string;
  rated_kva: number;
  meters_connected: number;
}

/** Builds the patterns from the two queries' rows and the topology (see the header for the definitions). */
export function buildLoadPatterns(
  feederRows: readonly FeederPatternRow[],
  dtRows: readonly DtLevelRow[],
  dts: ReadonlyMap<string, DtNameplate>,
  meterRows: readonly MeterShapeRow[] = [],
): LoadPatterns {
  const patterns = emptyLoadPatterns();
  for (const row of meterRows) {
    if (!(row.readings > 0) || row.hour < 0 || row.hour >= 24) continue;
    let meters = patterns.meterShapes.get(row.dt_id);
    if (!meters) patterns.meterShapes.set(row.dt_id, (meters = new Map()));
    let shape = meters.get(row.meter_id);
    if (!shape) meters.set(row.meter_id, (shape = new Float32Array(SHAPE_HOURS).fill(NaN)));
    shape[(row.day_type ? 1 : 0) * 24 + row.hour] = row.kw_sum / row.readings;
  }
  const feederLevel = new Map<string, { kw: number; meters: number }>();
  for (const row of feederRows) {
    if (!(row.meter_slots > 0) || row.slot_of_day < 0 || row.slot_of_day >= SLOTS_PER_DAY) continue;
    let pattern = patterns.perMeter.get(row.feeder_id);
    if (!pattern) patterns.perMeter.set(row.feeder_id, (pattern = new Float64Array(PATTERN_SLOTS).fill(NaN)));
    pattern[(row.day_type ? 1 : 0) * SLOTS_PER_DAY + row.slot_of_day] = row.kw_sum / row.meter_slots;
    const level = feederLevel.get(row.feeder_id) ?? { kw: 0, meters: 0 };
    level.kw += row.kw_sum;
    level.meters += row.meter_slots;
    feederLevel.set(row.feeder_id, level);
  }

  const metered = new Map<string, { meters: number; kva: number }>();
  for (const row of dtRows) {
    const dt = dts.get(row.dt_id);
    if (!dt || !(row.meter_slots > 0)) continue;
    patterns.metered.add(row.dt_id);
    const feeder = feederLevel.get(dt.feeder_id);
    if (feeder && feeder.meters > 0 && feeder.kw !== 0) {
      const ratio = row.kw_sum / row.meter_slots / (feeder.kw / feeder.meters);
      if (Number.isFinite(ratio)) patterns.dtScale.set(row.dt_id, clamp(ratio, SCALE_MIN, SCALE_MAX));
    }
    if (dt.rated_kva > 0 && dt.meters_connected > 0) {
      const sums = metered.get(dt.feeder_id) ?? { meters: 0, kva: 0 };
      sums.meters += dt.meters_connected;
      sums.kva += dt.rated_kva;
      metered.set(dt.feeder_id, sums);
    }
  }
  for (const [feeder, sums] of metered) {
    const perMeter = patterns.perMeter.get(feeder);
    if (!perMeter) continue;
    patterns.perKva.set(
      feeder,
      perMeter.map((kw) => (kw * sums.meters) / sums.kva),
    );
  }
  return patterns;
}

/**
 * A generic residential LV load shape, kW per kVA of DT rating, hour by local hour, for `modelled-only` DTs
 * on feeders without any AMI: night 0.15, a morning peak of 0.35, 0.22–0.25 through the day, an evening peak
 * of 0.55 at 19:00–21:00 (weekends: a later, flatter morning and a higher midday). Its daily mean is about
 * 0.3 of nameplate and its peak 0.55: a DT sized for its diversified peak with the usual margin.
 */
export const STANDARD_RESIDENTIAL_KW_PER_KVA: readonly (readonly number[])[] = [
  // weekday, hours 0..23
  [
    0.18, 0.15, 0.14, 0.14, 0.15, 0.2, 0.3, 0.35, 0.33, 0.27, 0.24, 0.23, 0.23, 0.22, 0.22, 0.23, 0.27, 0.35,
    0.45, 0.55, 0.55, 0.5, 0.38, 0.25,
  ],
  // weekend
  [
    0.2, 0.16, 0.15, 0.14, 0.14, 0.16, 0.2, 0.26, 0.32, 0.34, 0.33, 0.32, 0.31, 0.3, 0.29, 0.29, 0.31, 0.37,
    0.46, 0.55, 0.55, 0.5, 0.4, 0.27,
  ],
];

/** The standard shape's kW per kVA for a pattern index. */
export function standardKwPerKva(index: number): number {
  const type = index >= SLOTS_PER_DAY ? 1 : 0;
  const hour = Math.floor((index % SLOTS_PER_DAY) / 4);
  return STANDARD_RESIDENTIAL_KW_PER_KVA[type]![hour]!;
}

/** Index of the slot starting at `slotStart` in a meter shape: day type × 24 + local hour. */
export function shapeIndex(slotStart: number, zone: ZoneOffsets): number {
  const index = localCell(slotStart, zone);
  return Math.floor(index / SLOTS_PER_DAY) * 24 + Math.floor((index % SLOTS_PER_DAY) / 4);
}

/**
 * The mean kW to add to a slot for the `missing` meters that did not report, and how many meters it covers:
 * each of the DT's meters that did not report and has its own shape for the hour contributes that value,
 * and the rest (missing minus those) the feeder's kW per meter for the slot × the DT's scale. `isReporting`
 * says whether a meter reported in the slot. Null when nothing could be imputed (no shape and
 * no feeder pattern for the slot): then the slot stays as measured.
 */
export function imputeMissing(
  patterns: LoadPatterns,
  dtId: string,
  feederId: string,
  slotStart: number,
  zone: ZoneOffsets,
  missing: number,
  isReporting: (meterId: string) => boolean,
): { kw: number; meters: number } | null {
  if (missing <= 0) return null;
  let kw = 0;
  let meters = 0;
  const shapes = patterns.meterShapes.get(dtId);
  if (shapes) {
    const hour = shapeIndex(slotStart, zone);
    for (const [meterId, shape] of shapes) {
      if (meters === missing) break;
      const value = shape[hour]!;
      if (Number.isNaN(value) || isReporting(meterId)) continue;
      kw += value;
      meters++;
    }
  }
  const perMeter = patterns.perMeter.get(feederId)?.[localCell(slotStart, zone)];
  if (meters < missing && perMeter !== undefined && !Number.isNaN(perMeter)) {
    kw += (missing - meters) * perMeter * (patterns.dtScale.get(dtId) ?? 1);
    meters = missing;
  }
  return meters > 0 ? { kw, meters } : null;
}

/**
 * The modelled mean kW of a DT without AMI: rated kVA × the feeder's kW per kVA for the slot when the feeder
 * has AMI elsewhere, else × the standard residential shape.
 */
export function modelledKw(
  patterns: LoadPatterns,
  feederId: string,
  ratedKva: number,
  slotStart: number,
  zone: ZoneOffsets,
): { kw: number; source: 'feeder' | 'standard' } {
  const index = localCell(slotStart, zone);
  const perKva = patterns.perKva.get(feederId)?.[index];
  if (perKva !== undefined && !Number.isNaN(perKva)) return { kw: ratedKva * perKva, source: 'feeder' };
  return { kw: ratedKva * standardKwPerKva(index), source: 'standard' };
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
