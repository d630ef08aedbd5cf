import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';

const run = promisify(execFile);

/**
 * A smoke run of `npm run bench:physics` (bench/physics.ts) on a tiny fleet, so the benchmark does not rot: its
 * three sections each step every DT through every slot and print their rate and what they computed. It runs
 * the compiled build, as `npm run bench:physics` does (infra/test.sh builds it before the suite). Under a second.
 */
describe('npm run bench:physics (smoke)', () => {
  it('steps 20 DTs through each section and prints every DT-slot with its rate', async () => {
    const { stdout } = await run(process.execPath, [join('dist', 'bench', 'physics.js')], {
      cwd: packageRoot,
      timeout: 60_000,
      maxBuffer: 1 << 22,
      env: { ...process.env, BENCH_DTS: '20', BENCH_DAYS: '2', BENCH_STRESS_DAYS: '1', BENCH_DOE_DAYS: '1' },
    });
    expect(stdout).toMatch(/physics benchmark: single core \(node v[\d.]+\), 20 DTs, 2 days/);
    // 20 DTs x 2 days x 96 slots for the thermal model; 20 x 96 for each stress section.
    const rates = [...stdout.matchAll(/^ +(\d+) DT-slots in \d+\.\d+ s: \d+ DT-slots\/s$/gm)];
    expect(rates.map((m) => Number(m[1]))).toEqual([3840, 1920, 1920]);
    expect(stdout).toMatch(/^ +1920 rows; \d+ DT-slots forecast/m);
    // The operating envelopes: 96 slots ahead and the next slot's stress row, after every DT-slot.
    expect(stdout).toMatch(/^ +186240 rows \(97 a DT-slot\)/m);
  }, 70_000);
});
