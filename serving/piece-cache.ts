import type { LoadProfileDayRow } from './load-profile-days.js';

/** What a cached piece holds besides its DEFLATE text: its arrays (97 + 3 × 96 numbers) and the map's entry. */
const ENTRY_OVERHEAD_BYTES = 4_096;

/**
 * The API's cache of current load-profile pieces (serving/load-profile-days.ts rows) of recently asked DT-days,
 * least recently used first out, holding at most `maxBytes` (GRIDSTREAM_API_PIECE_CACHE_BYTES; 0: none). A
 * piece is kept only once its version was seen current, and served from here only while it still is
 * (api/routes/dt.ts compares it with the day's envelope versions on every request), so the cache saves reading
 * the pieces, never the check. It is bounded, not the fleet's: a load spread evenly over a large fleet misses.
 */
export class PieceCache {
  private readonly entries = new Map<string, { row: LoadProfileDayRow; bytes: number }>();
  private held = 0;

  constructor(readonly maxBytes: number) {}

  /** The cached piece of `dtId`'s UTC day `day` ('YYYY-MM-DD'), now the most recently used; or undefined. */
  get(dtId: string, day: string): LoadProfileDayRow | undefined {
    const key = keyOf(dtId, day);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.row;
  }

  /** Keeps a current piece (replacing its DT-day's), then lets the least recently used go until within bounds. */
  set(row: LoadProfileDayRow): void {
    const bytes = row.deflate.length + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.maxBytes) return;
    this.delete(row.dt_id, row.day);
    this.entries.set(keyOf(row.dt_id, row.day), { row, bytes });
    this.held += bytes;
    for (const [key, entry] of this.entries) {
      if (this.held <= this.maxBytes) break;
      this.entries.delete(key);
      this.held -= entry.bytes;
    }
  }

  delete(dtId: string, day: string): void {
    const key = keyOf(dtId, day);
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.held -= entry.bytes;
  }

  /** Bytes held, as counted against maxBytes. */
  bytes(): number {
    return this.held;
  }
}

const keyOf = (dtId: string, day: string) => `${dtId}\u0000${day}`;
