import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';

const run = promisify(execFile);

/**
 * A smoke run of `npm run bench` (bench/distributed.ts) with two processors on a tiny fleet, so the benchmark
 * and its scale-out report do not rot: Kafka, a ClickHouse server and Mosquitto, the bridge and two processor
 * processes, every reading accounted for, and per processor its readings partitions, its share of the readings
 * and its CPU per reading, with the storage a reading takes. It runs the compiled build, as `npm run bench`
 * does (the roles are `dist/bin/gridstream.js` processes; infra/test.sh builds it before the suite). About 15 s.
 */
describe('npm run bench --processors 2 (smoke)', () => {
  it('runs the distributed path with two processors and prints how the readings divide', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        join('dist', 'bench', 'distributed.js'),
        ...['--transformers', '20', '--meters', '5', '--hours', '1', '--processors', '2'],
      ],
      { cwd: packageRoot, timeout: 170_000, maxBuffer: 1 << 22 },
    );
    expect(stdout).toMatch(/accounted for\s+all/);
    expect(stdout).toMatch(/CPU per reading\s+.*processor 1 \d+\.\d+, processor 2 \d+\.\d+/);
    const shares = [
      ...stdout.matchAll(/processor (\d) +(\d+) of 8 readings partitions, (\d+) readings stored/g),
    ];
    expect(shares.map((m) => m[1])).toEqual(['1', '2']);
    // The range assignor gives each of the two members half the partitions; together they stored every reading.
    expect(shares.map((m) => Number(m[2]))).toEqual([4, 4]);
    expect(shares.reduce((sum, m) => sum + Number(m[3]), 0)).toBe(20 * 5 * 60);
    expect(stdout).toMatch(
      /all +8 of 8 partitions, 6000 readings stored, CPU \d+\.\d+ s = \d+\.\d+ µs a reading/,
    );
    expect(stdout).toMatch(/Kafka gridstream\.readings .* = \d+\.\d+ bytes a reading/);
    expect(stdout).toMatch(/ClickHouse readings 6000 rows, .* = \d+\.\d+ bytes a reading/);
  }, 180_000);
});
