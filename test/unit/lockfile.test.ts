import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
// @ts-expect-error: a plain .mjs script without type declarations
import { missingPlatformEntries } from '../../scripts/lock-platforms.mjs';

describe('package-lock.json', () => {
  it('has an entry for every optional platform package, so `npm ci` accepts it (run `npm run lock:fix`)', () => {
    const lock = JSON.parse(readFileSync(join(packageRoot, 'package-lock.json'), 'utf8'));
    expect(missingPlatformEntries(lock)).toEqual({});
  });
});
