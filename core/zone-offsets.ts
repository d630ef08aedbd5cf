import { DAY_MS, SLOT_MS, SLOTS_PER_DAY } from './time.js';

/**
 * The UTC offset of an IANA time zone at any instant, daylight-saving time included, cached by zone and UTC day
 * so that the hot paths (a pattern cell or a stress class per slot) make no Intl call: a day's entry holds the
 * offset at its start and, on the day the zone changes its offset, the instant of the change and the offset
 * after it (found to the second by bisection; tz rules change an offset at most once a day). Deterministic:
 * Intl's zone data is the runtime's, so every part of gridstream in one process reads a zone the same way.
 *
 * The warehouse's load-pattern queries get the same offsets as parameters (`changes`), so the SQL and the
 * processors put a slot into the same local cell on every engine, whatever zone data the server has.
 */
export class ZoneOffsets {
  private static readonly zones = new Map<string, ZoneOffsets>();

  /** The shared instance for `zone` (an IANA name this runtime knows, e.g. "Asia/Kolkata"; throws otherwise). */
  static of(zone: string): ZoneOffsets {
    let offsets = ZoneOffsets.zones.get(zone);
    if (!offsets) ZoneOffsets.zones.set(zone, (offsets = new ZoneOffsets(zone)));
    return offsets;
  }

  private readonly format: Intl.DateTimeFormat;
  /** UTC day → [offset at its start, instant of the change (Infinity: none), offset after it]. */
  private readonly days = new Map<number, Float64Array>();
  private day = Number.NaN;
  private startOffset = 0;
  private changeAt = Number.POSITIVE_INFINITY;
  private endOffset = 0;

  private constructor(readonly zone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** Offset of local time from UTC at the instant `ms`, milliseconds (Asia/Kolkata: 19 800 000). */
  offsetMs(ms: number): number {
    const day = Math.floor(ms / DAY_MS);
    if (day !== this.day) this.load(day);
    return ms < this.changeAt ? this.startOffset : this.endOffset;
  }

  /**
   * The offsets over [fromMs, toMs]: the one in force at `fromMs`, then each change after it as the instant and
   * the offset from then on (what the load-pattern queries take as parameters).
   */
  changes(
    fromMs: number,
    toMs: number,
  ): { offsetMs: number; changes: Array<{ atMs: number; offsetMs: number }> } {
    const changes: Array<{ atMs: number; offsetMs: number }> = [];
    for (let day = Math.floor(fromMs / DAY_MS); day <= Math.floor(toMs / DAY_MS); day++) {
      const entry = this.entry(day);
      if (entry[1]! > fromMs && entry[1]! <= toMs) changes.push({ atMs: entry[1]!, offsetMs: entry[2]! });
    }
    return { offsetMs: this.offsetMs(fromMs), changes };
  }

  private load(day: number): void {
    const entry = this.entry(day);
    this.day = day;
    this.startOffset = entry[0]!;
    this.changeAt = entry[1]!;
    this.endOffset = entry[2]!;
  }

  private entry(day: number): Float64Array {
    let entry = this.days.get(day);
    if (!entry) {
      const start = day * DAY_MS;
      const before = this.intlOffset(start);
      const after = this.intlOffset(start + DAY_MS);
      let changeAt = Number.POSITIVE_INFINITY;
      if (after !== before) {
        // The first second of (start, start + day] at which the offset is no longer `before`.
        let low = start / 1000;
        let high = (start + DAY_MS) / 1000;
        while (high - low > 1) {
          const mid = Math.floor((low + high) / 2);
          if (this.intlOffset(mid * 1000) === before) low = mid;
          else high = mid;
        }
        changeAt = high * 1000;
      }
      entry = Float64Array.of(before, changeAt, after);
      this.days.set(day, entry);
    }
    return entry;
  }

  /** The offset at `ms` (a whole second) from Intl: the local wall-clock time read back as if it were UTC. */
  private intlOffset(ms: number): number {
    let year = 0;
    let month = 0;
    let dayOfMonth = 0;
    let hour = 0;
    let minute = 0;
    let second = 0;
    for (const part of this.format.formatToParts(ms)) {
      const value = Number(part.value);
      if (part.type === 'year') year = value;
      else if (part.type === 'month') month = value;
      else if (part.type === 'day') dayOfMonth = value;
      else if (part.type === 'hour') hour = value;
      else if (part.type === 'minute') minute = value;
      else if (part.type === 'second') second = value;
    }
    return Date.UTC(year, month - 1, dayOfMonth, hour, minute, second) - Math.floor(ms / 1000) * 1000;
  }
}

/**
 * The local cell of the slot starting at `slotStart` in a DT's zone: day type × 96 + local slot of day, where
 * day type is 0 on Monday to Friday and 1 on Saturday and Sunday of the local date. The load patterns
 * (processors/load-envelope/imputation.ts) and the stress classes (processors/stress/stress-history.ts) are
 * both indexed by it, and sql/queries/feeder_load_patterns.sql computes the same from the same offsets.
 */
export function localCell(slotStart: number, zone: ZoneOffsets): number {
  const local = slotStart + zone.offsetMs(slotStart);
  const localDay = Math.floor(local / DAY_MS);
  const slotOfDay = Math.floor((local - localDay * DAY_MS) / SLOT_MS);
  // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays, 5 and 6 on Saturdays and Sundays.
  return ((((localDay + 3) % 7) + 7) % 7 >= 5 ? SLOTS_PER_DAY : 0) + slotOfDay;
}
