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

/** A DT-day's piece as the warehouse keeps it (sql/029_load_profile_days.sql; sql/queries/load_profile_days.sql). */
export interface LoadProfileDayRow {
  dt_id: string;
  /** 'YYYY-MM-DD' (UTC). */
  day: string;
  /** The sum of the slots' versions: grows with every change of a slot, so the newest piece wins. */
  version: number | string;
  /** The raw DEFLATE segment (core/gzip-segments.ts), base64. */
  deflate: string;
  crc: number;
  length: number;
  offsets: number[];
  versions: Array<number | string>;
  tiers: number[];
  coverage: number[];
}

/**
 * DTs' UTC days of load-profile slots, rendered and compressed, for GET /v1/dt/{id}/load-profile: a 30-day
 * profile is ~1.5 MB of JSON, which costs the warehouse tens of milliseconds and Node as much again to parse
 * and serialise; from stored pieces it is a few copies (core/gzip-segments.ts). The pipeline keeps one piece a
 * DT-day in the warehouse (pipelines/load-profile-days-task.ts: the stored piece, the new envelope records
 * applied, written back); the API reads a range's pieces by primary key into one of these and answers from
 * it. The highest version of each slot wins, as in the warehouse, so the order records arrive in does not
 * matter. Holds only what it is given: a batch's or a request's days.
 */
export class LoadProfileDays {
  private readonly dts = new Map<string, Map<number, Day>>();
  /** Day starts changed by apply() since the last changed() call, per DT. */
  private readonly touched = new Map<string, Set<number>>();

  /** Takes in a stored piece (a newer one of the same DT-day replaces it). */
  load(row: LoadProfileDayRow): void {
    let days = this.dts.get(row.dt_id);
    if (!days) this.dts.set(row.dt_id, (days = new Map()));
    const dayStart = Date.parse(`${row.day}T00:00:00Z`);
    const version = Number(row.version);
    const current = days.get(dayStart);
    if (current && sumOf(current.versions) >= version) return;
    const bytes = Buffer.from(row.deflate, 'base64');
    days.set(dayStart, {
      versions: Float64Array.from(row.versions, Number),
      tiers: Uint8Array.from(row.tiers),
      coverage: Float64Array.from(row.coverage),
      offsets: Uint32Array.from(row.offsets),
      segment: { bytes, crc: row.crc, length: row.length },
    });
  }

  /** Takes in envelope records (any order, any revisions). */
  apply(envelopes: readonly DtEnvelope[]): void {
    const byDay = new Map<string, Map<number, DtEnvelope[]>>();
    for (const e of envelopes) {
      let perDay = byDay.get(e.dt_id);
      if (!perDay) byDay.set(e.dt_id, (perDay = new Map()));
      const dayStart = e.slot_start - (e.slot_start % DAY_MS);
      const list = perDay.get(dayStart);
      if (list) list.push(e);
      else perDay.set(dayStart, [e]);
    }
    for (const [dtId, perDay] of byDay) {
      let days = this.dts.get(dtId);
      if (!days) this.dts.set(dtId, (days = new Map()));
      for (const [dayStart, list] of perDay)
        if (this.applyDay(days, dayStart, list)) {
          let touched = this.touched.get(dtId);
          if (!touched) this.touched.set(dtId, (touched = new Set()));
          touched.add(dayStart);
        }
    }
  }

  /** The pieces apply() changed since the last call, as rows for the warehouse. */
  changed(): LoadProfileDayRow[] {
    const rows: LoadProfileDayRow[] = [];
    for (const [dtId, dayStarts] of this.touched)
      for (const dayStart of dayStarts) {
        const day = this.dts.get(dtId)!.get(dayStart)!;
        rows.push({
          dt_id: dtId,
          day: new Date(dayStart).toISOString().slice(0, 10),
          version: sumOf(day.versions),
          deflate: day.segment.bytes.toString('base64'),
          crc: day.segment.crc,
          length: day.segment.length,
          offsets: Array.from(day.offsets),
          versions: Array.from(day.versions),
          tiers: Array.from(day.tiers),
          coverage: Array.from(day.coverage),
        });
      }
    this.touched.clear();
    return rows;
  }

  /** Compressed bytes held. */
  bytes(): number {
    let n = 0;
    for (const days of this.dts.values()) for (const day of days.values()) n += day.segment.bytes.length;
    return n;
  }

  /** Applies a DT-day's records; whether any slot changed. */
  private applyDay(days: Map<number, Day>, dayStart: number, envelopes: DtEnvelope[]): boolean {
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
    if (!changed) return false;
    const offsets = new Uint32Array(SLOTS_PER_DAY + 1);
    for (let i = 0; i < SLOTS_PER_DAY; i++) offsets[i + 1] = offsets[i]! + (fragments[i]?.length ?? 0);
    day.segment = deflateSegment(Buffer.concat(fragments.filter((f) => f !== undefined)));
    day.offsets = offsets;
    return true;
  }

  /** Start of the newest slot of `dtId` held in [fromMs, toMs), or null when none is. */
  newestSlot(dtId: string, fromMs: number, toMs: number): number | null {
    const days = this.dts.get(dtId);
    if (!days) return null;
    let newest: number | null = null;
    for (const [dayStart, day] of days)
      for (let i = SLOTS_PER_DAY - 1; i >= 0; i--) {
        const slot = dayStart + i * SLOT_MS;
        if (slot >= toMs) continue;
        if (slot < fromMs) break;
        if (day.versions[i]! > 0) {
          if (newest === null || slot > newest) newest = slot;
          break;
        }
      }
    return newest;
  }

  /**
   * The slots of `dtId` starting in [fromMs, toMs) as pieces of the JSON array's inside (no brackets), and the
   * newest of them. Whole days are the stored pieces; the first piece (its leading comma dropped) and a partial
   * day are cut from their day and compressed anew.
   */
  profile(dtId: string, fromMs: number, toMs: number): StoredProfile {
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

/** A piece's version: the sum of its slots' versions (each a whole number below 2^53 / 96). */
function sumOf(versions: Float64Array): number {
  let sum = 0;
  for (const v of versions) sum += v;
  return sum;
}
