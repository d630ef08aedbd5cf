/**
 * Runs `work` until it succeeds, waiting 1 s, 2 s, 4 s, ... (at most 30 s) between tries: the edge tasks' way
 * of riding out a warehouse or log outage without dropping the batch in hand. Once `stopping()` says so, a
 * failure after the third try is thrown instead, so a stop is not held up for ever.
 */
export async function untilDone<T>(
  work: () => Promise<T>,
  stopping: () => boolean,
  onError: (error: Error) => void = () => undefined,
): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await work();
    } catch (error) {
      if (stopping() && tries > 3) throw error;
      onError(error as Error);
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** tries)));
    }
  }
}
