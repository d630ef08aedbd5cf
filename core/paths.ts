import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root (where schemas/ and sql/ live), found by walking up from this file, so the same code
 * works from the TypeScript sources (core/) and from the compiled output (dist/core/).
 */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'gridstream') return dir;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('gridstream package root not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const packageRoot = findPackageRoot();
export const schemasDir = join(packageRoot, 'schemas');
export const sqlDir = join(packageRoot, 'sql');
