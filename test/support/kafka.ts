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
  return {
    brokers,
    dir,
    stop: async () => void (await run(script('stop.sh'), [dir], { timeout: 60_000 })),
    kill: () => process.kill(Number(readFileSync(join(dir, 'broker.pid'), 'utf8')), 'SIGKILL'),
    start: async () => void (await start()),
    destroy: async () => {
      process.off('exit', killOnExit);
      await run(script('stop.sh'), [dir], { timeout: 60_000 }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
