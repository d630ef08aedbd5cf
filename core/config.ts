import { readFileSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { PROCESSOR_HEAP_GROWTH_PCT } from './heap.js';
import {
  KAFKA_SASL_MECHANISMS,
  KAFKA_SECURITY_PROTOCOLS,
  kafkaSecurityProblem,
  type KafkaSecurity,
} from './kafka-config.js';
import { isTimeZone } from './schedule.js';

/**
 * Configuration: environment variables (documented in docs/operations/configuration.md), optionally with a JSON config file whose keys are
 * the same names (`{"GRIDSTREAM_HTTP_PORT": 8080}`). The environment wins over the file.
 */
/** Every setting; the Kafka client's security ones are declared with their checks (core/kafka-config.ts). */
/** The baseline methodologies (processors/flexibility/baseline.ts METHODOLOGY_NAMES; a test keeps them equal). */
export const EVENT_BASELINES = ['high-4-of-5', '10-of-10', 'high-5-of-10', 'same-period-yesterday'] as const;

export interface GridstreamConfig extends KafkaSecurity {
  httpPort: number;
  /** External MQTT broker; undefined runs the embedded broker. */
  mqttUrl: string | undefined;
  mqttPort: number;
  /** Address the embedded broker listens on. */
  mqttHost: string;
  /** Embedded broker's head-end accounts, comma-separated `user:password`; undefined: none. */
  mqttUsers: string | undefined;
  /** PEM files of the embedded broker's TLS certificate (chain) and key; both or neither. */
  mqttTlsCert: string | undefined;
  mqttTlsKey: string | undefined;
  /** MQTT client id of the ingest subscription: stable, so a restarted bridge resumes its persistent session. */
  mqttClientId: string;
  /** Kafka consumers' max.poll.interval.ms; undefined: librdkafka's own. */
  kafkaMaxPollIntervalMs: number | undefined;
  /** ClickHouse server; undefined runs the embedded engine. */
  clickhouseUrl: string | undefined;
  dataDir: string;
  /** API keys as `key` or `key:tenant`; undefined lets the demo generate one. */
  apiKeys: string | undefined;
  /** How long after a slot's end (in event time) it is closed as final. */
  allowedLatenessS: number;
  /** How long after a slot's end late readings still revise it. */
  revisionHorizonH: number;
  /** How long after a slot's end its readings stay in the processor's memory (older ones are loaded to revise it). */
  residentSlotsH: number;
  /** Retention of time series in the warehouse. */
  retentionDays: number;
  /** Partitions of the keyed log topics. */
  partitions: number;
  /** A meter leg whose daily impedance median is at least this (milliohm) is flagged. */
  impedanceAlertMohm: number;
  /** Requests per second each API key may make, sustained (per API instance). */
  apiRateLimit: number;
  /** Requests an API key may make at once above the sustained rate. */
  apiRateBurst: number;
  /** Requests an API key may have in flight at once (per API instance). */
  apiMaxConcurrent: number;
  /** Bytes of current load-profile pieces an API instance keeps between requests (serving/piece-cache.ts); 0: none. */
  apiPieceCacheBytes: number;
  /** Attempts at delivering a webhook event to a subscription, the first included. */
  webhookMaxAttempts: number;
  /** Delay before a webhook's second attempt, ms; each later one waits four times longer. */
  webhookBackoffMs: number;
  /** CIDRs and host names webhooks may reach although private (io/webhooks/egress.ts); undefined: none. */
  webhookAllow: string | undefined;
  /** Forecast stress probability at which a DT's STRESS.ALERT webhook fires. */
  stressAlertProbability: number;
  eventBaseline: string;
  eventStatsDelayS: number;
  /**
   * Growth of V8's old generation (percent) before it is collected; 0 leaves it to V8; undefined: the
   * default of the roles run (core/heap.ts).
   */
  heapGrowthPct: number | undefined;
  /** Level of the structured JSON log on stdout (pino's levels). */
  logLevel: string;
  /** PEM certificate (chain) and private key of the API; both set serves HTTPS, neither plain HTTP. */
  httpTlsCert: string | undefined;
  httpTlsKey: string | undefined;
  /** Failed authentications a client address may make per second, sustained, before it gets 429s. */
  apiAuthFailureRate: number;
  /** Failed authentications a client address may make at once. */
  apiAuthFailureBurst: number;
  /** Largest POST /v1/topology body, bytes. */
  topologyMaxBytes: number;
  /** POST /v1/energy-consumption requests per second each API key may make (its own limit, besides the API's). */
  consumptionRateLimit: number;
  /** POST /v1/energy-consumption requests each API key may have in progress at once. */
  consumptionConcurrency: number;
  /** Largest POST /v1/energy-consumption body, bytes. */
  consumptionMaxBytes: number;
  /** Export jobs a tenant may have queued or running at once. */
  exportMaxJobs: number;
  /** Bytes of finished export files a tenant may keep stored; beyond it new exports are refused until some expire. */
  exportMaxBytes: number;
  /** How long an export's job and file are kept after it finishes, seconds. */
  exportTtlS: number;
  /** IANA zone of the DTs whose topology names none; undefined: the zone at each DT's coordinates. */
  timeZone: string | undefined;
}

export interface Variable {
  key: keyof GridstreamConfig;
  kind: 'string' | 'port' | 'positive' | 'count' | 'whole' | 'probability';
  fallback: string | number | undefined;
  /**
   * What the variable means, in a sentence or two of markdown (code in backticks, links relative to
   * docs/operations/): the reference table there is generated from it (`npm run gen:config-doc`), and
   * `gridstream --help` prints it as plain text.
   */
  doc: string;
  /**
   * The default in words where the fallback alone would not say it: with a fallback, a gloss shown after it
   * (`64 MiB`); without one, what leaving the variable unset does (`public receivers only`).
   */
  defaultDoc?: string;
  /** The values a string may take. */
  choices?: readonly string[];
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const codeList = (values: readonly string[]) => values.map((value) => `\`${value}\``).join(', ');

export const VARIABLES: Record<string, Variable> = {
  GRIDSTREAM_HTTP_PORT: { key: 'httpPort', kind: 'port', fallback: 8080, doc: 'API port' },
  GRIDSTREAM_MQTT_URL: {
    key: 'mqttUrl',
    kind: 'string',
    fallback: undefined,
    doc: 'external broker; unset = embedded broker',
  },
  GRIDSTREAM_MQTT_CLIENT_ID: {
    key: 'mqttClientId',
    kind: 'string',
    fallback: 'gridstream-ingest',
    doc: "MQTT client id of the bridge's subscription to an external broker: stable, so a restarted bridge resumes its persistent session and gets what arrived meanwhile",
  },
  GRIDSTREAM_MQTT_PORT: { key: 'mqttPort', kind: 'port', fallback: 1883, doc: 'embedded broker port' },
  GRIDSTREAM_MQTT_HOST: {
    key: 'mqttHost',
    kind: 'string',
    fallback: '127.0.0.1',
    doc: 'address the embedded broker listens on; `0.0.0.0` for every interface ([MQTT security](../security/mqtt.md))',
  },
  GRIDSTREAM_MQTT_USERS: {
    key: 'mqttUsers',
    kind: 'string',
    fallback: undefined,
    doc: "embedded broker's head-end accounts, comma-separated `user:password`: they publish for every meter (devices: `gridstream mqtt add-user`)",
    defaultDoc: 'none',
  },
  GRIDSTREAM_MQTT_TLS_CERT: {
    key: 'mqttTlsCert',
    kind: 'string',
    fallback: undefined,
    doc: 'PEM certificate (chain) file: the embedded broker speaks MQTT over TLS only (`mqtts://`); with `GRIDSTREAM_MQTT_TLS_KEY`',
    defaultDoc: 'plain TCP',
  },
  GRIDSTREAM_MQTT_TLS_KEY: {
    key: 'mqttTlsKey',
    kind: 'string',
    fallback: undefined,
    doc: "PEM private key file of `GRIDSTREAM_MQTT_TLS_CERT`'s certificate",
  },
  GRIDSTREAM_KAFKA_BROKERS: {
    key: 'kafkaBrokers',
    kind: 'string',
    fallback: undefined,
    doc: 'Kafka bootstrap servers, e.g. `localhost:9092`; unset = in-process log',
  },
  GRIDSTREAM_KAFKA_MAX_POLL_INTERVAL_MS: {
    key: 'kafkaMaxPollIntervalMs',
    kind: 'count',
    fallback: undefined,
    doc: 'how long a Kafka consumer may go without polling before its partitions move to other members (ms, at least 10000)',
    defaultDoc: "librdkafka's 300000",
  },
  GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: {
    key: 'kafkaSecurityProtocol',
    kind: 'string',
    fallback: 'plaintext',
    choices: KAFKA_SECURITY_PROTOCOLS,
    doc: `how the Kafka clients reach the brokers: ${codeList(KAFKA_SECURITY_PROTOCOLS)} ([more](../security/kafka.md))`,
  },
  GRIDSTREAM_KAFKA_SASL_MECHANISM: {
    key: 'kafkaSaslMechanism',
    kind: 'string',
    fallback: undefined,
    choices: KAFKA_SASL_MECHANISMS,
    doc: `Kafka SASL mechanism: ${codeList(KAFKA_SASL_MECHANISMS)}; required with \`sasl_*\``,
  },
  GRIDSTREAM_KAFKA_SASL_USERNAME: {
    key: 'kafkaSaslUsername',
    kind: 'string',
    fallback: undefined,
    doc: 'Kafka SASL user; required with `sasl_*`',
  },
  GRIDSTREAM_KAFKA_SASL_PASSWORD: {
    key: 'kafkaSaslPassword',
    kind: 'string',
    fallback: undefined,
    doc: 'its password; required with `sasl_*`; never printed',
  },
  GRIDSTREAM_KAFKA_SSL_CA: {
    key: 'kafkaSslCa',
    kind: 'string',
    fallback: undefined,
    doc: "PEM file of the CA certificates the Kafka brokers' certificates are verified against (`ssl`, `sasl_ssl`)",
    defaultDoc: "the system's CAs",
  },
  GRIDSTREAM_KAFKA_SSL_CERT: {
    key: 'kafkaSslCert',
    kind: 'string',
    fallback: undefined,
    doc: 'PEM client certificate (chain) file for brokers that authenticate clients by TLS; with `GRIDSTREAM_KAFKA_SSL_KEY`',
  },
  GRIDSTREAM_KAFKA_SSL_KEY: {
    key: 'kafkaSslKey',
    kind: 'string',
    fallback: undefined,
    doc: 'PEM private key file (unencrypted) of `GRIDSTREAM_KAFKA_SSL_CERT` (both or neither)',
  },
  GRIDSTREAM_CLICKHOUSE_URL: {
    key: 'clickhouseUrl',
    kind: 'string',
    fallback: undefined,
    doc: 'ClickHouse server, e.g. `http://user:pass@host:8123/gridstream`; unset = embedded engine',
  },
  GRIDSTREAM_DATA_DIR: {
    key: 'dataDir',
    kind: 'string',
    fallback: './data',
    doc: "data directory: the embedded ClickHouse in `<dir>/clickhouse`, the in-process log in `<dir>/log`, API exports in `<dir>/exports`, the embedded broker's device accounts in `<dir>/mqtt/passwd`",
  },
  GRIDSTREAM_API_KEYS: {
    key: 'apiKeys',
    kind: 'string',
    fallback: undefined,
    doc: 'comma-separated `key` or `key:tenant`, each key at least 32 characters (`openssl rand -hex 32`); unset = one generated key, printed at start',
  },
  GRIDSTREAM_ALLOWED_LATENESS_S: {
    key: 'allowedLatenessS',
    kind: 'positive',
    fallback: 300,
    doc: "event-time lateness after a slot's end before it is closed as final",
  },
  GRIDSTREAM_REVISION_HORIZON_H: {
    key: 'revisionHorizonH',
    kind: 'positive',
    fallback: 24,
    doc: "how long after a slot's end late readings still revise it",
  },
  GRIDSTREAM_RESIDENT_SLOTS_H: {
    key: 'residentSlotsH',
    kind: 'positive',
    fallback: 1,
    doc: "how long after a slot's end the processor keeps its readings in memory; a late reading for an older slot (within the revision horizon) rebuilds it from the warehouse's readings",
  },
  GRIDSTREAM_RETENTION_DAYS: {
    key: 'retentionDays',
    kind: 'positive',
    fallback: 395,
    doc: 'retention of time series in the warehouse (TTL)',
    defaultDoc: '13 months',
  },
  GRIDSTREAM_PARTITIONS: {
    key: 'partitions',
    kind: 'count',
    fallback: 8,
    doc: 'partitions of the keyed log topics',
  },
  GRIDSTREAM_IMPEDANCE_ALERT_MOHM: {
    key: 'impedanceAlertMohm',
    kind: 'positive',
    fallback: 800,
    doc: 'daily median service-drop impedance (milliohm) at which a meter leg is flagged',
  },
  GRIDSTREAM_API_RATE_LIMIT: {
    key: 'apiRateLimit',
    kind: 'positive',
    fallback: 25,
    doc: 'requests per second each API key may make, sustained (429 `rate_limited` with `Retry-After` above it)',
  },
  GRIDSTREAM_API_RATE_BURST: {
    key: 'apiRateBurst',
    kind: 'count',
    fallback: 25,
    doc: 'requests an API key may make in a burst, within the sustained rate',
  },
  GRIDSTREAM_API_MAX_CONCURRENT: {
    key: 'apiMaxConcurrent',
    kind: 'count',
    fallback: 15,
    doc: 'requests an API key may have in flight at once (429 `concurrency_limited` with `Retry-After` above it)',
  },
  GRIDSTREAM_API_PIECE_CACHE_BYTES: {
    key: 'apiPieceCacheBytes',
    kind: 'whole',
    fallback: 32 * 1024 * 1024,
    doc: 'bytes of load-profile pieces (one a DT-day, ~8 KB) an API instance keeps for the DT-days asked most recently, each served only while still current; 0 keeps none (`gridstream_api_piece_cache_total` counts hits)',
    defaultDoc: '32 MiB',
  },
  GRIDSTREAM_WEBHOOK_MAX_ATTEMPTS: {
    key: 'webhookMaxAttempts',
    kind: 'count',
    fallback: 8,
    doc: 'attempts at delivering a webhook event to a subscription, the first included',
  },
  GRIDSTREAM_WEBHOOK_BACKOFF_MS: {
    key: 'webhookBackoffMs',
    kind: 'positive',
    fallback: 1000,
    doc: "delay before a webhook's second attempt, ms; each later one waits 4 × longer (at most an hour)",
  },
  GRIDSTREAM_WEBHOOK_ALLOW: {
    key: 'webhookAllow',
    kind: 'string',
    fallback: undefined,
    doc: 'comma-separated CIDRs, addresses and host names (`*.corp.example`) webhooks may reach though not public ([more](../security/webhooks.md))',
    defaultDoc: 'public receivers only',
  },
  GRIDSTREAM_STRESS_ALERT_PROBABILITY: {
    key: 'stressAlertProbability',
    kind: 'probability',
    fallback: 0.5,
    doc: 'forecast thermal or voltage stress probability that fires `STRESS.ALERT` (re-armed below 0.6 × it)',
  },
  GRIDSTREAM_EVENT_BASELINE: {
    key: 'eventBaseline',
    kind: 'string',
    fallback: 'high-4-of-5',
    choices: EVENT_BASELINES,
    doc: 'baseline methodology of a flexibility event that names none ([methods](../methods/baselines.md))',
  },
  GRIDSTREAM_EVENT_STATS_DELAY_S: {
    key: 'eventStatsDelayS',
    kind: 'whole',
    fallback: 0,
    doc: "seconds of stream time after a flexibility event's end before its delivered flexibility is computed (readings later than that are not counted)",
  },
  GRIDSTREAM_HEAP_GROWTH_PCT: {
    key: 'heapGrowthPct',
    kind: 'whole',
    fallback: undefined,
    doc: "growth (%) of the JavaScript heap's old generation before V8 collects it: lower holds less memory for more CPU; 0 = V8's own (see [distributed mode](distributed-mode.md))",
    defaultDoc: `${PROCESSOR_HEAP_GROWTH_PCT} where the processor role runs, else V8's own`,
  },
  GRIDSTREAM_LOG_LEVEL: {
    key: 'logLevel',
    kind: 'string',
    fallback: 'info',
    choices: LOG_LEVELS,
    doc: `level of the JSON log on stdout: ${LOG_LEVELS.join(', ')} (info: refused requests too; warn: only failures)`,
  },
  GRIDSTREAM_HTTP_TLS_CERT: {
    key: 'httpTlsCert',
    kind: 'string',
    fallback: undefined,
    doc: 'PEM certificate (chain) file of the API; with `GRIDSTREAM_HTTP_TLS_KEY` the API serves HTTPS only',
    defaultDoc: 'plain HTTP',
  },
  GRIDSTREAM_HTTP_TLS_KEY: {
    key: 'httpTlsKey',
    kind: 'string',
    fallback: undefined,
    doc: 'PEM private key file of `GRIDSTREAM_HTTP_TLS_CERT` (both or neither)',
  },
  GRIDSTREAM_API_AUTH_FAILURE_RATE: {
    key: 'apiAuthFailureRate',
    kind: 'positive',
    fallback: 1,
    doc: 'failed authentications (missing or invalid `X-API-Key`) per second a client address may make, sustained; above it every request from it is a 429 with `Retry-After`',
  },
  GRIDSTREAM_API_AUTH_FAILURE_BURST: {
    key: 'apiAuthFailureBurst',
    kind: 'count',
    fallback: 20,
    doc: 'failed authentications a client address may make at once',
  },
  GRIDSTREAM_TOPOLOGY_MAX_BYTES: {
    key: 'topologyMaxBytes',
    kind: 'count',
    fallback: 64 * 1024 * 1024,
    doc: 'largest `POST /v1/topology` body, bytes (413 above it)',
    defaultDoc: '64 MiB',
  },
  GRIDSTREAM_CONSUMPTION_RATE_LIMIT: {
    key: 'consumptionRateLimit',
    kind: 'positive',
    fallback: 1,
    doc: '`POST /v1/energy-consumption` requests per second each API key may make, per API instance (429 with `Retry-After` above it)',
  },
  GRIDSTREAM_CONSUMPTION_CONCURRENCY: {
    key: 'consumptionConcurrency',
    kind: 'count',
    fallback: 1,
    doc: '`POST /v1/energy-consumption` requests each API key may have in progress at once, per API instance (429 above it)',
  },
  GRIDSTREAM_CONSUMPTION_MAX_BYTES: {
    key: 'consumptionMaxBytes',
    kind: 'count',
    fallback: 32 * 1024 * 1024,
    doc: 'largest `POST /v1/energy-consumption` body, bytes (413 above it): 50,000 readings with three legs each take about 11 MB as compact JSON',
    defaultDoc: '32 MiB',
  },
  GRIDSTREAM_EXPORT_MAX_JOBS: {
    key: 'exportMaxJobs',
    kind: 'count',
    fallback: 2,
    doc: 'impedance exports a tenant may have queued or running at once (429 above it)',
  },
  GRIDSTREAM_EXPORT_MAX_BYTES: {
    key: 'exportMaxBytes',
    kind: 'count',
    fallback: 10 * 1024 ** 3,
    doc: 'bytes of finished export files a tenant may keep; at or above it its new exports are a 429 until some expire',
    defaultDoc: '10 GiB',
  },
  GRIDSTREAM_EXPORT_TTL_S: {
    key: 'exportTtlS',
    kind: 'positive',
    fallback: 86_400,
    doc: 'seconds an export (its status and file) is kept after it finishes; then its file is deleted',
    defaultDoc: '24 h',
  },
  GRIDSTREAM_TIMEZONE: {
    key: 'timeZone',
    kind: 'string',
    fallback: undefined,
    doc: "IANA time zone (e.g. `Asia/Kolkata`) of the DTs whose topology row names none: the API reads their schedules and local windows in it, the pipeline their day types and local slots (load patterns, stress classes); a topology's `timezone` and a request's `timezone` go first",
    defaultDoc: "the zone at each DT's coordinates",
  },
};

/**
 * A variable's default as the reference says it: the fallback (a string one through `code`), with its gloss
 * if it has one, or "unset" and what that does.
 */
export function describeDefault(variable: Variable, code: (text: string) => string = (text) => text): string {
  const { fallback, defaultDoc } = variable;
  if (fallback === undefined) return defaultDoc === undefined ? 'unset' : `unset: ${defaultDoc}`;
  const value = typeof fallback === 'string' ? code(fallback) : String(fallback);
  return defaultDoc === undefined ? value : `${value} (${defaultDoc})`;
}

/**
 * A `doc` for a terminal: a markdown link becomes its text and where it points, a relative one as a path from
 * the package root (the links are relative to docs/operations/, where the reference is).
 */
export function plainDoc(doc: string): string {
  return doc.replace(/\[([^\]]*)\]\(([^)\s]+)\)/g, (_, text: string, target: string) =>
    /^[a-z]+:/i.test(target) ? `${text}: ${target}` : `${text}: ${posix.join('docs/operations', target)}`,
  );
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, configFile?: string): GridstreamConfig {
  let file: Record<string, unknown> = {};
  if (configFile) {
    try {
      file = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`config file ${configFile}: ${(error as Error).message}`);
    }
    if (file === null || typeof file !== 'object' || Array.isArray(file))
      throw new ConfigError(`config file ${configFile}: expected a JSON object of GRIDSTREAM_* settings`);
    for (const name of Object.keys(file)) {
      if (!(name in VARIABLES))
        throw new ConfigError(
          `config file ${configFile}: unknown setting ${name} (known: ${Object.keys(VARIABLES).join(', ')})`,
        );
    }
  }
  const config: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(VARIABLES)) {
    const raw = env[name] ?? (file[name] === undefined ? undefined : String(file[name]));
    config[variable.key] = raw === undefined || raw === '' ? variable.fallback : parse(name, variable, raw);
  }
  const result = config as unknown as GridstreamConfig;
  for (const [a, b] of TOGETHER)
    if ((result[VARIABLES[a]!.key] === undefined) !== (result[VARIABLES[b]!.key] === undefined))
      throw new ConfigError(`${a} and ${b} go together: set both or neither`);
  if (result.timeZone !== undefined && !isTimeZone(result.timeZone))
    throw new ConfigError(`GRIDSTREAM_TIMEZONE: ${JSON.stringify(result.timeZone)} is not an IANA time zone`);
  result.dataDir = resolve(result.dataDir);
  const kafkaProblem = kafkaSecurityProblem(result);
  if (kafkaProblem) throw new ConfigError(kafkaProblem);
  return result;
}

