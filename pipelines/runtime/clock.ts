/**
 * Where a task takes its time from: now() for punctuation, sleep() for the retry policy's pauses. Injected
 * through the task options (default the system clock), so a test can drive punctuation and retries by hand
 * (ManualClock) instead of waiting on the wall clock.
 */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Resolves once `ms` of this clock's time have passed. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A clock that moves only when told to: sleepers wake when advance() passes their time. */
export class ManualClock implements Clock {
  private sleepers: Array<{ at: number; wake: () => void }> = [];

  constructor(private time = 0) {}

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((wake) => this.sleepers.push({ at: this.time + ms, wake }));
  }

  /** Moves time forward by `ms` and wakes every sleeper whose time has come, earliest first. */
  advance(ms: number): void {
    if (ms < 0) throw new Error(`a clock does not go back (${ms} ms)`);
    this.time += ms;
    const due = this.sleepers.filter((s) => s.at <= this.time).sort((a, b) => a.at - b.at);
    this.sleepers = this.sleepers.filter((s) => s.at > this.time);
    for (const sleeper of due) sleeper.wake();
  }

  /** Sleepers not woken yet (e.g. a retry waiting for its pause). */
  sleeping(): number {
    return this.sleepers.length;
  }
}
