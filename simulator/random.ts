/**
 * Seeded pseudo-random numbers for the simulator. Everything random in a simulation derives from its seed,
 * so the same options always give the same output, byte for byte.
 *
 * Two kinds of stream:
 * - `Rng`: a sequential generator (mulberry32), for per-minute noise drawn in a fixed order;
 * - `rngFor(...parts)`: a generator keyed by a tuple (seed, purpose, meter, day, ...), for decisions that must
 *   not depend on what was drawn before (an EV session on a given evening, an outage on a given day).
 */

const TWO_POW_32 = 4_294_967_296;

/** Sequential 32-bit generator (mulberry32: small, fast, good enough for simulation; not cryptographic). */
export class Rng {
  private state: number;
  private spare = Number.NaN;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Normal sample (Box-Muller; the second value of each pair is kept for the next call). */
  normal(mean = 0, sd = 1): number {
    if (!Number.isNaN(this.spare)) {
      const z = this.spare;
      this.spare = Number.NaN;
      return mean + sd * z;
    }
    const u1 = 1 - this.next(); // (0, 1]: log is finite
    const u2 = this.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return mean + sd * r * Math.cos(2 * Math.PI * u2);
  }

  /** Log-normal sample with the given median and log-space standard deviation. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Fisher-Yates shuffle of a copy. */
  shuffled<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i]!;
      out[i] = out[j]!;
      out[j] = tmp;
    }
    return out;
  }
}

/** 32-bit finaliser of MurmurHash3: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a hash of a string, for naming the purpose of a stream. */
export function tagOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Mixes a tuple of numbers (any safe integers: seeds, indices, day numbers, possibly negative) into one
 * 32-bit seed. Different tuples give unrelated seeds.
 */
export function hashSeed(...parts: number[]): number {
  let h = 0x9e3779b9 ^ parts.length;
  for (const part of parts) {
    const lo = ((part % TWO_POW_32) + TWO_POW_32) % TWO_POW_32;
    const hi = Math.floor(part / TWO_POW_32);
    h = fmix32(Math.imul(h ^ lo, 0x9e3779b1) + 0x7f4a7c15);
    h = fmix32(Math.imul(h ^ (hi >>> 0), 0x85ebca77) + 0x165667b1);
  }
  return h;
}

/** A fresh generator keyed by a tuple: the same tuple always yields the same sequence. */
export function rngFor(...parts: number[]): Rng {
  return new Rng(hashSeed(...parts));
}
