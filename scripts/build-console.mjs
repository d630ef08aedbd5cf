// Bundles the browser console (console/) into dist/console/ (or the directory given): index.html, app.js and
// app.css with every library inside (Preact, uPlot), so the API serves it without a CDN. Run by `npm run
// build`, so `npm ci` builds it at install; the browser tests build their own copy.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildConsole(out = join(root, 'dist', 'console')) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(root, 'console', 'src', 'main.tsx')],
    outfile: join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    // No source maps: every file here is served without a key.
    sourcemap: false,
    legalComments: 'eof',
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'console', 'index.html'), join(out, 'index.html'));
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`)
  await buildConsole(process.argv[2] && resolve(process.argv[2]));
