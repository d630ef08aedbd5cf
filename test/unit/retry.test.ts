import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  FIRST_PAUSE_MS,
  MAX_PAUSE_MS,
  pauseAfter,
  REPORT_EVERY,
  retry,
  TRIES_WHEN_STOPPING,
} from '../../pipelines/runtime/retry.js';

/** A piece of work that fails `failures` times, then returns 'in'; the times of its calls. */
function flaky(failures: number) {
  const calls: number[] = [];
  const work = async () => {
    calls.push(Date.now());
    if (calls.length <= failures) throw new Error(`down ${calls.length}`);
    return 'in';
  };
  return { calls, work };
}

describe('the retry policy (pipelines/runtime/retry.ts)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('pauses 200 ms, then twice as long after each failure, up to 5 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(pauseAfter)).toEqual([200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    expect(pauseAfter(1)).toBe(FIRST_PAUSE_MS);
    expect(pauseAfter(1000)).toBe(MAX_PAUSE_MS);
  });

  it('retries failing work after growing pauses until it succeeds', async () => {
    vi.useFakeTimers();
    const { calls, work } = flaky(7);
    const reports: string[] = [];
    const done = retry('the warehouse', work, { report: (m) => reports.push(m) });
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(done).resolves.toBe('in');
    const pauses = calls.slice(1).map((t, k) => t - calls[k]!);
    expect(pauses).toEqual([200, 400, 800, 1600, 3200, 5000, 5000]);
    expect(reports).toEqual(['the warehouse: down 1 (retrying, 1 failed)']);
  });

  it('never gives up while the caller runs, reporting the first failure and every 20th', async () => {
    vi.useFakeTimers();
    const failures = 3 * REPORT_EVERY + 5;
    const { calls, work } = flaky(failures);
    const reports: string[] = [];
    const errors: number[] = [];
    const done = retry('the log', work, {
      stopping: () => false,
      report: (m) => reports.push(m),
      onError: (_, n) => errors.push(n),
    });
    await vi.advanceTimersByTimeAsync(failures * MAX_PAUSE_MS);
    await expect(done).resolves.toBe('in');
    expect(calls).toHaveLength(failures + 1);
    expect(errors).toHaveLength(failures);
    expect(reports).toEqual([
      'the log: down 1 (retrying, 1 failed)',
      'the log: down 20 (retrying, 20 failed)',
      'the log: down 40 (retrying, 40 failed)',
      'the log: down 60 (retrying, 60 failed)',
    ]);
  });

  it('gives up with the last error after three failed tries once the caller is stopping', async () => {
    vi.useFakeTimers();
    let stopping = false;
    const { calls, work } = flaky(Number.POSITIVE_INFINITY);
    const reports: string[] = [];
    const done = retry('the log', work, { stopping: () => stopping, report: (m) => reports.push(m) });
    const settled = expect(done).rejects.toThrow('down 13');
    // A long outage while running: still trying after ten failures.
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls).toHaveLength(10);
    stopping = true;
    await vi.advanceTimersByTimeAsync(3 * MAX_PAUSE_MS);
    await settled;
    expect(calls).toHaveLength(10 + TRIES_WHEN_STOPPING);
    expect(reports.at(-1)).toBe('the log: down 13 (giving up after 13 tries: stopping)');
  });

  it('does not retry once it has succeeded, nor pause before the first try', async () => {
    const { calls, work } = flaky(0);
    await expect(retry('x', work, { stopping: () => true })).resolves.toBe('in');
    expect(calls).toHaveLength(1);
  });
});
