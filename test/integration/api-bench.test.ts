import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';

const run = promisify(execFile);

/**
 * A smoke run of `npm run bench:api` (bench/api.ts) on a tiny fleet, so the benchmark does not rot: on both
 * engines the warehouse filled, `gridstream run` started on it (the compiled build in dist/, as the benchmark
 * runs it; infra/test.sh builds it before the suite) and driven by wrk for a second per endpoint, every line
 * of figures printed. It asserts the lines' shape, not the speed. About 30 s.
 */
describe('npm run bench:api (smoke)', () => {
  it('fills both engines, drives every endpoint and prints latency, rate, CPU per request and memory', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        join('dist', 'bench', 'api.js'),
        ...[
          '--dts',
          '3',
          '--days',
          '2',
          '--seconds',
          '1',
          '--warmup',
          '1',
          '--rate',
          '20',
          '--connections',
          '2',
        ],
      ],
      { cwd: packageRoot, timeout: 110_000, maxBuffer: 1 << 22 },
    );
    const figures = String.raw`p50 \d+\.\d ms, p99 \d+\.\d ms, max \d+ ms; \d+\.\d requests/s \(\d+ in \d+ s\); CPU per request: `;
    expect(stdout).toMatch(
      /server +ClickHouse server [\d.]+: 3 DTs x 2 days \(6 load-profile pieces, 576 envelope rows, 120 impedance rows\)/,
    );
    expect(stdout).toMatch(/embedded +embedded chdb: 3 DTs x 2 days/);
    for (const endpoint of ['load-profile gzip', 'load-profile identity', 'impedance']) {
      expect(stdout).toMatch(
        new RegExp(`${endpoint} +${figures}API \\d+\\.\\d\\d ms, ClickHouse \\d+\\.\\d\\d ms$`, 'm'),
      );
      expect(stdout).toMatch(new RegExp(`${endpoint} +${figures}API \\(with chdb\\) \\d+\\.\\d\\d ms$`, 'm'));
    }
    expect(stdout).not.toMatch(/FAILED/);
    const memory = [
      ...stdout.matchAll(
        /memory +ready \d+\.\d s after start; API process RSS \d+ MiB \(peak \d+; V8 heap \d+ used of \d+, external \d+\) at start, RSS \d+ MiB .* after the topology \(\d+ meters\), RSS (\d+) MiB \(peak \d+; V8 heap \d+ used of \d+, external \d+\) after the load/g,
      ),
    ];
    expect(memory).toHaveLength(2);
    // Every load profile from the pieces (the topology loaded through the API tells the routes the DTs).
    const answered = [
      ...stdout.matchAll(
        /answered from +load profiles: pieces (\d+), envelope rows (\d+); pieces from the cache \d+, from the warehouse \d+/g,
      ),
    ];
    expect(answered).toHaveLength(2);
    const perQuery = [
      ...stdout.matchAll(
        /^ +per query +load_profile_days \(2 pieces\) \d+\.\d\d ms CPU, \d+\.\d ms wall; .*SELECT 1 \d+\.\d\d ms CPU/gm,
      ),
    ];
    expect(perQuery).toHaveLength(2);
    for (const [, pieces, rows] of answered) {
      expect(Number(pieces)).toBeGreaterThan(0);
      expect(Number(rows)).toBe(0);
    }
  }, 120_000);
});
