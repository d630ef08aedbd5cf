import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../core/config.js';
import { hashPassword, isPasswordHash, verifyPassword } from '../../core/password-hash.js';
import { parseMqttTopic } from '../../ingest/mqtt-topics.js';

/**
 * The embedded broker's accounts and ACL, the same as infra/mosquitto's: a meter's username is its meter id
 * and it may publish only to its own telemetry topic; `weather.<station>` only to its station's topic;
 * `dispatch.<platform>` only to the dispatch topics of the assets listed for it (Mosquitto's dispatch block
 * allows every asset). Head-end accounts (GRIDSTREAM_MQTT_USERS) publish for every meter, station and asset
 * and alone may subscribe, within gridstream/v1/. Nobody else may subscribe, and nobody connects anonymously.
 */
export type MqttRole = 'meter' | 'weather' | 'dispatch' | 'head-end';

export interface MqttAccount {
  username: string;
  role: MqttRole;
  /** Meter id, station id, platform name or head-end username. */
  id: string;
  /** Dispatch accounts: the assets whose dispatch topics they may publish to. */
  assets?: ReadonlySet<string>;
}

/** The embedded broker's password file: `username:hash`, and `:asset,asset` for dispatch accounts. */
export function mqttPasswordFile(dataDir: string): string {
  return join(dataDir, 'mqtt', 'passwd');
}

export function mayPublish(account: MqttAccount, topic: string): boolean {
  const t = parseMqttTopic(topic);
  if (!t) return false;
  switch (account.role) {
    case 'head-end':
      return true;
    case 'meter':
      return t.kind === 'telemetry' && t.meterId === account.id;
    case 'weather':
      return t.kind === 'weather' && t.stationId === account.id;
    case 'dispatch':
      return t.kind === 'dispatch' && account.assets!.has(t.assetId);
  }
}

/** Devices read nothing: only head-end accounts subscribe, and only to filters inside gridstream/v1/. */
export function maySubscribe(account: MqttAccount, filter: string): boolean {
  return account.role === 'head-end' && filter.startsWith('gridstream/v1/');
}

/** Ids follow infra/mosquitto/add-user.sh: 1 to 128 characters, no whitespace, `/`, `+`, `#` or `:`. */
export function checkMqttId(id: string): string | null {
  if (id.length < 1 || id.length > 128) return `must have 1 to 128 characters: ${JSON.stringify(id)}`;
  // eslint-disable-next-line no-control-regex
  if (/[\s/+#:\u0000-\u001f\u007f]/.test(id))
    return `must not contain whitespace, '/', '+', '#' or ':': ${JSON.stringify(id)}`;
  return null;
}

/** The role a username of the password file stands for, as Mosquitto's ACL reads it. */
export function roleOfUsername(username: string): { role: Exclude<MqttRole, 'head-end'>; id: string } {
  if (username.startsWith('weather.')) return { role: 'weather', id: username.slice('weather.'.length) };
  if (username.startsWith('dispatch.')) return { role: 'dispatch', id: username.slice('dispatch.'.length) };
  return { role: 'meter', id: username };
}

export function usernameOf(role: Exclude<MqttRole, 'head-end'>, id: string): string {
  const problem = checkMqttId(id);
  if (problem) throw new ConfigError(`the ${role} id ${problem}`);
  if (role === 'meter' && /^(weather|dispatch)\./.test(id))
    throw new ConfigError(`a meter id must not start with weather. or dispatch.: ${JSON.stringify(id)}`);
  return role === 'meter' ? id : `${role}.${id}`;
}

interface Entry {
  account: MqttAccount;
  hash: string;
}

/** GRIDSTREAM_MQTT_USERS: comma-separated `user:password` (the password may hold `:`, not `,`). */
export function parseMqttUsers(spec: string): Array<{ username: string; password: string }> {
  const users = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf(':');
      const username = at < 0 ? entry : entry.slice(0, at);
      const password = at < 0 ? '' : entry.slice(at + 1);
      const problem = checkMqttId(username);
      if (problem) throw new ConfigError(`GRIDSTREAM_MQTT_USERS: a username ${problem}`);
      if (!password) throw new ConfigError(`GRIDSTREAM_MQTT_USERS: no password for ${username}`);
      return { username, password };
    });
  if (users.length === 0) throw new ConfigError('GRIDSTREAM_MQTT_USERS is set but holds no user');
  return users;
}

