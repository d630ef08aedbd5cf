/**
 * What happens when a task cannot go on (its loop failed while it was not stopping: e.g. offsets that could no
 * longer be committed): the process stops with a message naming the task and a non-zero exit, so a supervisor
 * restarts it and the records not committed are read again. Better than an unhandled rejection (the same exit
 * without saying which task) or a task that silently stops committing. Tests replace the handler.
 */
export type CannotGoOn = (task: string, error: Error) => void;

const exitProcess: CannotGoOn = (task, error) => {
  console.error(`${task} cannot go on, stopping the process: ${error.stack ?? error.message}`);
  process.exit(1);
};

let handler: CannotGoOn = exitProcess;

export function cannotGoOn(task: string, error: Error): void {
  handler(task, error);
}

/** Replaces what cannotGoOn() does (for tests); returns a function that puts the previous handler back. */
export function onCannotGoOn(replacement: CannotGoOn): () => void {
  const previous = handler;
  handler = replacement;
  return () => {
    handler = previous;
  };
}

/**
 * Watches a task's loop, the one way every task's promise is handled: a failure before the task is stopping
 * means it cannot go on (cannotGoOn); one while stopping (a service still away, retry policy given up) is
 * reported and returned, for the task's stop() to throw. Never rejects.
 */
export function supervise(
  task: string,
  loop: Promise<void>,
  stopping: () => boolean,
): Promise<Error | undefined> {
  return loop.then(
    () => undefined,
    (error: Error) => {
      if (!stopping()) cannotGoOn(task, error);
      else console.error(`${task} stopped: ${error.stack ?? error.message}`);
      return error;
    },
  );
}
