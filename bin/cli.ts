import { InvalidArgumentError } from 'commander';
import { ALL_ROLES, type Role } from '../pipelines/start-pipeline.js';

/** A commander parser for a whole number in [min, max]. */
export function integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/** First Ctrl-C stops cleanly (pending batches flushed); a second one exits at once. */
export function stopOnSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      console.error(`\n${signal} again: exiting without flushing`);
      process.exit(130);
    }
    stopping = true;
    console.error(`\n${signal}: stopping (flushing pending batches; Ctrl-C again to force)…`);
    stop().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`error while stopping: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** `--role bridge,processor` → the roles, refusing unknown ones. */
export function parseRoles(value: string): Role[] {
  const roles = value.split(',').map((r) => r.trim()) as Role[];
  const unknown = roles.filter((r) => !ALL_ROLES.includes(r));
  if (unknown.length || roles.length === 0)
    throw new InvalidArgumentError(
      `--role takes ${ALL_ROLES.join(', ')} (comma-separated), not ${unknown.join(', ') || 'nothing'}`,
    );
  return [...new Set(roles)];
}
