import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../pipelines/runtime/clock.js';
import { FIRST_PAUSE_MS, retry } from '../../pipelines/runtime/retry.js';

describe('the manual clock (pipelines/runtime/clock.ts)', () => {
  it('moves only when advanced, waking each sleeper once its time has come', async () => {
    const clock = new ManualClock(1_000);
    const woke: string[] = [];
    void clock.sleep(50).then(() => woke.push('50'));
    void clock.sleep(10).then(() => woke.push('10'));
    clock.advance(9);
    await Promise.resolve();
    expect(woke).toEqual([]);
    expect(clock.now()).toBe(1_009);
    clock.advance(41);
    await new Promise((resolve) => setImmediate(resolve));
    expect(woke).toEqual(['10', '50']);
    expect(clock.sleeping()).toBe(0);
  });

  it('holds the retry policy in its pause until the clock passes it', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const done = retry(
      'the log',
      async () => {
        if (++calls === 1) throw new Error('away');
        return 'in';
      },
      { clock, report: () => undefined },
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect([calls, clock.sleeping()]).toEqual([1, 1]);
    clock.advance(FIRST_PAUSE_MS - 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1);
    clock.advance(1);
    await expect(done).resolves.toBe('in');
    expect(calls).toBe(2);
  });
});
