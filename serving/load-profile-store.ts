import { DATA_QUALITY_TIERS } from '../core/data-quality.js';
import { deflateSegment, inflateSegments, type DeflateSegment } from '../core/gzip-segments.js';
import { DAY_MS, SLOT_MS } from '../core/time.js';
import { dataQualityLabel } from '../io/warehouse/rows.js';
import type { DtEnvelope } from '../schemas/types.gen.js';
import { profileSlot, type NewestSlot } from './load-profile-slot.js';

const SLOTS_PER_DAY = DAY_MS / SLOT_MS;

/**
 * One DT's UTC day of load-profile slots, rendered and compressed: the text is each present slot's JSON,
 * each preceded by a comma, in slot order; `offsets[i]..offsets[i + 1]` are slot i's bytes in it (empty when
 * the slot has no envelope).
 */
interface Day {
  readonly versions: Float64Array;
  readonly tiers: Uint8Array;
  readonly coverage: Float64Array;
  offsets: Uint32Array;
  segment: DeflateSegment;
}

/** A load profile as gzip-ready pieces: the caller's head, the slots, the closing `]}`. */
export interface StoredProfile {
  segments: DeflateSegment[];
  newest: NewestSlot | undefined;
}

/**
 * The load profiles of the last `days` UTC days (plus today) of every DT, kept in memory as compressed
 * rendered JSON, for GET /v1/dt/{id}/load-profile: a 30-day profile is ~1.5 MB of JSON, which costs the
 * warehouse tens of milliseconds and Node as much again to parse and serialise; served from here it is a few
 * copies of stored pieces (core/gzip-segments.ts). Fed with the envelope records (the log, and the warehouse
 * at start: pipelines/serving-view.ts); the highest version of each slot wins, as in the warehouse, so
 * the order records arrive in does not matter.
 */
export class LoadProfileStore {
  private readonly dts = new Map<string, Map<number, Day>>();
  /** Start of the oldest day held; a profile starting earlier is the warehouse's to answer. */
  private floorMs: number;
  private loaded = false;
  private compressedBytes = 0;

  constructor(
    private readonly days: number,
    now: number,
  ) {
    this.floorMs = floorFor(now, days);
  }

  /** Marks the store complete (the warehouse's history is in); until then it answers nothing. */
  markLoaded(): void {
    this.loaded = true;
  }

  /** Whether the warehouse's history is in (before that the store answers nothing). */
  ready(): boolean {
    return this.loaded;
  }

  /** Whether the store can answer a profile from `fromMs` on (the range may end anywhere). */
  covers(fromMs: number): boolean {
    return this.loaded && fromMs >= this.floorMs;
  }

  /** Compressed bytes held (the rendered slots; the per-slot bookkeeping adds ~17 bytes a slot). */
  bytes(): number {
    return this.compressedBytes;
  }

  /** Takes in envelope records (any order, any revisions); those older than the oldest day held are ignored. */
  apply(envelopes: readonly DtEnvelope[]): void {
    const byDay = new Map<Map<number, Day>, Map<number, DtEnvelope[]>>();
    for (const e of envelopes) {
      if (e.slot_start < this.floorMs) continue;
      let days = this.dts.get(e.dt_id);
      if (!days) this.dts.set(e.dt_id, (days = new Map()));
      let perDay = byDay.get(days);
      if (!perDay) byDay.set(days, (perDay = new Map()));
      const dayStart = e.slot_start - (e.slot_start % DAY_MS);
      const list = perDay.get(dayStart);
      if (list) list.push(e);
      else perDay.set(dayStart, [e]);
    }
    for (const [days, perDay] of byDay)
      for (const [dayStart, list] of perDay) this.applyDay(days, dayStart, list);
  }

