import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The checker of an OpenAPI 3.1 document (openapi-spec-validator and the JSON Schema 2020-12 meta-schema). */
const CHECKER = fileURLToPath(new URL('./check-openapi.py', import.meta.url));

export interface Ran {
  code: number | null;
  output: string;
}

/** Runs a command to its end, its stdout and stderr together; a missing tool says how to install it. */
export function run(
  command: string,
  args: string[],
  options: { input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 600_000,
      cwd: options.cwd,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (/No module named/.test(output))
        output += '\n(install the test tools with infra/setup.sh: it pip-installs them for this user)';
      resolve({ code, output });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The problems a standard validator finds in an OpenAPI document (exit 0 and nothing printed when none). */
export function checkOpenapi(document: unknown): Promise<Ran> {
  return run('python3', [CHECKER], { input: JSON.stringify(document) });
}

/** Whether `body` matches the schema `document` declares for `status` of `method path` (the route's template). */
export function checkAnswer(
  document: unknown,
  answer: { path: string; method: string; status: number; body: unknown },
): Promise<Ran> {
  return run('python3', [CHECKER, '--response'], { input: JSON.stringify({ document, ...answer }) });
}
