import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../core/paths.js';

const run = promisify(execFile);

export interface TestKafka {
  brokers: string;
  dir: string;
  /** Stops the broker (SIGTERM), keeping its data: `start()` brings it back on the same address. */
  stop(): Promise<void>;
  /** Kills the broker without warning (SIGKILL). */
  kill(): void;
  /**
   * Freezes the broker (SIGSTOP): connections stay open, requests sent to it wait unread in its sockets and
   * are handled once `resume()` lets it go on (SIGCONT), even if their sender has died meanwhile.
   */
  pause(): void;
  resume(): void;
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

/** A single-node KRaft broker on free ports in a temporary directory (infra/kafka/start.sh). */
export async function startKafka(): Promise<TestKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'gridstream-kafka-'));
  const script = (name: string) => join(packageRoot, 'infra', 'kafka', name);
  const start = async () => {
    const { stdout } = await run(script('start.sh'), [dir], { timeout: 180_000 });
    return stdout.trim().split('\n').at(-1)!;
  };
  const brokers = await start();
  // A test process that dies (or is cut short) must not leave a broker behind.
  const killOnExit = () => {
    try {
      process.kill(Number(readFileSync(join(dir, 'broker.pid'), 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);
  const signal = (name: NodeJS.Signals) =>
    process.kill(Number(readFileSync(join(dir, 'broker.pid'), 'utf8')), name);
  return {
    brokers,
    dir,
    stop: async () => void (await run(script('stop.sh'), [dir], { timeout: 60_000 })),
    kill: () => signal('SIGKILL'),
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    start: async () => void (await start()),
    destroy: async () => {
      process.off('exit', killOnExit);
      // A frozen broker would not hear stop.sh's SIGTERM.
      try {
        signal('SIGCONT');
      } catch {
        // not running
      }
      await run(script('stop.sh'), [dir], { timeout: 60_000 }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
