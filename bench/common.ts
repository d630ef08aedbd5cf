/**
 * What the benchmarks share: their settings (flags or BENCH_* variables), the publisher process, a process's
 * memory and CPU time, percentiles, the report layout, the malloc settings and the memory benchmarks' child runs.
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PublisherOptions, PublisherProgress, PublisherResult } from './publisher.js';

/**
 * A numeric setting: `--name N` (or `--name=N`) on the command line, else the variable BENCH_NAME (dashes
 * become underscores, upper case), else the fallback.
 */
export function setting(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  let raw: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) raw = args[i + 1];
    else if (args[i]!.startsWith(`--${name}=`)) raw = args[i]!.slice(name.length + 3);
  }
  raw ??= process.env[`BENCH_${name.replace(/-/g, '_').toUpperCase()}`];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`--${name}: ${JSON.stringify(raw)} is not a number`);
  return value;
}

export interface RunningPublisher {
  /** Tells the publisher how many readings have landed (stored or dead-lettered): its closed loop. */
  landed(readings: number): void;
  /** Readings published so far, as last reported. */
  progress(): PublisherProgress;
  result: Promise<PublisherResult>;
  pid: number;
}

/** Starts bench/publisher.js as a separate process (the meters are not part of the measured processes). */
export function startPublisher(options: PublisherOptions): RunningPublisher {
  const child = spawn(
    process.execPath,
    [
      // BENCH_PUBLISHER_NODE_ARGS (e.g. "--cpu-prof") go to the meters' node only.
      ...(process.env.BENCH_PUBLISHER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      fileURLToPath(new URL('./publisher.js', import.meta.url)),
      JSON.stringify(options),
    ],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  let output = '';
  let last: PublisherProgress = { published: 0, messages: 0, rendered: 0, publishing: false };
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.on('message', (message: PublisherProgress) => (last = message));
  const result = new Promise<PublisherResult>((resolve, reject) =>
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`publisher exited with ${code}:\n${output}`));
      resolve(JSON.parse(output.trim().split('\n').at(-1)!) as PublisherResult);
    }),
  );
  return {
    landed: (readings) => {
      if (child.connected) child.send({ landed: readings });
    },
    progress: () => last,
    result,
    pid: child.pid!,
  };
}

/**
 * The numeric fields of a process's /proc/<pid>/status, read once: `field('VmHWM')` in kB as the file gives
 * memory (VmRSS, VmHWM, RssAnon, RssFile), `field('Threads')` a count; 0 for a field or process not there.
 */
export function procStatus(pid: number): (field: string) => number {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // The process is gone: every field 0.
  }
  return (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
}

/** Peak resident set size of a process of this machine (VmHWM), in bytes; 0 when it cannot be read. */
export function peakRss(pid: number): number {
  return procStatus(pid)('VmHWM') * 1024;
}

/** CPU time (user + system) a process of this machine has used so far, in seconds; 0 when it cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) in parentheses: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU time all processes of this machine have used since boot (busy, not idle or waiting on I/O), in seconds. */
export function machineCpuSeconds(): number {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
  } catch {
    return 0;
  }
}

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** The p-th percentile (0..100) of ascending values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Prints a titled block of `label  value` lines, labels aligned. */
export function printReport(title: string, rows: Array<[string, string]>): void {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  console.log(`\n${title}`);
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}${value}`);
}

export const perSecond = (count: number, ms: number): number => Math.round((count * 1000) / ms);

/**
 * glibc's malloc arenas and thresholds as infra/run.sh and the container image run gridstream (the caller's own
 * values win): measured without them, a process's RSS counts an arena per thread's freed memory.
 */
export const MALLOC_ENV = {
  MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '1',
  GLIBC_TUNABLES:
    process.env.GLIBC_TUNABLES ?? 'glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072',
};

/**
 * Runs this benchmark again in a child process with MALLOC_ENV when it was started without it (glibc reads
 * them at start), and exits with the child's status; returns when this process is that child.
 */
export function rerunWithMallocEnv(): void {
  if (process.env.MALLOC_ARENA_MAX !== undefined && process.env.GLIBC_TUNABLES !== undefined) return;
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...MALLOC_ENV },
  });
  process.exit(child.status ?? 1);
}

/**
 * Runs a benchmark's module (`scriptUrl`: its import.meta.url) again as a child process with `args`, V8's gc
 * exposed and MALLOC_ENV, and resolves with the last message it sends (its result); rejects when it exits
 * without one. `mode` names the run in that error.
 */
export function runChild<T>(scriptUrl: string, args: string[], mode: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(scriptUrl), args, {
      execArgv: [...process.execArgv, '--expose-gc'],
      env: { ...process.env, ...MALLOC_ENV },
    });
    let result: T | undefined;
    proc.on('message', (message) => (result = message as T));
    proc.on('error', reject);
    proc.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`the ${mode} run exited with ${code} and no result`)),
    );
  });
}