function parseLine(line: string): Entry | string {
  const [username = '', hash = '', assets, ...rest] = line.split(':');
  if (rest.length || !isPasswordHash(hash)) return 'expected username:hash[:assets]';
  const { role, id } = roleOfUsername(username);
  if (checkMqttId(id)) return `bad username ${JSON.stringify(username)}`;
  if (role === 'dispatch') {
    const list = (assets ?? '').split(',').filter(Boolean);
    return { account: { username, role, id, assets: new Set(list) }, hash };
  }
  if (assets !== undefined) return `only dispatch accounts list assets`;
  return { account: { username, role, id }, hash };
}

async function readEntries(file: string): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return entries;
    throw error;
  }
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const entry = parseLine(line);
    if (typeof entry === 'string') console.error(`${file}:${i + 1}: ignored: ${entry}`);
    else entries.set(entry.account.username, entry);
  });
  return entries;
}

export interface MqttAccounts {
  /** The account a username and password log in to, or null. */
  authenticate(username: string | undefined, password: Buffer | undefined): Promise<MqttAccount | null>;
}

/**
 * Head-end accounts from `headEnd` (GRIDSTREAM_MQTT_USERS' format; only their hashes are kept) and device
 * accounts from the password file, read again when it changes, so `gridstream mqtt add-user` works on a
 * running gridstream.
 */
export async function openMqttAccounts(options: {
  headEnd: string | undefined;
  file: string;
}): Promise<MqttAccounts> {
  const headEnd = new Map<string, Entry>();
  for (const { username, password } of options.headEnd ? parseMqttUsers(options.headEnd) : [])
    headEnd.set(username, {
      account: { username, role: 'head-end', id: username },
      hash: await hashPassword(password),
    });
  // An unknown username is checked against this hash too, so timing does not tell which accounts exist.
  const decoy = await hashPassword('');
  let devices = new Map<string, Entry>();
  let version = '';
  // Logins arriving while the file is read wait for that read, so none sees the accounts of before.
  let loading: Promise<void> = Promise.resolve();
  const refresh = async () => {
    const s = await stat(options.file).catch(() => null);
    const current = s ? `${s.ino}:${s.size}:${s.mtimeMs}` : '';
    if (current !== version) {
      version = current;
      loading = readEntries(options.file).then(
        (entries) => {
          for (const name of entries.keys())
            if (headEnd.has(name)) {
              console.error(
                `${options.file}: ${name} is a head-end account (GRIDSTREAM_MQTT_USERS): ignored`,
              );
              entries.delete(name);
            }
          devices = entries;
        },
        (error: unknown) => {
          version = 'unread'; // read again at the next login
          throw error;
        },
      );
    }
    await loading;
  };
  await refresh();
  return {
    async authenticate(username, password) {
      await refresh();
      const entry = username ? (headEnd.get(username) ?? devices.get(username)) : undefined;
      const ok = await verifyPassword(password?.toString('utf8') ?? '', entry?.hash ?? decoy);
      return ok && entry && password ? entry.account : null;
    },
  };
}

/**
 * Adds an account to the password file, or changes its password (and a dispatch account's assets); the
 * file is replaced whole, mode 600 in a mode 700 directory. Returns the username.
 */
export async function addMqttAccount(
  file: string,
  role: Exclude<MqttRole, 'head-end'>,
  id: string,
  password: string,
  assets: readonly string[] = [],
): Promise<string> {
  const username = usernameOf(role, id);
  if (!password) throw new ConfigError('the password must not be empty');
  if (role === 'dispatch') {
    if (assets.length === 0) throw new ConfigError('a dispatch account needs the assets it may dispatch');
    for (const asset of assets) {
      const problem = checkMqttId(asset);
      if (problem || asset.includes(','))
        throw new ConfigError(`an asset id ${problem ?? 'must not contain ,'}`);
    }
  } else if (assets.length) throw new ConfigError('only dispatch accounts take assets');
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const line = `${username}:${await hashPassword(password)}${role === 'dispatch' ? `:${assets.join(',')}` : ''}`;
  const lines = existing.split('\n').filter((l) => l.trim() && l.split(':')[0] !== username);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, [...lines, line, ''].join('\n'), { mode: 0o600 });
  await rename(temporary, file);
  return username;
}
