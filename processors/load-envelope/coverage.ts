import { SLOT_MS } from '../../core/time.js';
import type { DataQuality } from '../../schemas/types.gen.js';

/** 30 days of 15-minute slots: the window of the data-quality rule (docs/api.md). */
export const COVERAGE_WINDOW_SLOTS = 30 * 96;
/** AMI coverage at or above this percentage makes a DT `ami-direct`. */
export const DIRECT_COVERAGE_PCT = 90;

/**
 * Meters reporting per slot over the last 30 days of one DT, in a typed array used as a ring (6 KB per DT),
 * so coverage is exact at slot granularity without a map entry per slot. Position `i mod SLOTS` holds slot i
 * for the SLOTS slots up to the newest recorded; positions the window moved past are cleared as it moves, so
 * the ring needs no slot index of its own.
 */
export class CoverageWindow {
  private readonly reporting = new Uint16Array(COVERAGE_WINDOW_SLOTS);
  /** Index (slot start / SLOT_MS) of the newest slot recorded. */
  private newest = Number.NEGATIVE_INFINITY;

  record(slotStart: number, metersReporting: number): void {
    const index = slotStart / SLOT_MS;
    // A slot 30 days or more before the newest has left the window: it cannot count.
    if (index <= this.newest - COVERAGE_WINDOW_SLOTS) return;
    if (index > this.newest) {
      // The slots between the newest and this one had no data: clear what they held 30 days ago.
      if (index - this.newest > COVERAGE_WINDOW_SLOTS) this.reporting.fill(0);
      else for (let i = this.newest + 1; i < index; i++) this.reporting[ringAt(i)] = 0;
      this.newest = index;
    }
    this.reporting[ringAt(index)] = Math.min(metersReporting, 0xffff);
  }

  /**
   * Percentage of meter-slots with data in the 30 days ending with `slotStart`, against the meters connected
   * now. Slots without any data count as uncovered, so a DT seen for one day has about 3% coverage.
   */
  coveragePct(slotStart: number, metersConnected: number): number {
    if (metersConnected <= 0) return 0;
    const last = Math.min(slotStart / SLOT_MS, this.newest);
    const first = Math.max(slotStart / SLOT_MS, this.newest) - COVERAGE_WINDOW_SLOTS + 1;
    let sum = 0;
    for (let i = first; i <= last; i++) sum += Math.min(this.reporting[ringAt(i)]!, metersConnected);
    return (100 * sum) / (metersConnected * COVERAGE_WINDOW_SLOTS);
  }
}

function ringAt(index: number): number {
  return ((index % COVERAGE_WINDOW_SLOTS) + COVERAGE_WINDOW_SLOTS) % COVERAGE_WINDOW_SLOTS;
}

export function dataQualityFor(coveragePct: number): DataQuality {
  if (coveragePct >= DIRECT_COVERAGE_PCT) return 'ami_direct';
  return coveragePct > 0 ? 'ami_imputed' : 'modelled_only';
}
