import { SLOT_MS } from '../core/time.js';
import type { DataQuality } from '../schemas/types.gen.js';

/** 30 days of 15-minute slots: the window of the data-quality rule (seed 000). */
export const COVERAGE_WINDOW_SLOTS = 30 * 96;
/** AMI coverage at or above this percentage makes a DT `ami-direct`. */
export const DIRECT_COVERAGE_PCT = 90;

/**
 * Meters reporting per slot over the last 30 days of one DT, in two typed arrays used as a ring (17 KB per
 * DT), so coverage is exact at slot granularity without a map entry per slot.
 */
export class CoverageWindow {
  private readonly slotIndex = new Int32Array(COVERAGE_WINDOW_SLOTS).fill(-1);
  private readonly reporting = new Uint16Array(COVERAGE_WINDOW_SLOTS);

  record(slotStart: number, metersReporting: number): void {
    const index = slotStart / SLOT_MS;
    const at = index % COVERAGE_WINDOW_SLOTS;
    // A slot older than the one the ring already holds here has left the window: it cannot count.
    if (this.slotIndex[at]! > index) return;
    this.slotIndex[at] = index;
    this.reporting[at] = Math.min(metersReporting, 0xffff);
  }

  /**
   * Percentage of meter-slots with data in the 30 days ending with `slotStart`, against the meters connected
   * now. Slots without any data count as uncovered, so a DT seen for one day has about 3% coverage.
   */
  coveragePct(slotStart: number, metersConnected: number): number {
    if (metersConnected <= 0) return 0;
    const last = slotStart / SLOT_MS;
    const first = last - COVERAGE_WINDOW_SLOTS + 1;
    let sum = 0;
    for (let at = 0; at < COVERAGE_WINDOW_SLOTS; at++) {
      const index = this.slotIndex[at]!;
      if (index >= first && index <= last) sum += Math.min(this.reporting[at]!, metersConnected);
    }
    return (100 * sum) / (metersConnected * COVERAGE_WINDOW_SLOTS);
  }
}

export function dataQualityFor(coveragePct: number): DataQuality {
  if (coveragePct >= DIRECT_COVERAGE_PCT) return 'ami_direct';
  return coveragePct > 0 ? 'ami_imputed' : 'modelled_only';
}
