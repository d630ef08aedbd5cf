/**
 * The numbers of the one retry policy for services that are away (pipelines/runtime/retry.ts runs it; the
 * warehouse's BatchWriter pauses by it between insert attempts): a pause that doubles from FIRST_PAUSE_MS up to
 * MAX_PAUSE_MS, and a report of the first failure and every REPORT_EVERY-th, so an outage of minutes is a few
 * lines, not thousands. Here, below both, so the edges and the runtime share it.
 */
export const FIRST_PAUSE_MS = 200;
export const MAX_PAUSE_MS = 5_000;
export const REPORT_EVERY = 20;

/** The pause after the `failures`-th failure in a row. */
export function pauseAfter(failures: number): number {
  return Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** Math.min(failures - 1, 30));
}

/** Whether the `failures`-th failure in a row is reported (the first, then every REPORT_EVERY-th). */
export function reportsFailure(failures: number): boolean {
  return failures === 1 || failures % REPORT_EVERY === 0;
}
