import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../core/config.js';
import { kafkaClientConfig } from '../../core/kafka-config.js';

const PASSWORD = 'pa55-never-printed';
const BROKERS = { GRIDSTREAM_KAFKA_BROKERS: 'kafka-1:9093' };
const SASL = {
  GRIDSTREAM_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
  GRIDSTREAM_KAFKA_SASL_USERNAME: 'gridstream',
  GRIDSTREAM_KAFKA_SASL_PASSWORD: PASSWORD,
};

let dir: string;
let ca: string;
let cert: string;
let key: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gridstream-kafka-config-'));
  const file = (name: string) => {
    writeFileSync(join(dir, name), '-----BEGIN CERTIFICATE-----\n');
    return join(dir, name);
  };
  ca = file('ca.pem');
  cert = file('client.pem');
  key = file('client.key');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The librdkafka properties for an environment, through loadConfig as at start. */
const clientConfig = (env: NodeJS.ProcessEnv) => kafkaClientConfig(loadConfig(env));

/** The ConfigError loadConfig throws for an environment. */
function refusal(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected loadConfig to refuse');
}

describe('Kafka security settings → librdkafka properties', () => {
  it('is plaintext by default, and nothing else', () => {
    expect(clientConfig(BROKERS)).toEqual({ 'security.protocol': 'plaintext' });
  });

  it('maps sasl_plaintext to the SASL mechanism and credentials', () => {
    expect(
      clientConfig({ ...BROKERS, GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext', ...SASL }),
    ).toEqual({
      'security.protocol': 'sasl_plaintext',
      'sasl.mechanisms': 'SCRAM-SHA-256',
      'sasl.username': 'gridstream',
      'sasl.password': PASSWORD,
    });
  });

  it('maps ssl to the CA, client certificate and key files, with host name verification', () => {
    expect(
      clientConfig({
        ...BROKERS,
        GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'ssl',
        GRIDSTREAM_KAFKA_SSL_CA: ca,
        GRIDSTREAM_KAFKA_SSL_CERT: cert,
        GRIDSTREAM_KAFKA_SSL_KEY: key,
      }),
    ).toEqual({
      'security.protocol': 'ssl',
      'ssl.endpoint.identification.algorithm': 'https',
      'ssl.ca.location': ca,
      'ssl.certificate.location': cert,
      'ssl.key.location': key,
    });
  });

  it("maps sasl_ssl to both, leaving the CA to the system's when unset", () => {
    expect(
      clientConfig({
        ...BROKERS,
        GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
        ...SASL,
        GRIDSTREAM_KAFKA_SASL_MECHANISM: 'PLAIN',
      }),
    ).toEqual({
      'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'PLAIN',
      'sasl.username': 'gridstream',
      'sasl.password': PASSWORD,
      'ssl.endpoint.identification.algorithm': 'https',
    });
  });

  it('refuses an unknown protocol or mechanism', () => {
    expect(refusal({ ...BROKERS, GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'SASL' })).toMatch(
      /^GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: "SASL" is not one of plaintext, ssl, sasl_plaintext, sasl_ssl/,
    );
    expect(
      refusal({
        ...BROKERS,
        GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
        ...SASL,
        GRIDSTREAM_KAFKA_SASL_MECHANISM: 'GSSAPI',
      }),
    ).toMatch(/^GRIDSTREAM_KAFKA_SASL_MECHANISM: "GSSAPI" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/);
  });

  it('refuses a SASL protocol without mechanism, user or password, naming what is missing', () => {
    expect(refusal({ ...BROKERS, GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl' })).toBe(
      'GRIDSTREAM_KAFKA_SECURITY_PROTOCOL=sasl_ssl needs GRIDSTREAM_KAFKA_SASL_MECHANISM, GRIDSTREAM_KAFKA_SASL_USERNAME, GRIDSTREAM_KAFKA_SASL_PASSWORD',
    );
    expect(
      refusal({
        ...BROKERS,
        GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext',
        ...SASL,
        GRIDSTREAM_KAFKA_SASL_USERNAME: '',
      }),
    ).toBe('GRIDSTREAM_KAFKA_SECURITY_PROTOCOL=sasl_plaintext needs GRIDSTREAM_KAFKA_SASL_USERNAME');
  });

  it('refuses credentials the plaintext or ssl protocol would never send, without printing the password', () => {
    const message = refusal({ ...BROKERS, ...SASL });
    expect(message).toBe(
      'GRIDSTREAM_KAFKA_SASL_MECHANISM, GRIDSTREAM_KAFKA_SASL_USERNAME, GRIDSTREAM_KAFKA_SASL_PASSWORD set but GRIDSTREAM_KAFKA_SECURITY_PROTOCOL is plaintext: set sasl_ssl (or sasl_plaintext) for the credentials to be used',
    );
    expect(
      refusal({
        ...BROKERS,
        GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'ssl',
        GRIDSTREAM_KAFKA_SASL_PASSWORD: PASSWORD,
      }),
    ).not.toContain(PASSWORD);
  });

  it('refuses TLS files with a protocol without TLS, and a client certificate without its key', () => {
    expect(
      refusal({
        ...BROKERS,
        GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext',
        ...SASL,
        GRIDSTREAM_KAFKA_SSL_CA: ca,
      }),
    ).toBe(
      'GRIDSTREAM_KAFKA_SSL_CA set but GRIDSTREAM_KAFKA_SECURITY_PROTOCOL is sasl_plaintext: set ssl or sasl_ssl for TLS to be used',
    );
    expect(
      refusal({ ...BROKERS, GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'ssl', GRIDSTREAM_KAFKA_SSL_CERT: cert }),
    ).toBe('GRIDSTREAM_KAFKA_SSL_CERT and GRIDSTREAM_KAFKA_SSL_KEY go together: set both or neither');
  });

  it('refuses security settings without GRIDSTREAM_KAFKA_BROKERS (the in-process log would ignore them)', () => {
    expect(refusal({ GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', ...SASL })).toBe(
      'GRIDSTREAM_KAFKA_SECURITY_PROTOCOL, GRIDSTREAM_KAFKA_SASL_MECHANISM, GRIDSTREAM_KAFKA_SASL_USERNAME, GRIDSTREAM_KAFKA_SASL_PASSWORD set without GRIDSTREAM_KAFKA_BROKERS: the in-process log has no broker to reach',
    );
  });

  it('names the variable of a PEM file it cannot read', () => {
    const missing = join(dir, 'missing-ca.pem');
    expect(() =>
      clientConfig({
        ...BROKERS,
        GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'ssl',
        GRIDSTREAM_KAFKA_SSL_CA: missing,
      }),
    ).toThrow(`GRIDSTREAM_KAFKA_SSL_CA: cannot read ${missing}`);
  });
});
