import { describe, expect, it } from 'vitest';
import { applyHeapGrowth, PROCESSOR_HEAP_GROWTH_PCT } from '../../core/heap.js';

describe('applyHeapGrowth', () => {
  it("sets the processor's default growth where the processor role runs, and none elsewhere, unless configured", () => {
    expect(PROCESSOR_HEAP_GROWTH_PCT).toBe(20);
    expect(applyHeapGrowth(undefined, true)).toBe(20);
    expect(applyHeapGrowth(undefined, false)).toBe(0);
    // Configured: the same for every role; 0 leaves V8's own growth.
    expect(applyHeapGrowth(35, false)).toBe(35);
    expect(applyHeapGrowth(0, true)).toBe(0);
  });
});
