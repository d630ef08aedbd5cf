import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../core/paths.js';

const run = promisify(execFile);

export interface TestKafka {
  /** The PLAINTEXT listener. */
  brokers: string;
  /** The listeners by security protocol (`PLAINTEXT`, and `SASL_PLAINTEXT`, `SSL`, `SASL_SSL` when asked for). */
  listeners: Record<string, string>;
  /** PEM of the broker's self-signed certificate (the CA to trust), with `tls`. */
  caFile: string | undefined;
  /** A client certificate and its key that the SSL listener accepts, with `tls.clientAuth`. */
  clientCertFile: string | undefined;
  clientKeyFile: string | undefined;
  dir: string;
  /** Stops the broker (SIGTERM), keeping its data: `start()` brings it back on the same address. */
  stop(): Promise<void>;
  /** Kills the broker without warning (SIGKILL). */
  kill(): void;
  /**
   * Freezes the broker (SIGSTOP): connections stay open, requests sent to it wait unread in its sockets and
   * are handled once `resume()` lets it go on (SIGCONT), even if their sender has died meanwhile.
   */
  pause(): void;
  resume(): void;
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

export interface TestKafkaOptions {
  /**
   * Users (name → password) of an extra SASL_PLAINTEXT listener that takes PLAIN, SCRAM-SHA-256 and
   * SCRAM-SHA-512 (and of a SASL_SSL one with `tls`).
   */
  saslUsers?: Record<string, string>;
  /**
   * An extra SSL listener with a certificate for 127.0.0.1 made here by openssl, self-signed; with
   * `clientAuth` it requires a client certificate, one of which is made here too.
   */
  tls?: boolean | { clientAuth: boolean };
}

/** A self-signed certificate and its (unencrypted PKCS#8) key, made by openssl. */
export async function selfSignedCertificate(
  dir: string,
  name: string,
  subject: string,
  altName?: string,
): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', subject],
    ...(altName ? ['-addext', `subjectAltName=${altName}`] : []),
    ...['-keyout', key, '-out', cert],
  ]);
  return { cert, key };
}

/** A single-node KRaft broker on free ports in a temporary directory (infra/kafka/start.sh). */
export async function startKafka(options: TestKafkaOptions = {}): Promise<TestKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'gridstream-kafka-'));
  const script = (name: string) => join(packageRoot, 'infra', 'kafka', name);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (options.saslUsers)
    env.KAFKA_SASL_USERS = Object.entries(options.saslUsers)
      .map(([name, password]) => `${name}:${password}`)
      .join(',');
  let caFile: string | undefined;
  let client: { cert: string; key: string } | undefined;
  if (options.tls) {
    const broker = await selfSignedCertificate(dir, 'broker', '/CN=127.0.0.1', 'IP:127.0.0.1');
    caFile = broker.cert;
    // The broker's PEM keystore: the key, then the certificate.
    env.KAFKA_SSL_PEM = join(dir, 'broker.pem');
    writeFileSync(env.KAFKA_SSL_PEM, readFileSync(broker.key, 'utf8') + readFileSync(broker.cert, 'utf8'));
    if (typeof options.tls === 'object' && options.tls.clientAuth) {
      // Self-signed: the broker trusts the client certificate itself.
      client = await selfSignedCertificate(dir, 'client', '/CN=gridstream');
      env.KAFKA_SSL_CLIENT_CA = client.cert;
    }
  }
  const start = async () => {
    const { stdout } = await run(script('start.sh'), [dir], { timeout: 180_000, env });
    return stdout.trim().split('\n').at(-1)!;
  };
  const brokers = await start();
  const advertised = /^advertised\.listeners=(.*)$/m.exec(
    readFileSync(join(dir, 'server.properties'), 'utf8'),
  );
  const listeners = Object.fromEntries(
    (advertised?.[1] ?? '').split(',').map((l) => l.split('://') as [string, string]),
  );
  // A test process that dies (or is cut short) must not leave a broker behind.
  const killOnExit = () => {
    try {
      process.kill(Number(readFileSync(join(dir, 'broker.pid'), 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);
  const signal = (name: NodeJS.Signals) =>
    process.kill(Number(readFileSync(join(dir, 'broker.pid'), 'utf8')), name);
  return {
    brokers,
    listeners,
    caFile,
    clientCertFile: client?.cert,
    clientKeyFile: client?.key,
    dir,
    stop: async () => void (await run(script('stop.sh'), [dir], { timeout: 60_000 })),
    kill: () => signal('SIGKILL'),
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    start: async () => void (await start()),
    destroy: async () => {
      process.off('exit', killOnExit);
      // A frozen broker would not hear stop.sh's SIGTERM.
      try {
        signal('SIGCONT');
      } catch {
        // not running
      }
      await run(script('stop.sh'), [dir], { timeout: 60_000 }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
