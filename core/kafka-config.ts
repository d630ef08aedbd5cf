import { accessSync, constants } from 'node:fs';

export const KAFKA_SECURITY_PROTOCOLS = ['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'] as const;
export const KAFKA_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/**
 * The settings that say how a Kafka client reaches the brokers: part of GridstreamConfig (core/config.ts), which
 * extends this, declared here beside the checks and the mapping to librdkafka.
 */
export interface KafkaSecurity {
  /** Kafka bootstrap servers; undefined runs the in-process log. */
  kafkaBrokers: string | undefined;
  /** How every Kafka client reaches the brokers (core/kafka-config.ts): plaintext, ssl, sasl_plaintext or sasl_ssl. */
  kafkaSecurityProtocol: string;
  /** SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; with the sasl_* protocols only. */
  kafkaSaslMechanism: string | undefined;
  kafkaSaslUsername: string | undefined;
  /** Never printed or logged. */
  kafkaSaslPassword: string | undefined;
  /** PEM file of the CA certificates the brokers' certificates are checked against; unset: the system's. */
  kafkaSslCa: string | undefined;
  /** PEM client certificate and private key, for brokers that authenticate clients by TLS (both or neither). */
  kafkaSslCert: string | undefined;
  kafkaSslKey: string | undefined;
}

const SASL = {
  GRIDSTREAM_KAFKA_SASL_MECHANISM: 'kafkaSaslMechanism',
  GRIDSTREAM_KAFKA_SASL_USERNAME: 'kafkaSaslUsername',
  GRIDSTREAM_KAFKA_SASL_PASSWORD: 'kafkaSaslPassword',
} as const;
const SSL = {
  GRIDSTREAM_KAFKA_SSL_CA: 'kafkaSslCa',
  GRIDSTREAM_KAFKA_SSL_CERT: 'kafkaSslCert',
  GRIDSTREAM_KAFKA_SSL_KEY: 'kafkaSslKey',
} as const;

const set = (c: KafkaSecurity, vars: Record<string, keyof KafkaSecurity>) =>
  Object.entries(vars)
    .filter(([, key]) => c[key] !== undefined && c[key] !== '')
    .map(([name]) => name);

/**
 * What is wrong with the Kafka security settings, or undefined. A setting that would be silently ignored (a
 * password with the plaintext protocol, a CA without TLS) is an error: the operator meant something by it.
 * Messages name variables, never a value.
 */
export function kafkaSecurityProblem(c: KafkaSecurity): string | undefined {
  const protocol = c.kafkaSecurityProtocol;
  const sasl = set(c, SASL);
  const ssl = set(c, SSL);
  if (!c.kafkaBrokers) {
    const given = [
      ...(protocol !== 'plaintext' ? ['GRIDSTREAM_KAFKA_SECURITY_PROTOCOL'] : []),
      ...sasl,
      ...ssl,
    ];
    return given.length
      ? `${given.join(', ')} set without GRIDSTREAM_KAFKA_BROKERS: the in-process log has no broker to reach`
      : undefined;
  }
  const usesSasl = protocol === 'sasl_plaintext' || protocol === 'sasl_ssl';
  const usesTls = protocol === 'ssl' || protocol === 'sasl_ssl';
  if (usesSasl) {
    const missing = Object.keys(SASL).filter((name) => !sasl.includes(name));
    if (missing.length) return `GRIDSTREAM_KAFKA_SECURITY_PROTOCOL=${protocol} needs ${missing.join(', ')}`;
  } else if (sasl.length) {
    return `${sasl.join(', ')} set but GRIDSTREAM_KAFKA_SECURITY_PROTOCOL is ${protocol}: set sasl_ssl (or sasl_plaintext) for the credentials to be used`;
  }
  if (!usesTls && ssl.length)
    return `${ssl.join(', ')} set but GRIDSTREAM_KAFKA_SECURITY_PROTOCOL is ${protocol}: set ssl or sasl_ssl for TLS to be used`;
  return undefined;
}

/**
 * The librdkafka security properties of every Kafka client (producers, consumers, admin), from the
 * configuration. Throws on settings kafkaSecurityProblem refuses, and on a PEM file that cannot be read
 * (librdkafka's own message would not name the variable).
 */
export function kafkaClientConfig(c: KafkaSecurity): Record<string, string> {
  const problem = kafkaSecurityProblem(c);
  if (problem) throw new Error(problem);
  const protocol = c.kafkaSecurityProtocol;
  const config: Record<string, string> = { 'security.protocol': protocol };
  if (protocol === 'sasl_plaintext' || protocol === 'sasl_ssl') {
    config['sasl.mechanisms'] = c.kafkaSaslMechanism!;
    config['sasl.username'] = c.kafkaSaslUsername!;
    config['sasl.password'] = c.kafkaSaslPassword!;
  }
  if (protocol === 'ssl' || protocol === 'sasl_ssl') {
    // librdkafka's default since 2.0, stated so that it stays: the broker's certificate must name the host.
    config['ssl.endpoint.identification.algorithm'] = 'https';
    const files: Array<[string, string, string | undefined]> = [
      ['GRIDSTREAM_KAFKA_SSL_CA', 'ssl.ca.location', c.kafkaSslCa],
      ['GRIDSTREAM_KAFKA_SSL_CERT', 'ssl.certificate.location', c.kafkaSslCert],
      ['GRIDSTREAM_KAFKA_SSL_KEY', 'ssl.key.location', c.kafkaSslKey],
    ];
    for (const [name, property, path] of files) {
      if (!path) continue;
      try {
        accessSync(path, constants.R_OK);
      } catch (error) {
        throw new Error(`${name}: cannot read ${path}: ${(error as Error).message}`);
      }
      config[property] = path;
    }
  }
  return config;
}
