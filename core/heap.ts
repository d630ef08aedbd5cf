import { setFlagsFromString } from 'node:v8';

/**
 * V8 collects the old generation when it has grown by a factor that V8 picks from its own GC speed, up to
 * 4× what survived the last collection on a large machine; a processor, whose state is mostly typed arrays
 * and whose garbage is decoded records, then holds its heap at about twice what it uses. A fixed growth of
 * 20 % collects sooner: with it (and V8's default young generation) came the largest step in taking the
 * processor of `npm run bench` (100,000 meters) from ~660 MiB to under 480, for ~60% more of its own CPU
 * time, the garbage collector's (30 % saved less for as much CPU; docs/benchmarks.md). The other roles hold
 * little, and a bridge would pay a fifth more CPU for it: they keep V8's own factor unless configured.
 */
export const PROCESSOR_HEAP_GROWTH_PCT = 20;

/**
 * The old-generation growth for a process: `configured` (GRIDSTREAM_HEAP_GROWTH_PCT; 0 = V8's own), else the
 * processor's default when the process runs the processor role, else 0.
 */
export function heapGrowthFor(configured: number | undefined, runsProcessor: boolean): number {
  return configured ?? (runsProcessor ? PROCESSOR_HEAP_GROWTH_PCT : 0);
}

/**
 * Sets heapGrowthFor() as V8's old-generation growth for this process. The flag cannot be given in
 * NODE_OPTIONS (Node refuses it there), and V8 reads it at every collection, so it is set as the process
 * starts. Returns the percentage set (0: none).
 */
export function applyHeapGrowth(configured: number | undefined, runsProcessor: boolean): number {
  const percent = heapGrowthFor(configured, runsProcessor);
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
