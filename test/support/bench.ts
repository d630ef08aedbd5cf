import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';

/** How long a smoke run of a benchmark may take, and the test around it. */
const RUN_TIMEOUT_MS = 120_000;
export const BENCH_SMOKE_TIMEOUT_MS = RUN_TIMEOUT_MS + 30_000;

/**
 * The standard output of a benchmark run from its source (`bench/<name>.ts` under tsx) with `settings` as its
 * flags (`--name N`), for a smoke test that keeps it from rotting; throws when it exits non-zero (as a
 * benchmark does that finds its outputs differ).
 */
export function benchOutput(name: string, settings: Record<string, number>): string {
  const flags = Object.entries(settings).flatMap(([setting, value]) => [`--${setting}`, String(value)]);
  return execFileSync(process.execPath, ['--import', 'tsx', join('bench', `${name}.ts`), ...flags], {
    cwd: packageRoot,
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
  });
}
