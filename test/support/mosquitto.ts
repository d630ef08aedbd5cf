import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../core/paths.js';

const run = promisify(execFile);

/** infra/mosquitto: the scripts and templates the tests run, the same ones operators use. */
export const MOSQUITTO_INFRA = join(packageRoot, 'infra', 'mosquitto');

/** Whether Mosquitto (Debian's package, installed by infra/setup.sh) is on this machine. */
export function mosquittoInstalled(): boolean {
  for (const bin of ['mosquitto', '/usr/sbin/mosquitto'])
    try {
      execFileSync(bin, ['-h'], { stdio: 'ignore' });
      return true;
    } catch (error) {
      // `mosquitto -h` prints its usage and exits with status 3: installed.
      if ((error as { status?: number }).status === 3) return true;
    }
  return false;
}

export type Role = 'meter' | 'weather' | 'dispatch' | 'ingest';

/**
 * The role of an account by its username, as infra/mosquitto/add-user.sh names them: `weather.<station>`
 * is a weather station, `dispatch.<platform>` a dispatch platform, a name in `ingest` is gridstream's
 * consumer, and anything else is a meter whose id is the username.
 */
export function roleOf(username: string, ingest: readonly string[]): { role: Role; id: string } {
  if (username.startsWith('weather.')) return { role: 'weather', id: username.slice('weather.'.length) };
  if (username.startsWith('dispatch.')) return { role: 'dispatch', id: username.slice('dispatch.'.length) };
  if (ingest.includes(username)) return { role: 'ingest', id: username };
  return { role: 'meter', id: username };
}

export interface MosquittoOptions {
  /** Accounts, username → password; the role follows from the name (see roleOf). */
  users: Record<string, string>;
  /** Usernames that are ingest accounts (read gridstream/v1/#). Default: ['gridstream-ingest']. */
  ingest?: string[];
  /** Listener port; default a free one. */
  port?: number;
}

