/**
 * Verification of probability forecasts: the reliability table (bins of predicted probability, with how
 * often the event happened in each) and the Brier score against climatology. Pure.
 *
 * Brier score: the mean of (p − o)² over forecasts p of events o ∈ {0, 1}; 0 is perfect. Climatology
 * forecasts the base rate ō (the frequency of the event over the whole sample) every time, scoring ō(1 − ō).
 * The Brier skill score 1 − B / B_climatology is positive when the forecasts beat it. A reliable forecast's
 * observed frequency in each bin is close to the bin's mean prediction.
 */

/** Bin edges of predicted probability: fine near 0 and 1, where most forecasts of rare events fall. */
export const RELIABILITY_EDGES = [0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1];

export interface ReliabilityBin {
  low: number;
  high: number;
  count: number;
  meanPredicted: number;
  /** Share of the bin's forecasts whose event happened (NaN for an empty bin). */
  observedFrequency: number;
}

export interface Reliability {
  bins: ReliabilityBin[];
  count: number;
  events: number;
  baseRate: number;
  brier: number;
  brierClimatology: number;
  /** 1 − brier / brierClimatology. */
  skill: number;
}

export class ReliabilityAccumulator {
  private readonly count: Float64Array;
  private readonly sumP: Float64Array;
  private readonly hits: Float64Array;
  private n = 0;
  private events = 0;
  private squared = 0;

  constructor(readonly edges: readonly number[] = RELIABILITY_EDGES) {
    this.count = new Float64Array(edges.length - 1);
    this.sumP = new Float64Array(edges.length - 1);
    this.hits = new Float64Array(edges.length - 1);
  }

  add(p: number, happened: boolean): void {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`a probability must be in [0, 1], got ${p}`);
    const o = happened ? 1 : 0;
    let b = 0;
    while (b < this.count.length - 1 && p >= this.edges[b + 1]!) b++;
    this.count[b]!++;
    this.sumP[b]! += p;
    this.hits[b]! += o;
    this.n++;
    this.events += o;
    this.squared += (p - o) * (p - o);
  }

  result(): Reliability {
    const baseRate = this.n ? this.events / this.n : Number.NaN;
    const brier = this.n ? this.squared / this.n : Number.NaN;
    const brierClimatology = baseRate * (1 - baseRate);
    return {
      bins: Array.from(this.count, (count, b) => ({
        low: this.edges[b]!,
        high: this.edges[b + 1]!,
        count,
        meanPredicted: count ? this.sumP[b]! / count : Number.NaN,
        observedFrequency: count ? this.hits[b]! / count : Number.NaN,
      })),
      count: this.n,
      events: this.events,
      baseRate,
      brier,
      brierClimatology,
      skill: brierClimatology > 0 ? 1 - brier / brierClimatology : Number.NaN,
    };
  }
}

/** The table as text: one line per non-empty bin, then the scores. */
export function formatReliability(title: string, r: Reliability): string {
  const lines = [
    title,
    `  ${'predicted'.padEnd(13)} ${'count'.padStart(8)} ${'mean predicted'.padStart(15)} ${'observed freq'.padStart(14)}`,
  ];
  for (const bin of r.bins) {
    if (!bin.count) continue;
    lines.push(
      `  ${`${bin.low.toFixed(2)}-${bin.high.toFixed(2)}`.padEnd(13)} ${String(bin.count).padStart(8)} ${bin.meanPredicted.toFixed(4).padStart(15)} ${bin.observedFrequency.toFixed(4).padStart(14)}`,
    );
  }
  lines.push(
    `  ${r.count} forecasts, ${r.events} events (base rate ${(100 * r.baseRate).toFixed(2)}%)`,
    `  Brier score ${r.brier.toFixed(5)}   climatology (base rate) ${r.brierClimatology.toFixed(5)}   skill ${r.skill.toFixed(3)}`,
  );
  return lines.join('\n');
}
