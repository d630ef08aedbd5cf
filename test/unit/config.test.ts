import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  describeDefault,
  EVENT_BASELINES,
  loadConfig,
  plainDoc,
  VARIABLES,
  type GridstreamConfig,
} from '../../core/config.js';
import { METHODOLOGY_NAMES } from '../../processors/flexibility/baseline.js';

let dir: string;
let n = 0;
function configFile(contents: unknown): string {
  const path = join(dir, `config-${n++}.json`);
  writeFileSync(path, typeof contents === 'string' ? contents : JSON.stringify(contents));
  return path;
}

/** The ConfigError a load throws (fails the test if it loads or throws something else). */
function configError(env: NodeJS.ProcessEnv, file?: string): ConfigError {
  try {
    loadConfig(env, file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gridstream-config-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('offers exactly the baseline methodologies for GRIDSTREAM_EVENT_BASELINE', () => {
    expect([...EVENT_BASELINES]).toEqual(METHODOLOGY_NAMES);
  });

  it('defaults to port 8080, embedded broker on 1883, in-process log, embedded engine, ./data', () => {
    const config = loadConfig({});
    expect(config).toEqual<GridstreamConfig>({
      httpPort: 8080,
      mqttUrl: undefined,
      mqttPort: 1883,
      mqttHost: '127.0.0.1',
      mqttUsers: undefined,
      mqttTlsCert: undefined,
      mqttTlsKey: undefined,
      mqttClientId: 'gridstream-ingest',
      kafkaBrokers: undefined,
      kafkaMaxPollIntervalMs: undefined,
      kafkaSecurityProtocol: 'plaintext',
      kafkaSaslMechanism: undefined,
      kafkaSaslUsername: undefined,
      kafkaSaslPassword: undefined,
      kafkaSslCa: undefined,
      kafkaSslCert: undefined,
      kafkaSslKey: undefined,
      clickhouseUrl: undefined,
      dataDir: resolve(process.cwd(), 'data'),
      apiKeys: undefined,
      allowedLatenessS: 300,
      revisionHorizonH: 24,
      residentSlotsH: 1,
      retentionDays: 395,
      partitions: 8,
      impedanceAlertMohm: 800,
      apiRateLimit: 25,
      apiRateBurst: 25,
      apiMaxConcurrent: 15,
      apiPieceCacheBytes: 32 * 1024 * 1024,
      webhookMaxAttempts: 8,
      webhookBackoffMs: 1000,
      webhookAllow: undefined,
      stressAlertProbability: 0.5,
      eventBaseline: 'high-4-of-5',
      eventStatsDelayS: 0,
      heapGrowthPct: undefined,
      logLevel: 'info',
      httpTlsCert: undefined,
      httpTlsKey: undefined,
      apiAuthFailureRate: 1,
      apiAuthFailureBurst: 20,
      topologyMaxBytes: 64 * 1024 * 1024,
      consumptionRateLimit: 1,
      consumptionConcurrency: 1,
      consumptionMaxBytes: 32 * 1024 * 1024,
      exportMaxJobs: 2,
      exportMaxBytes: 10 * 1024 ** 3,
      exportTtlS: 86_400,
      timeZone: undefined,
    });
    expect(isAbsolute(config.dataDir)).toBe(true);
  });

  it('does not read process.env when given an environment', () => {
    const saved = process.env.GRIDSTREAM_HTTP_PORT;
    process.env.GRIDSTREAM_HTTP_PORT = '9999';
    try {
      expect(loadConfig({}).httpPort).toBe(8080);
      expect(loadConfig().httpPort).toBe(9999);
    } finally {
      if (saved === undefined) delete process.env.GRIDSTREAM_HTTP_PORT;
      else process.env.GRIDSTREAM_HTTP_PORT = saved;
    }
  });

  it('takes every setting from the environment', () => {
    const config = loadConfig({
      GRIDSTREAM_HTTP_PORT: '9090',
      GRIDSTREAM_MQTT_URL: 'mqtt://broker.example:1883',
      GRIDSTREAM_MQTT_PORT: '11883',
      GRIDSTREAM_MQTT_CLIENT_ID: 'bridge-7',
      GRIDSTREAM_MQTT_HOST: '0.0.0.0',
      GRIDSTREAM_MQTT_USERS: 'head-end:secret',
      GRIDSTREAM_MQTT_TLS_CERT: '/etc/gridstream/mqtt.crt',
      GRIDSTREAM_MQTT_TLS_KEY: '/etc/gridstream/mqtt.key',
      GRIDSTREAM_KAFKA_BROKERS: 'k1:9092,k2:9092',
      GRIDSTREAM_KAFKA_MAX_POLL_INTERVAL_MS: '60000',
      GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      GRIDSTREAM_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      GRIDSTREAM_KAFKA_SASL_USERNAME: 'gridstream',
      GRIDSTREAM_KAFKA_SASL_PASSWORD: 'kafka-secret',
      GRIDSTREAM_KAFKA_SSL_CA: '/etc/gridstream/kafka-ca.pem',
      GRIDSTREAM_KAFKA_SSL_CERT: '/etc/gridstream/kafka-client.pem',
      GRIDSTREAM_KAFKA_SSL_KEY: '/etc/gridstream/kafka-client.key',
      GRIDSTREAM_CLICKHOUSE_URL: 'http://clickhouse.example:8123',
      GRIDSTREAM_DATA_DIR: '/var/lib/gridstream',
      GRIDSTREAM_API_KEYS:
        'key-one-0123456789abcdefghijklmnopqrstuv,key-two-0123456789abcdefghijklmnopqrstuv:tenant-a',
      GRIDSTREAM_ALLOWED_LATENESS_S: '120',
      GRIDSTREAM_REVISION_HORIZON_H: '48',
      GRIDSTREAM_RESIDENT_SLOTS_H: '2',
      GRIDSTREAM_RETENTION_DAYS: '30',
      GRIDSTREAM_PARTITIONS: '16',
      GRIDSTREAM_IMPEDANCE_ALERT_MOHM: '500',
      GRIDSTREAM_API_RATE_LIMIT: '5',
      GRIDSTREAM_API_RATE_BURST: '10',
      GRIDSTREAM_API_MAX_CONCURRENT: '4',
      GRIDSTREAM_API_PIECE_CACHE_BYTES: '1048576',
      GRIDSTREAM_WEBHOOK_MAX_ATTEMPTS: '3',
      GRIDSTREAM_WEBHOOK_BACKOFF_MS: '250',
      GRIDSTREAM_WEBHOOK_ALLOW: '10.20.0.0/16,hooks.internal',
      GRIDSTREAM_STRESS_ALERT_PROBABILITY: '0.8',
      GRIDSTREAM_EVENT_BASELINE: '10-of-10',
      GRIDSTREAM_EVENT_STATS_DELAY_S: '900',
      GRIDSTREAM_HEAP_GROWTH_PCT: '50',
      GRIDSTREAM_LOG_LEVEL: 'warn',
      GRIDSTREAM_HTTP_TLS_CERT: '/etc/gridstream/cert.pem',
      GRIDSTREAM_HTTP_TLS_KEY: '/etc/gridstream/key.pem',
      GRIDSTREAM_API_AUTH_FAILURE_RATE: '0.5',
      GRIDSTREAM_API_AUTH_FAILURE_BURST: '5',
      GRIDSTREAM_TOPOLOGY_MAX_BYTES: '1048576',
      GRIDSTREAM_CONSUMPTION_RATE_LIMIT: '0.5',
      GRIDSTREAM_CONSUMPTION_CONCURRENCY: '2',
      GRIDSTREAM_CONSUMPTION_MAX_BYTES: '2097152',
      GRIDSTREAM_EXPORT_MAX_JOBS: '1',
      GRIDSTREAM_EXPORT_MAX_BYTES: '1000000',
      GRIDSTREAM_EXPORT_TTL_S: '3600',
      GRIDSTREAM_TIMEZONE: 'Asia/Kolkata',
    });
    expect(config).toEqual<GridstreamConfig>({
      httpPort: 9090,
      mqttUrl: 'mqtt://broker.example:1883',
      mqttPort: 11883,
      mqttHost: '0.0.0.0',
      mqttUsers: 'head-end:secret',
      mqttTlsCert: '/etc/gridstream/mqtt.crt',
      mqttTlsKey: '/etc/gridstream/mqtt.key',
      mqttClientId: 'bridge-7',
      kafkaBrokers: 'k1:9092,k2:9092',
      kafkaMaxPollIntervalMs: 60000,
      kafkaSecurityProtocol: 'sasl_ssl',
      kafkaSaslMechanism: 'SCRAM-SHA-512',
      kafkaSaslUsername: 'gridstream',
      kafkaSaslPassword: 'kafka-secret',
      kafkaSslCa: '/etc/gridstream/kafka-ca.pem',
      kafkaSslCert: '/etc/gridstream/kafka-client.pem',
      kafkaSslKey: '/etc/gridstream/kafka-client.key',
      clickhouseUrl: 'http://clickhouse.example:8123',
      dataDir: '/var/lib/gridstream',
      apiKeys: 'key-one-0123456789abcdefghijklmnopqrstuv,key-two-0123456789abcdefghijklmnopqrstuv:tenant-a',
      allowedLatenessS: 120,
      revisionHorizonH: 48,
      residentSlotsH: 2,
      retentionDays: 30,
      partitions: 16,
      impedanceAlertMohm: 500,
      apiRateLimit: 5,
      apiRateBurst: 10,
      apiMaxConcurrent: 4,
      apiPieceCacheBytes: 1048576,
      webhookMaxAttempts: 3,
      webhookBackoffMs: 250,
      webhookAllow: '10.20.0.0/16,hooks.internal',
      stressAlertProbability: 0.8,
      eventBaseline: '10-of-10',
      eventStatsDelayS: 900,
      heapGrowthPct: 50,
      logLevel: 'warn',
      httpTlsCert: '/etc/gridstream/cert.pem',
      httpTlsKey: '/etc/gridstream/key.pem',
      apiAuthFailureRate: 0.5,
      apiAuthFailureBurst: 5,
      topologyMaxBytes: 1048576,
      consumptionRateLimit: 0.5,
      consumptionConcurrency: 2,
      consumptionMaxBytes: 2097152,
      exportMaxJobs: 1,
      exportMaxBytes: 1000000,
      exportTtlS: 3600,
      timeZone: 'Asia/Kolkata',
    });
  });

  it('refuses an unknown log level and a TLS certificate without its key, naming the variables', () => {
    expect(configError({ GRIDSTREAM_LOG_LEVEL: 'verbose' }).message).toBe(
      'GRIDSTREAM_LOG_LEVEL: "verbose" is not one of fatal, error, warn, info, debug, trace, silent',
    );
    expect(configError({ GRIDSTREAM_HTTP_TLS_CERT: '/etc/cert.pem' }).message).toMatch(
      /GRIDSTREAM_HTTP_TLS_CERT and GRIDSTREAM_HTTP_TLS_KEY go together/,
    );
  });

  it('refuses a TLS certificate without its key, and a key without its certificate', () => {
    expect(() => loadConfig({ GRIDSTREAM_MQTT_TLS_CERT: 'c.pem' })).toThrow(
      /GRIDSTREAM_MQTT_TLS_CERT and GRIDSTREAM_MQTT_TLS_KEY go together: set both or neither/,
    );
    expect(() => loadConfig({ GRIDSTREAM_MQTT_TLS_KEY: 'k.pem' })).toThrow(/set both or neither/);
  });

  it('resolves a relative data directory to an absolute path', () => {
    expect(loadConfig({ GRIDSTREAM_DATA_DIR: 'state/gs' }).dataDir).toBe(resolve(process.cwd(), 'state/gs'));
  });

  it('treats an empty variable as unset', () => {
    const config = loadConfig({ GRIDSTREAM_HTTP_PORT: '', GRIDSTREAM_MQTT_URL: '' });
    expect(config.httpPort).toBe(8080);
    expect(config.mqttUrl).toBeUndefined();
  });

  it('takes values from a JSON config file, numbers or strings', () => {
    const file = configFile({
      GRIDSTREAM_HTTP_PORT: 7070,
      GRIDSTREAM_KAFKA_BROKERS: 'kafka:9092',
      GRIDSTREAM_RETENTION_DAYS: '90',
    });
    const config = loadConfig({}, file);
    expect(config.httpPort).toBe(7070);
    expect(config.kafkaBrokers).toBe('kafka:9092');
    expect(config.retentionDays).toBe(90);
    expect(config.mqttPort).toBe(1883);
  });

  it('lets the environment win over the config file', () => {
    const file = configFile({
      GRIDSTREAM_HTTP_PORT: 7070,
      GRIDSTREAM_PARTITIONS: 4,
      GRIDSTREAM_MQTT_PORT: 2883,
    });
    const config = loadConfig({ GRIDSTREAM_HTTP_PORT: '6060', GRIDSTREAM_PARTITIONS: '32' }, file);
    expect(config.httpPort).toBe(6060);
    expect(config.partitions).toBe(32);
    expect(config.mqttPort).toBe(2883);
  });

  it('rejects an unknown key in the config file, naming it', () => {
    const file = configFile({ GRIDSTREAM_HTTP_PORT: 8080, GRIDSTREAM_HTTP_PROT: 8081 });
    const error = configError({}, file);
    expect(error.message).toContain('unknown setting GRIDSTREAM_HTTP_PROT');
    expect(error.message).toContain(file);
  });

  it('rejects a config file that is not JSON, naming the file', () => {
    const file = configFile('{"GRIDSTREAM_HTTP_PORT": ');
    expect(configError({}, file).message).toContain(file);
  });

  it('rejects a config file that does not exist, naming it', () => {
    const file = join(dir, 'missing.json');
    expect(configError({}, file).message).toContain(file);
  });

  it.each(['70000', 'abc', '-1', '80.5'])('rejects the port %j, naming the variable', (port) => {
    expect(configError({ GRIDSTREAM_HTTP_PORT: port }).message).toMatch(
      /^GRIDSTREAM_HTTP_PORT: .* is not a port number/,
    );
    expect(configError({ GRIDSTREAM_MQTT_PORT: port }).message).toMatch(/^GRIDSTREAM_MQTT_PORT: /);
  });

  it('rejects a bad port from the config file, naming the variable', () => {
    const file = configFile({ GRIDSTREAM_MQTT_PORT: 70000 });
    expect(configError({}, file).message).toMatch(/^GRIDSTREAM_MQTT_PORT: "70000" is not a port number/);
  });

  it('accepts the ends of the port range', () => {
    expect(loadConfig({ GRIDSTREAM_HTTP_PORT: '0', GRIDSTREAM_MQTT_PORT: '65535' })).toMatchObject({
      httpPort: 0,
      mqttPort: 65535,
    });
  });

  it.each([
    ['GRIDSTREAM_RETENTION_DAYS', '-3'],
    ['GRIDSTREAM_RETENTION_DAYS', 'forever'],
    ['GRIDSTREAM_ALLOWED_LATENESS_S', '0'],
    ['GRIDSTREAM_REVISION_HORIZON_H', '-1'],
  ])('rejects the non-positive %s=%j, naming the variable', (name, raw) => {
    expect(configError({ [name]: raw }).message).toBe(
      `${name}: ${JSON.stringify(raw)} is not a positive number`,
    );
  });

  it.each(['0', '-4', '2.5'])(
    'rejects GRIDSTREAM_PARTITIONS=%j: partitions are a whole number above 0',
    (raw) => {
      expect(configError({ GRIDSTREAM_PARTITIONS: raw }).message).toBe(
        `GRIDSTREAM_PARTITIONS: ${JSON.stringify(raw)} is not a whole number above 0`,
      );
    },
  );

  it.each(['0', '1.5', 'likely'])(
    'rejects GRIDSTREAM_STRESS_ALERT_PROBABILITY=%j: not a probability',
    (raw) => {
      expect(configError({ GRIDSTREAM_STRESS_ALERT_PROBABILITY: raw }).message).toBe(
        `GRIDSTREAM_STRESS_ALERT_PROBABILITY: ${JSON.stringify(raw)} is not a probability (above 0, at most 1)`,
      );
    },
  );

  it('rejects a non-positive number from the config file, naming the variable', () => {
    const file = configFile({ GRIDSTREAM_RETENTION_DAYS: 0 });
    expect(configError({}, file).message).toBe('GRIDSTREAM_RETENTION_DAYS: "0" is not a positive number');
  });

  it('describes every variable', () => {
    for (const name of [
      'GRIDSTREAM_HTTP_PORT',
      'GRIDSTREAM_MQTT_URL',
      'GRIDSTREAM_MQTT_PORT',
      'GRIDSTREAM_KAFKA_BROKERS',
      'GRIDSTREAM_CLICKHOUSE_URL',
      'GRIDSTREAM_DATA_DIR',
      'GRIDSTREAM_API_KEYS',
    ])
      expect(VARIABLES[name]?.doc, name).toBeTruthy();
  });
});

describe('config: whole numbers and file shape', () => {
  it('refuses a fractional partition count, naming the variable', () => {
    expect(() => loadConfig({ GRIDSTREAM_PARTITIONS: '1.5' })).toThrow(/GRIDSTREAM_PARTITIONS/);
    expect(loadConfig({ GRIDSTREAM_PARTITIONS: '12' }).partitions).toBe(12);
  });

  it('takes an IANA time zone for the DTs without one and refuses a name that is not a zone', () => {
    expect(loadConfig({ GRIDSTREAM_TIMEZONE: 'Europe/Berlin' }).timeZone).toBe('Europe/Berlin');
    expect(() => loadConfig({ GRIDSTREAM_TIMEZONE: 'Mars/Olympus' })).toThrow(
      /^GRIDSTREAM_TIMEZONE: "Mars\/Olympus" is not an IANA time zone/,
    );
  });

  it("takes 0 heap growth (V8's own) and refuses a negative or fractional percentage", () => {
    expect(loadConfig({ GRIDSTREAM_HEAP_GROWTH_PCT: '0' }).heapGrowthPct).toBe(0);
    for (const raw of ['-10', '12.5', 'lots'])
      expect(configError({ GRIDSTREAM_HEAP_GROWTH_PCT: raw }).message).toBe(
        `GRIDSTREAM_HEAP_GROWTH_PCT: ${JSON.stringify(raw)} is not a whole number (0 or more)`,
      );
  });

  it('refuses a config file that is not a JSON object with a ConfigError', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gridstream-config-')), 'null.json');
    writeFileSync(file, 'null');
    expect(() => loadConfig({}, file)).toThrow(ConfigError);
  });
});

