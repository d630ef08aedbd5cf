import { setFlagsFromString } from 'node:v8';

/**
 * V8 collects the old generation when it has grown by a factor that V8 picks from its own GC speed, up to
 * 4× what survived the last collection on a large machine; a process whose state is mostly typed arrays and
 * whose garbage is decoded records (a processor, a bridge) then holds its heap at about twice what it uses.
 * A fixed growth of `percent` % collects sooner: the processor of `npm run bench` (100,000 meters) peaks
 * ~70 MiB lower at 30 % for about a fifth more of its CPU time (README, Benchmark). 0 keeps V8's own factor.
 *
 * The flag cannot be given in NODE_OPTIONS (Node refuses it there), and V8 reads it at every collection, so
 * it is set here, once, as the process starts.
 */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