/** Variables that mean something only as a pair (a certificate and its key). */
const TOGETHER: ReadonlyArray<readonly [string, string]> = [
  ['GRIDSTREAM_MQTT_TLS_CERT', 'GRIDSTREAM_MQTT_TLS_KEY'],
  ['GRIDSTREAM_HTTP_TLS_CERT', 'GRIDSTREAM_HTTP_TLS_KEY'],
  ['GRIDSTREAM_KAFKA_SSL_CERT', 'GRIDSTREAM_KAFKA_SSL_KEY'],
];

function parse(name: string, variable: Variable, raw: string): string | number {
  if (variable.kind === 'string') {
    if (variable.choices && !variable.choices.includes(raw))
      throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not one of ${variable.choices.join(', ')}`);
    return raw;
  }
  const value = Number(raw);
  if (variable.kind === 'port' && !(Number.isInteger(value) && value >= 0 && value <= 65535))
    throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not a port number (0-65535)`);
  if (variable.kind === 'count' && !(Number.isInteger(value) && value > 0))
    throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not a whole number above 0`);
  if (variable.kind === 'whole' && !(Number.isInteger(value) && value >= 0))
    throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not a whole number (0 or more)`);
  if (variable.kind === 'positive' && !(value > 0))
    throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not a positive number`);
  if (variable.kind === 'probability' && !(value > 0 && value <= 1))
    throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not a probability (above 0, at most 1)`);
  return value;
}
