import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';

export interface RoleProcess {
  readonly child: ChildProcess;
  /** kill -9: no flush, no commit, nothing. */
  kill(): void;
  /** SIGTERM: the clean stop (drain, flush, commit). */
  stop(): Promise<void>;
  output(): string;
}

const all = new Set<ChildProcess>();
process.on('exit', () => all.forEach((child) => child.kill('SIGKILL')));

/** `gridstream run --role ROLES` as a separate process (from source), with the given environment. */
export async function startRole(roles: string, env: Record<string, string>): Promise<RoleProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(packageRoot, 'bin', 'gridstream.ts'), 'run', '--role', roles],
    {
      cwd: packageRoot,
      env: { ...process.env, GRIDSTREAM_HTTP_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  all.add(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => all.delete(child));
  // Ready once its start line says where it serves.
  const deadline = Date.now() + 60_000;
  while (!START_LINE.test(output)) {
    if (child.exitCode !== null) throw new Error(`gridstream ${roles} exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`gridstream ${roles} did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    kill: () => child.kill('SIGKILL'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      // A clean stop that does not end is a defect: reported with what the process said, not waited for.
      const stopped = await Promise.race([
        exited.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 60_000)),
      ]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`gridstream ${roles} did not stop within 60 s of SIGTERM:\n${output.slice(-6000)}`);
      }
    },
    output: () => output,
  };
}

/** `gridstream <roles> at <url> (...)`, the line a started process prints (bin/gridstream.ts). */
const START_LINE = /^gridstream \S+ at (https?:\/\/\S+)/m;

/** Where a started role process serves (/metrics, /healthz, and /v1 with the api role), as its start line says. */
export function urlOf(p: Pick<RoleProcess, 'output'>): string {
  const url = START_LINE.exec(p.output())?.[1];
  if (!url) throw new Error(`no start line in:\n${p.output()}`);
  return url;
}
