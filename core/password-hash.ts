import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Salted scrypt password hashes, as `$scrypt$ln=12,r=8,p=1$<salt>$<hash>` (base64, no `:`, so a hash fits a
 * `name:hash` line). scrypt's memory cost (4 MiB) makes guessing a leaked file's passwords expensive, where
 * the PBKDF2 of Mosquitto 2.0's password file runs only 101 iterations; at about 10 ms of CPU a login, a
 * fleet of devices reconnecting at once is still let in within minutes.
 */
const LOG2_N = 12;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)$/;

function derive(password: string, salt: Buffer, options: ScryptOptions, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, bytes, { ...options, maxmem: 256 * options.N! * options.r! }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, { N: 2 ** LOG2_N, r: R, p: P }, KEY_BYTES);
  return `$scrypt$ln=${LOG2_N},r=${R},p=${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function isPasswordHash(text: string): boolean {
  return FORMAT.test(text);
}

/** Whether `password` matches `hash`, compared in constant time; false for a malformed hash. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = FORMAT.exec(hash);
  if (!m) return false;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds keep a tampered file from making each check take gigabytes or minutes.
  if (ln < 10 || ln > 20 || r < 1 || r > 16 || p < 1 || p > 4) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  if (expected.length < 16) return false;
  const key = await derive(password, Buffer.from(m[4]!, 'base64'), { N: 2 ** ln, r, p }, expected.length);
  return timingSafeEqual(key, expected);
}

/** A random password for generated accounts: 24 bytes, URL-safe (no `:`, nothing to percent-encode). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}
