import { describe, expect, it } from 'vitest';
import { heapGrowthFor, PROCESSOR_HEAP_GROWTH_PCT } from '../../core/heap.js';
import { loadConfig } from '../../core/config.js';

describe('heapGrowthFor', () => {
  it("chooses the processor's default where the processor role runs and V8's own elsewhere, when unset", () => {
    const unset = loadConfig({}).heapGrowthPct;
    expect(heapGrowthFor(unset, true)).toBe(PROCESSOR_HEAP_GROWTH_PCT);
    expect(PROCESSOR_HEAP_GROWTH_PCT).toBeGreaterThan(0);
    expect(heapGrowthFor(unset, false)).toBe(0);
  });

  it('chooses the configured growth for every role, 0 (V8 own) included', () => {
    for (const runsProcessor of [true, false]) {
      expect(
        heapGrowthFor(loadConfig({ GRIDSTREAM_HEAP_GROWTH_PCT: '35' }).heapGrowthPct, runsProcessor),
      ).toBe(35);
      expect(
        heapGrowthFor(loadConfig({ GRIDSTREAM_HEAP_GROWTH_PCT: '0' }).heapGrowthPct, runsProcessor),
      ).toBe(0);
    }
  });
});