describe('config: the words of the reference and --help', () => {
  it('says a default as the fallback (a string one through `code`) with its gloss, or unset and what that does', () => {
    const code = (text: string) => `\`${text}\``;
    expect(describeDefault(VARIABLES.GRIDSTREAM_HTTP_PORT!, code)).toBe('8080');
    expect(describeDefault(VARIABLES.GRIDSTREAM_MQTT_HOST!, code)).toBe('`127.0.0.1`');
    expect(describeDefault(VARIABLES.GRIDSTREAM_MQTT_HOST!)).toBe('127.0.0.1');
    expect(describeDefault(VARIABLES.GRIDSTREAM_TOPOLOGY_MAX_BYTES!)).toBe('67108864 (64 MiB)');
    expect(describeDefault(VARIABLES.GRIDSTREAM_KAFKA_BROKERS!)).toBe('unset');
    expect(describeDefault(VARIABLES.GRIDSTREAM_WEBHOOK_ALLOW!)).toBe('unset: public receivers only');
  });

  it('turns a markdown link into its text and where it points, a relative one from the package root', () => {
    expect(plainDoc('TLS `ssl` ([more](../security/kafka.md))')).toBe(
      'TLS `ssl` (more: docs/security/kafka.md)',
    );
    expect(plainDoc('see [distributed mode](distributed-mode.md)')).toBe(
      'see distributed mode: docs/operations/distributed-mode.md',
    );
    expect(plainDoc('[spec](https://example.org/a)')).toBe('spec: https://example.org/a');
    expect(plainDoc('no link [here]')).toBe('no link [here]');
  });
});
