import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { packageRoot } from '../core/paths.js';

/** Where `npm run build` writes the console's bundle (scripts/build-console.mjs). */
export const CONSOLE_DIR = join(packageRoot, 'dist', 'console');

/** The console's paths, served without a key: the page itself asks for the key and sends it on every call. */
export function isConsolePath(path: string): boolean {
  return path === '/' || path.startsWith('/console/');
}

/**
 * The console may load only its own files and talk only to this API: no inline script, nothing from another
 * origin, never framed (docs/console.md).
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // Not fingerprinted: the browser revalidates each file (ETag) rather than keep an old console.
  'cache-control': 'no-cache',
};

const FILE_ANSWER = {
  description: "A file of the console's bundle",
  content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
};

/**
 * The grid engineer's console (console/): its page at `/`, its bundle under `/console/`. Without a bundle (the
 * sources not built) `/` says how to build it.
 */
export async function consoleRoutes(app: FastifyInstance, { dir = CONSOLE_DIR }: { dir?: string } = {}) {
  const built = existsSync(join(dir, 'index.html'));
  // Every route declares its success answer (test/unit/openapi.test.ts), the static files' routes included;
  // hidden from the API's description, which they are not part of.
  app.addHook('onRoute', (route) => {
    route.schema = {
      ...route.schema,
      hide: true,
      response: { 200: FILE_ANSWER, ...(route.schema?.response as object | undefined) },
    };
  });
  if (built)
    await app.register(fastifyStatic, {
      root: dir,
      prefix: '/console/',
      index: false,
      wildcard: false,
      schemaHide: true,
      // Ours (no-cache) rather than @fastify/send's public, max-age=0.
      cacheControl: false,
      setHeaders: (res) => {
        for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
      },
    });
  app.get('/', async (_request, reply) => {
    if (!built)
      return reply.status(404).send({
        error: 'console_not_built',
        message: `the console is not built (${dir} has no index.html): run npm run build`,
      });
    return reply.sendFile('index.html');
  });
}
