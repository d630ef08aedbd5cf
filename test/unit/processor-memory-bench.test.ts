import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** A smoke run of `npm run bench:envelope-memory` on a small fleet, so the benchmark does not rot. */
describe('bench:envelope-memory (smoke)', () => {
  it('runs both modes and finds the same envelopes, with slots loaded', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/envelope-memory.ts',
        ...['--transformers', '6', '--meters', '20', '--hours', '8', '--outage-pct', '20'],
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(out).toMatch(/envelopes {4}identical: the newest envelope of each of \d+ DT slots/);
    expect(out).toMatch(/loads {6}[1-9]\d* DT slots loaded/);
    expect(out).toMatch(/peak RSS {3}\d+ MiB/);
  }, 150_000);
});
