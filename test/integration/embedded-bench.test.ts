import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';

const run = promisify(execFile);

/**
 * A smoke run of `npm run bench:embedded` (bench/embedded.ts) on a tiny fleet for 3 s, so the benchmark does not
 * rot: the embedded gridstream with its durable log, the publisher as its own process, every published reading
 * stored or dead-lettered, and the printed figures (throughput, CPU per reading of both processes, peak RSS and
 * what held it). It runs the compiled build, as `npm run bench:embedded` does (infra/test.sh builds it before the
 * suite). About 15 s, most of it the engine's start.
 */
describe('npm run bench:embedded (smoke)', () => {
  it('publishes for 3 s, finds every reading queryable and prints the figures', async () => {
    const { stdout } = await run(
      process.execPath,
      [join('dist', 'bench', 'embedded.js'), '--seconds', '3', '--transformers', '2', '--meters', '5'],
      { cwd: packageRoot, timeout: 110_000, maxBuffer: 1 << 22 },
    );
    expect(stdout).toMatch(/log on disk \(durable\)/);
    const published = /published +(\d+) readings in (\d+) messages over \d+\.\d s/.exec(stdout);
    expect(published).not.toBeNull();
    expect(Number(published![1])).toBeGreaterThan(0);
    // One reading a message.
    expect(published![2]).toBe(published![1]);
    const stored = /stored +(\d+) readings \(distinct\), (\d+) dead letters/.exec(stdout);
    expect(Number(stored![1]) + Number(stored![2])).toBe(Number(published![1]));
    expect(stdout).toMatch(/accounted for +all/);
    expect(stdout).toMatch(/throughput +\d+ readings\/s, \d+ messages\/s end to end/);
    expect(stdout).toMatch(/CPU per reading +gridstream \d+\.\d\d µs, publisher \d+\.\d\d µs/);
    expect(stdout).toMatch(/peak RSS +\d+ MiB \(gridstream process\)/);
    expect(stdout).toMatch(/at the peak +V8 heap \d+ MiB used of \d+ MiB, outside it \d+ MiB/);
  }, 120_000);
});
