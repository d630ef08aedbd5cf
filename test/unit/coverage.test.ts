import { describe, expect, it } from 'vitest';
import {
  COVERAGE_WINDOW_SLOTS,
  CoverageWindow,
  dataQualityFor,
} from '../../processors/load-envelope/coverage.js';
import { SLOT_MS } from '../../core/time.js';

const DAY0 = Date.UTC(2026, 6, 1);
const slot = (n: number) => DAY0 + n * SLOT_MS;
const pct = (meterSlots: number, meters: number) => (100 * meterSlots) / (meters * COVERAGE_WINDOW_SLOTS);

describe('CoverageWindow', () => {
  it('is 0 before anything is recorded and when no meter is connected', () => {
    const window = new CoverageWindow();
    expect(window.coveragePct(slot(10), 4)).toBe(0);
    window.record(slot(10), 4);
    expect(window.coveragePct(slot(10), 0)).toBe(0);
  });

  it('sums meters reporting over the 30 days ending with the slot, capped at the meters connected', () => {
    const window = new CoverageWindow();
    window.record(slot(0), 3);
    window.record(slot(1), 4);
    window.record(slot(5), 9); // more than are connected now: counts as 4
    expect(window.coveragePct(slot(5), 4)).toBeCloseTo(pct(3 + 4 + 4, 4), 12);
    // Re-recording a slot (a revision) replaces its count.
    window.record(slot(1), 2);
    expect(window.coveragePct(slot(5), 4)).toBeCloseTo(pct(3 + 2 + 4, 4), 12);
  });

  it('leaves out slots newer than the one asked about (a revision of an older slot)', () => {
    const window = new CoverageWindow();
    for (let n = 0; n < 10; n++) window.record(slot(n), 2);
    expect(window.coveragePct(slot(4), 2)).toBeCloseTo(pct(5 * 2, 2), 12);
  });

  it('drops slots as the window moves past them, and clears the ring places it reuses', () => {
    const window = new CoverageWindow();
    window.record(slot(0), 5);
    window.record(slot(1), 5);
    // Slot S shares slot 0's ring place: 0 leaves, 1 is still in the window [1, S].
    window.record(slot(COVERAGE_WINDOW_SLOTS), 1);
    expect(window.coveragePct(slot(COVERAGE_WINDOW_SLOTS), 5)).toBeCloseTo(pct(5 + 1, 5), 12);
    // Jumping ahead 10 slots clears the places of slots 1..10's predecessors (slot 1 among them).
    window.record(slot(COVERAGE_WINDOW_SLOTS + 10), 2);
    expect(window.coveragePct(slot(COVERAGE_WINDOW_SLOTS + 10), 5)).toBeCloseTo(pct(1 + 2, 5), 12);
    // A slot that far back cannot count any more, and does not overwrite the newer slot in its place.
    window.record(slot(5), 5);
    expect(window.coveragePct(slot(COVERAGE_WINDOW_SLOTS + 10), 5)).toBeCloseTo(pct(1 + 2, 5), 12);
    // A gap longer than the window clears everything.
    window.record(slot(5 * COVERAGE_WINDOW_SLOTS), 3);
    expect(window.coveragePct(slot(5 * COVERAGE_WINDOW_SLOTS), 5)).toBeCloseTo(pct(3, 5), 12);
  });

  it('gives the full percentage for every meter reporting in every slot of the window', () => {
    const window = new CoverageWindow();
    for (let n = 0; n < 2 * COVERAGE_WINDOW_SLOTS; n++) window.record(slot(n), 7);
    const last = slot(2 * COVERAGE_WINDOW_SLOTS - 1);
    expect(window.coveragePct(last, 7)).toBeCloseTo(100, 10);
    expect(dataQualityFor(window.coveragePct(last, 7))).toBe('ami_direct');
  });
});
