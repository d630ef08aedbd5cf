import { afterEach, describe, expect, it, vi } from 'vitest';
import { untilDone } from '../../pipelines/until-done.js';

describe('untilDone', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries a failing piece of work with growing waits until it succeeds, reporting each failure', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const errors: string[] = [];
    const done = untilDone(
      async () => {
        if (++calls < 3) throw new Error(`down ${calls}`);
        return 'in';
      },
      () => false,
      (error) => errors.push(error.message),
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toBe(1); // the first wait is 1 s
    await vi.advanceTimersByTimeAsync(1 + 2000);
    await expect(done).resolves.toBe('in');
    expect(calls).toBe(3);
    expect(errors).toEqual(['down 1', 'down 2']);
  });

  it('gives up with the error after the third try once stopping', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const done = untilDone(
      async () => {
        calls++;
        throw new Error('still down');
      },
      () => true,
    );
    const settled = expect(done).rejects.toThrow('still down');
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 4000);
    await settled;
    expect(calls).toBe(4);
  });
});