  private applyDay(days: Map<number, Day>, dayStart: number, envelopes: DtEnvelope[]): void {
    let day = days.get(dayStart);
    const fragments: Array<Buffer | undefined> = new Array(SLOTS_PER_DAY);
    if (day) {
      const text = inflateSegments([day.segment]);
      for (let i = 0; i < SLOTS_PER_DAY; i++)
        if (day.offsets[i + 1]! > day.offsets[i]!)
          fragments[i] = text.subarray(day.offsets[i], day.offsets[i + 1]);
    } else {
      day = {
        versions: new Float64Array(SLOTS_PER_DAY),
        tiers: new Uint8Array(SLOTS_PER_DAY),
        coverage: new Float64Array(SLOTS_PER_DAY),
        offsets: new Uint32Array(SLOTS_PER_DAY + 1),
        segment: deflateSegment(Buffer.alloc(0)),
      };
      days.set(dayStart, day);
    }
    let changed = false;
    for (const e of envelopes) {
      const i = Math.floor((e.slot_start - dayStart) / SLOT_MS);
      if (e.version <= day.versions[i]!) continue;
      const slot = profileSlot(e);
      day.versions[i] = e.version;
      day.tiers[i] = DATA_QUALITY_TIERS.indexOf(dataQualityLabel(e.data_quality));
      day.coverage[i] = slot.ami_coverage_pct;
      fragments[i] = Buffer.from(',' + JSON.stringify(slot));
      changed = true;
    }
    if (!changed) return;
    const offsets = new Uint32Array(SLOTS_PER_DAY + 1);
    for (let i = 0; i < SLOTS_PER_DAY; i++) offsets[i + 1] = offsets[i]! + (fragments[i]?.length ?? 0);
    this.compressedBytes -= day.segment.bytes.length;
    day.segment = deflateSegment(Buffer.concat(fragments.filter((f) => f !== undefined)));
    day.offsets = offsets;
    this.compressedBytes += day.segment.bytes.length;
  }

  /** Drops the days that have fallen out of the window by `now`. */
  evict(now: number): void {
    const floor = floorFor(now, this.days);
    if (floor <= this.floorMs) return;
    this.floorMs = floor;
    for (const [dtId, days] of this.dts) {
      for (const [dayStart, day] of days)
        if (dayStart < floor) {
          this.compressedBytes -= day.segment.bytes.length;
          days.delete(dayStart);
        }
      if (days.size === 0) this.dts.delete(dtId);
    }
  }

  /**
   * The slots of `dtId` starting in [fromMs, toMs) as pieces of the JSON array's inside (no brackets), and the
   * newest of them; null when the store does not cover `fromMs`. Whole days are the stored pieces; the first
   * piece (its leading comma dropped) and a partial day are cut from their day and compressed anew.
   */
  profile(dtId: string, fromMs: number, toMs: number): StoredProfile | null {
    if (!this.covers(fromMs)) return null;
    const days = this.dts.get(dtId);
    const segments: DeflateSegment[] = [];
    let newest: NewestSlot | undefined;
    if (!days) return { segments, newest };
    const first = Math.ceil(fromMs / SLOT_MS);
    const end = Math.ceil(toMs / SLOT_MS);
    for (let d = Math.floor(first / SLOTS_PER_DAY); d * SLOTS_PER_DAY < end; d++) {
      const day = days.get(d * DAY_MS);
      if (!day) continue;
      const a = Math.max(first - d * SLOTS_PER_DAY, 0);
      const b = Math.min(end - d * SLOTS_PER_DAY, SLOTS_PER_DAY);
      if (day.offsets[b] === day.offsets[a]) continue; // no slot of the range in this day
      for (let i = b - 1; i >= a; i--)
        if (day.versions[i]! > 0) {
          newest = { data_quality: DATA_QUALITY_TIERS[day.tiers[i]!]!, ami_coverage_pct: day.coverage[i]! };
          break;
        }
      if (segments.length > 0 && a === 0 && b === SLOTS_PER_DAY) {
        segments.push(day.segment);
        continue;
      }
      let piece = inflateSegments([day.segment]).subarray(day.offsets[a], day.offsets[b]);
      if (segments.length === 0) piece = piece.subarray(1); // the array's first element has no comma
      segments.push(deflateSegment(piece, 1));
    }
    return { segments, newest };
  }
}

/** Start of the oldest UTC day kept at `now`: `days` whole days before today's. */
function floorFor(now: number, days: number): number {
  return now - (now % DAY_MS) - days * DAY_MS;
}
