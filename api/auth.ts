import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../core/config.js';

/**
 * API keys from GRIDSTREAM_API_KEYS: comma-separated `key` or `key:tenant`. Only SHA-256 digests are kept in
 * memory, and a presented key is compared digest to digest in constant time.
 */
export interface ApiKeys {
  /**
   * The tenant of a valid key (`default` for a key without one) and the key's id (its SHA-256 digest in hex,
   * which names the key in rate limits without keeping the key itself), or null.
   */
  identify(key: string | undefined): { tenant: string; keyId: string } | null;
  readonly count: number;
}

/** Shortest key accepted: 32 characters, so a key cannot be guessed within any throttle (docs/security/api.md). */
export const MIN_KEY_LENGTH = 32;

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

export function parseApiKeys(spec: string): ApiKeys {
  const entries = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, index) => {
      const at = entry.indexOf(':');
      const key = at < 0 ? entry : entry.slice(0, at);
      const tenant = at < 0 ? 'default' : entry.slice(at + 1);
      if (key.length < MIN_KEY_LENGTH)
        throw new ConfigError(
          `GRIDSTREAM_API_KEYS: every key must have at least ${MIN_KEY_LENGTH} characters; key ${index + 1} of the list has ${key.length} (make one with: openssl rand -hex 32)`,
        );
      if (!tenant) throw new ConfigError(`GRIDSTREAM_API_KEYS: empty tenant after "${key.slice(0, 4)}…:"`);
      return { hash: digest(key), tenant };
    });
  if (entries.length === 0) throw new ConfigError('GRIDSTREAM_API_KEYS is set but holds no key');
  return {
    count: entries.length,
    identify(key) {
      if (!key) return null;
      const presented = digest(key);
      let tenant: string | null = null;
      // Every entry is compared, so the time taken does not tell which key (if any) matched.
      for (const entry of entries) if (timingSafeEqual(entry.hash, presented)) tenant = entry.tenant;
      return tenant === null ? null : { tenant, keyId: presented.toString('hex') };
    },
  };
}

/** The demo's key when none is configured: 32 random bytes. */
export function generateApiKey(): string {
  return 'gs_' + randomBytes(32).toString('base64url');
}
