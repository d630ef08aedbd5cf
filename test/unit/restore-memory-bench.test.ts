import { describe, expect, it } from 'vitest';
import { BENCH_SMOKE_TIMEOUT_MS, benchOutput } from '../support/bench.js';

/** A smoke run of `npm run bench:restore-memory` on a small partition, so the benchmark does not rot. */
describe('bench:restore-memory (smoke)', () => {
  it(
    'rebuilds a partition whole and in pieces, prints both peaks and their ratio, and finds the same outputs',
    () => {
      const out = benchOutput('restore-memory', {
        transformers: 4,
        meters: 10,
        hours: 3,
        'piece-readings': 500,
      });
      expect(out).toMatch(/7200 readings in the warehouse, 480 records on the log/);
      expect(out).toMatch(/restore 500 readings a piece/);
      expect(
        out.match(
          /(whole {8}|pieces {7})peak RSS \d+ MiB during the restore \(\d+ MiB before it: [+-]\d+ MiB\); V8 heap up to \d+ MiB, \d+ MiB used after it; CPU \d+\.\d s/g,
        ),
      ).toHaveLength(2);
      expect(out).toMatch(
        /ratio {8}pieces\/whole: peak RSS \d+\.\d\d, the restore's own memory -?\d+\.\d\d, CPU \d+\.\d\d/,
      );
      expect(out).toMatch(/outputs {6}identical: [1-9]\d* outputs \([1-9]\d* whole\)/);
    },
    BENCH_SMOKE_TIMEOUT_MS,
  );
});