export interface TestMosquitto {
  /** mqtt://127.0.0.1:PORT, without credentials. */
  url: string;
  port: number;
  /** The broker's directory (config, passwd, acl, data, log, pid), removed by stop(). */
  dir: string;
  pid: number;
  /** The broker URL with an account's credentials in it, percent-encoded (mqtt://user:password@host:port). */
  urlFor(username: string): string;
  /** Adds or changes an account while the broker runs (add-user.sh: password file, ACL, SIGHUP reload). */
  addUser(username: string, password: string): Promise<void>;
  /** Adds or changes meter accounts, meter id → password, in one pass (add-meters.sh). */
  addMeters(meters: Record<string, string>): Promise<void>;
  /** Whether the broker process is still alive. */
  alive(): boolean;
  /** The broker's log so far. */
  log(): string;
  /** Stops the broker (stop.sh: SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
}

/**
 * A real Mosquitto broker for a test: infra/mosquitto/add-meters.sh and add-user.sh create the accounts,
 * start.sh renders the config template and starts the broker as the current user on a free port in a
 * temporary directory.
 */
export async function startMosquitto(options: MosquittoOptions): Promise<TestMosquitto> {
  const ingest = options.ingest ?? ['gridstream-ingest'];
  const dir = join(mkdtempSync(join(tmpdir(), 'gridstream-mosquitto-')), 'broker');
  const passwords = new Map(Object.entries(options.users));
  const addUser = async (username: string, password: string) => {
    const { role, id } = roleOf(username, ingest);
    await run(join(MOSQUITTO_INFRA, 'add-user.sh'), ['--dir', dir, role, id, password]);
    passwords.set(username, password);
  };
  const addMeters = async (meters: Record<string, string>) => {
    const lines = Object.entries(meters).map(([id, password]) => `${id}:${password}\n`);
    await new Promise<void>((resolve, reject) => {
      const child = execFile(join(MOSQUITTO_INFRA, 'add-meters.sh'), ['--dir', dir, '-'], (error) =>
        error ? reject(error) : resolve(),
      );
      child.stdin!.end(lines.join(''));
    });
    for (const [id, password] of Object.entries(meters)) passwords.set(id, password);
  };
  try {
    // Other roles one by one (add-user.sh), then every meter in one pass (add-meters.sh).
    const meters: Record<string, string> = {};
    for (const [username, password] of passwords)
      if (roleOf(username, ingest).role === 'meter') meters[username] = password;
      else await addUser(username, password);
    if (Object.keys(meters).length) await addMeters(meters);
    const args = ['--dir', dir, ...(options.port ? ['--port', String(options.port)] : [])];
    const { stdout } = await run(join(MOSQUITTO_INFRA, 'start.sh'), args);
    const url = stdout.trim().split('\n').at(-1)!;
    const port = Number(new URL(url).port);
    const pid = Number(readFileSync(join(dir, 'mosquitto.pid'), 'utf8'));
    // A test process that ends without stop() (a crash, a timeout) must not leave the broker running.
    const killOnExit = () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(join(dir, '..'), { recursive: true, force: true });
    };
    process.once('exit', killOnExit);
    return {
      url,
      port,
      dir,
      pid,
      urlFor(username) {
        const password = passwords.get(username);
        if (password === undefined) throw new Error(`no account ${username}`);
        return `mqtt://${encodeURIComponent(username)}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
      },
      addUser,
      addMeters,
      alive() {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      },
      log: () => readFileSync(join(dir, 'mosquitto.log'), 'utf8'),
      async stop() {
        process.off('exit', killOnExit);
        await run(join(MOSQUITTO_INFRA, 'stop.sh'), ['--dir', dir]);
        rmSync(join(dir, '..'), { recursive: true, force: true });
      },
    };
  } catch (error) {
    await run(join(MOSQUITTO_INFRA, 'stop.sh'), ['--dir', dir]).catch(() => {});
    rmSync(join(dir, '..'), { recursive: true, force: true });
    throw error;
  }
}

/**
 * Connects over raw TCP with MQTT 5, publishes one QoS 1 message and returns the reason codes of the broker's
 * CONNACK and PUBACK, byte for byte as the broker sent them (mqtt.js refuses some reason codes a broker may
 * send, so tests that assert what the broker answers read the wire themselves).
 */
export async function publishMqtt5Raw(
  port: number,
  username: string,
  password: string,
  topic: string,
  payload: Buffer,
): Promise<{ connack: number; puback: number | undefined }> {
  const str = (s: string | Buffer) => {
    const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8');
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  const packet = (type: number, body: Buffer) => {
    const length: number[] = [];
    let n = body.length;
    do {
      let byte = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) byte |= 0x80;
      length.push(byte);
    } while (n > 0);
    return Buffer.concat([Buffer.from([type, ...length]), body]);
  };
  const connect = packet(
    0x10,
    Buffer.concat([
      str('MQTT'),
      Buffer.from([5, 0xc2, 0, 60, 0]), // MQTT 5; username, password, clean start; keep-alive 60 s; no properties
      str(`raw-${process.pid}-${Date.now()}`),
      str(username),
      str(password),
    ]),
  );
  const publish = packet(0x32, Buffer.concat([str(topic), Buffer.from([0, 1, 0]), payload])); // QoS 1, id 1

  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let connack: number | undefined;
    const timer = setTimeout(() => finish(), 5000);
    const finish = (puback?: number) => {
      clearTimeout(timer);
      socket.destroy();
      if (connack === undefined) reject(new Error('no CONNACK from the broker'));
      else resolve({ connack, puback });
    };
    socket.on('error', reject);
    socket.on('close', () => finish());
    socket.on('connect', () => socket.write(connect));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      // Packets here are short: one length byte. CONNACK: 0x20 len flags reason; PUBACK: 0x40 len id id [reason].
      while (received.length >= 2 && received.length >= 2 + received[1]!) {
        const [type, length] = [received[0]!, received[1]!];
        const body = received.subarray(2, 2 + length);
        received = received.subarray(2 + length);
        if (type === 0x20) {
          connack = body[1]!;
          if (connack === 0) socket.write(publish);
          else return finish();
        } else if (type === 0x40) return finish(length > 2 ? body[2]! : 0);
      }
    });
  });
}
