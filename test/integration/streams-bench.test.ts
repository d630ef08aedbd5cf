import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';

const run = promisify(execFile);

/**
 * A smoke run of `npm run bench:streams` (bench/streams.ts) on a tiny fleet, so the benchmark does not rot: a
 * Kafka broker, the readings on it, gridstream's envelope stage and the Kafka Streams app (bench/kafka-streams,
 * built by its build.sh; infra/test.sh fetches its jars before the suite) each to the end of the topic, both
 * figures and their ratio printed, and every DT slot's envelope the same on both sides. About 20 s once the
 * jars are cached (the broker's start and the JVM's are most of it); the first fetch from Maven Central takes
 * longer.
 */
describe('npm run bench:streams (smoke)', () => {
  it('runs both sides over a tiny fleet, prints both figures and their ratio, and their envelopes agree', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'bench/streams.ts', '--transformers', '3', '--meters', '5', '--hours', '1'],
      { cwd: packageRoot, timeout: 170_000, maxBuffer: 1 << 22 },
    );
    expect(stdout).toMatch(/gridstream\s+\d+\.\d+ µs CPU a reading/);
    expect(stdout).toMatch(/Kafka Streams\s+\d+\.\d+ µs CPU a reading/);
    expect(stdout).toMatch(/ratio\s+Kafka Streams \/ gridstream = \d+\.\d+/);
    // 3 DTs x 4 slots, on both sides, none differing.
    expect(stdout).toMatch(/gridstream 12 DT slots, Kafka Streams 12; 12 in both, 0 differ/);
  }, 180_000);
});
