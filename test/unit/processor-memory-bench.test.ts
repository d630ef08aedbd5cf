import { describe, expect, it } from 'vitest';
import { BENCH_SMOKE_TIMEOUT_MS, benchOutput } from '../support/bench.js';

/** A smoke run of `npm run bench:processor-memory` on a small fleet, so the benchmark does not rot. */
describe('bench:processor-memory (smoke)', () => {
  it(
    'runs both modes, prints each stage’s share and finds the same outputs, with slots loaded',
    () => {
      const out = benchOutput('processor-memory', {
        transformers: 6,
        meters: 20,
        hours: 26,
        'outage-pct': 20,
      });
      expect(out).toMatch(/envelope: {4}identical: the newest envelope of each of [1-9]\d* DT slots/);
      expect(out).toMatch(/impedance: {3}identical: each of [1-9]\d* outputs/);
      expect(out).toMatch(/stress: {6}identical: each of [1-9]\d* stress rows/);
      expect(out).toMatch(/loads {6}[1-9]\d* DT slots loaded/);
      expect(out).toMatch(/impedance estimates up to [1-9]\d* in [1-9]\d* leg-days/);
      expect(out.match(/peak RSS {3}\d+ MiB \(\d+ MB\); V8 heap up to \d+ MiB/g)).toHaveLength(2);
      expect(
        out.match(/share {6}at the end: envelope -?\d+ MiB, impedance -?\d+ MiB, stress -?\d+ MiB/g),
      ).toHaveLength(2);
      expect(out).toMatch(/goal {9}bounded peak RSS \d+ MB (<|>=) 500 MB/);
    },
    BENCH_SMOKE_TIMEOUT_MS,
  );
});
