import { pauseAfter, reportsFailure } from '../../core/backoff.js';
import { systemClock, type Clock } from './clock.js';

/**
 * The one retry policy for work that fails because a service is away (the log, the warehouse, a broker): try
 * again after a pause that doubles from FIRST_PAUSE_MS up to MAX_PAUSE_MS, report the first failure and every
 * REPORT_EVERY-th (an outage of minutes is a few lines, not thousands), and never give up while the caller
 * runs: the work in hand (a batch, its offsets) is kept, not dropped. Once the caller is stopping, a few more
 * tries are made and then the last error is thrown, so a stop is not held up for ever by a service that stays
 * away. Not for failures of the work itself (a record that cannot be processed fails the same way every
 * time): those are poison (pipelines/runtime/poison.ts).
 */
export { FIRST_PAUSE_MS, MAX_PAUSE_MS, REPORT_EVERY, pauseAfter } from '../../core/backoff.js';
/** Failed tries, counted from when the caller started stopping, after which the error is thrown. */
export const TRIES_WHEN_STOPPING = 3;

export interface RetryOptions {
  /** Whether the caller is stopping (default: never, so the work is retried until it succeeds). */
  stopping?: () => boolean;
  /** Called on every failure, e.g. to count it in a metric (reporting is the policy's). */
  onError?: (error: Error, failures: number) => void;
  /** Where reports go (default console.error). */
  report?: (message: string) => void;
  /** Whose time the pauses are (default the system clock; a test's manual clock lets it step through them). */
  clock?: Clock;
}

/** Runs `attempt` until it succeeds, by the policy above; `what` names the work in reports. */
export async function retry<T>(
  what: string,
  attempt: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const report = options.report ?? ((message: string) => console.error(message));
  let whileStopping = 0;
  for (let failures = 1; ; failures++) {
    try {
      return await attempt();
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      options.onError?.(error, failures);
      if (options.stopping?.() && ++whileStopping >= TRIES_WHEN_STOPPING) {
        report(`${what}: ${error.message} (giving up after ${failures} tries: stopping)`);
        throw error;
      }
      if (reportsFailure(failures)) report(`${what}: ${error.message} (retrying, ${failures} failed)`);
      await (options.clock ?? systemClock).sleep(pauseAfter(failures));
    }
  }
}
