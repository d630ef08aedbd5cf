// Keeps package-lock.json acceptable to `npm ci` when a dependency names optional platform packages that
// the registry does not serve (chdb lists macOS and arm64 builds; only linux-x64 is published here). npm
// leaves such packages out of the lock, and `npm ci` then refuses the lock as out of sync. This adds an
// entry restricted to the package's platform for each, which `npm ci` skips on other platforms without
// fetching. Run by `npm run lock:fix` after changing dependencies; test/unit/lockfile.test.ts checks it.
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORM = /-(darwin|linux|win32)-(arm64|x64|ia32)(-gnu|-musl)?$/;

export function missingPlatformEntries(lock) {
  const missing = {};
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
      const key = `node_modules/${name}`;
      const match = PLATFORM.exec(name);
      if (!match || lock.packages[key] || lock.packages[`${path}/${key}`]) continue;
      missing[key] = {
        version,
        cpu: [match[2]],
        optional: true,
        os: [match[1]],
        ...(match[3] ? { libc: [match[3].slice(1) === 'gnu' ? 'glibc' : 'musl'] } : {}),
      };
    }
  }
  return missing;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
  const missing = missingPlatformEntries(lock);
  Object.assign(lock.packages, missing);
  writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
  console.log(`lock:fix: ${Object.keys(missing).length} platform entries added`);
}
