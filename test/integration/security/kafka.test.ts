import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkaJs from '@confluentinc/kafka-javascript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../core/config.js';
import { kafkaClientConfig } from '../../../core/kafka-config.js';
import { KafkaLog } from '../../../io/log/kafka-log.js';
import type { LogRecord } from '../../../io/log/log.js';
import { TOPICS } from '../../../pipelines/log-topics.js';
import { runSimulate, simulateTopology } from '../../../simulator/command.js';
import { startTestGridstream, testMqttUrl } from '../../support/test-gridstream.js';
import { selfSignedCertificate, startKafka, type TestKafka } from '../../support/kafka.js';
import { startRole } from '../../support/role-process.js';

/**
 * Reaching Kafka the way a utility runs it: a broker whose listeners want SASL (PLAIN or SCRAM) or TLS. The
 * broker is real (KRaft, infra/kafka/start.sh) with a PLAINTEXT listener for the test's own checks and
 * SASL_PLAINTEXT, SSL and SASL_SSL listeners for gridstream. Every client is configured as at start: the
 * GRIDSTREAM_KAFKA_* environment through loadConfig and kafkaClientConfig. The attacks: a wrong password, no
 * credentials at all, a broker certificate the client does not trust or that names another host. Each is
 * refused, fails the start within seconds with the broker's or the TLS library's reason, and gets nothing
 * onto the broker.
 */
const PASSWORD = 'gridstream-kafka-secret';
const WRONG_PASSWORD = 'guessed-password-0000';
const REFUSED_WITHIN_MS = 10_000;

let kafka: TestKafka;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gridstream-kafka-security-'));
  kafka = await startKafka({ saslUsers: { gridstream: PASSWORD }, tls: { clientAuth: true } });
}, 180_000);
afterAll(async () => {
  await kafka?.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A Kafka log configured from a GRIDSTREAM_KAFKA_* environment, as gridstream's start does. */
function logFor(env: Record<string, string>): KafkaLog {
  const config = loadConfig(env);
  return new KafkaLog({ brokers: config.kafkaBrokers!, config: kafkaClientConfig(config) });
}

const sasl = (mechanism: string, password = PASSWORD) => ({
  GRIDSTREAM_KAFKA_BROKERS: kafka.listeners.SASL_PLAINTEXT!,
  GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext',
  GRIDSTREAM_KAFKA_SASL_MECHANISM: mechanism,
  GRIDSTREAM_KAFKA_SASL_USERNAME: 'gridstream',
  GRIDSTREAM_KAFKA_SASL_PASSWORD: password,
});

let sequence = 0;
const topicName = (what: string) => `security.${what}.${process.pid}.${++sequence}`;

/** The topics on the broker, read through its PLAINTEXT listener. */
async function brokerTopics(): Promise<string[]> {
  const client = new kafkaJs.RdKafka.Producer({ 'bootstrap.servers': kafka.brokers } as never);
  const metadata = await new Promise<kafkaJs.RdKafka.Metadata>((resolve, reject) =>
    client.connect({ timeout: 30_000, allTopics: true } as never, (error, data) =>
      error ? reject(error) : resolve(data),
    ),
  );
  await new Promise<void>((resolve) => client.disconnect(() => resolve()));
  return metadata.topics.map((t) => t.name);
}

/** Creates a topic, sends three records and reads them back in a consumer group: the whole path works. */
async function roundTrip(log: KafkaLog, what: string): Promise<void> {
  const topic = topicName(what);
  try {
    await log.ensureTopics([{ name: topic, partitions: 1 }]);
    const sent = ['a', 'b', 'c'].map((v) => ({ key: 'dt-0001', value: Buffer.from(`${what}:${v}`) }));
    await log.producer().send(topic, sent);
    const consumer = log.consumer({ group: `security-${what}`, topics: [topic], fromBeginning: true });
    const got: LogRecord[] = [];
    const deadline = Date.now() + 30_000;
    while (got.length < sent.length && Date.now() < deadline) got.push(...(await consumer.poll(10, 500)));
    await consumer.commit(got);
    expect(got.map((r) => r.value.toString())).toEqual(sent.map((r) => r.value.toString()));
    expect(await consumer.committed({ topic, partition: 0 })).toBe(3);
  } finally {
    await log.close();
  }
}

/** The error a log's start (ensureTopics) fails with, and how long it took. */
async function refusedStart(log: KafkaLog, topic: string): Promise<{ message: string; ms: number }> {
  const started = Date.now();
  try {
    await log.ensureTopics([{ name: topic, partitions: 1 }]);
  } catch (error) {
    return { message: (error as Error).message, ms: Date.now() - started };
  } finally {
    await log.close();
  }
  throw new Error('expected the start to be refused');
}

describe('Kafka over SASL', () => {
  it.each(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'])(
    'produces and consumes through the SASL_PLAINTEXT listener with %s and the right password',
    async (mechanism) => {
      await roundTrip(logFor(sasl(mechanism)), mechanism.toLowerCase());
    },
    60_000,
  );

  it.each(['PLAIN', 'SCRAM-SHA-256'])(
    'refuses a wrong %s password: the start fails within seconds with the broker’s reason, nothing is created',
    async (mechanism) => {
      const topic = topicName('wrong-password');
      const { message, ms } = await refusedStart(logFor(sasl(mechanism, WRONG_PASSWORD)), topic);
      expect(message).toMatch(/SASL authentication error: Authentication failed/);
      expect(message).toContain('GRIDSTREAM_KAFKA_SECURITY_PROTOCOL');
      expect(message).not.toContain(WRONG_PASSWORD);
      expect(ms).toBeLessThan(REFUSED_WITHIN_MS);
      expect(await brokerTopics()).not.toContain(topic);
    },
    60_000,
  );

  it('refuses a client without credentials at the SASL-only listener, pointing at the security settings', async () => {
    const topic = topicName('no-credentials');
    const { message, ms } = await refusedStart(
      logFor({ GRIDSTREAM_KAFKA_BROKERS: kafka.listeners.SASL_PLAINTEXT! }),
      topic,
    );
    expect(message).toMatch(
      /Disconnected: connection closed by peer.*check GRIDSTREAM_KAFKA_SECURITY_PROTOCOL/,
    );
    expect(ms).toBeLessThan(REFUSED_WITHIN_MS);
    expect(await brokerTopics()).not.toContain(topic);
  }, 60_000);

  it('refuses a user the broker does not know (SCRAM)', async () => {
    const topic = topicName('unknown-user');
    const { message } = await refusedStart(
      logFor({ ...sasl('SCRAM-SHA-512'), GRIDSTREAM_KAFKA_SASL_USERNAME: 'mallory' }),
      topic,
    );
    expect(message).toMatch(/SASL authentication error/);
    expect(await brokerTopics()).not.toContain(topic);
  }, 60_000);
});

describe('Kafka over TLS', () => {
  const tls = (listener: string) => ({
    GRIDSTREAM_KAFKA_BROKERS: listener,
    GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'ssl',
    GRIDSTREAM_KAFKA_SSL_CA: kafka.caFile!,
  });
  /** The SSL listener wants a client certificate (the SASL_SSL one does not). */
  const mutualTls = () => ({
    ...tls(kafka.listeners.SSL!),
    GRIDSTREAM_KAFKA_SSL_CERT: kafka.clientCertFile!,
    GRIDSTREAM_KAFKA_SSL_KEY: kafka.clientKeyFile!,
  });

  it('produces and consumes over SSL with a client certificate, the broker’s verified against GRIDSTREAM_KAFKA_SSL_CA', async () => {
    await roundTrip(logFor(mutualTls()), 'ssl');
  }, 60_000);

  it('refuses a client without a certificate at the listener that requires one', async () => {
    const topic = topicName('no-client-certificate');
    const { message, ms } = await refusedStart(logFor(tls(kafka.listeners.SSL!)), topic);
    expect(message).toMatch(/alert bad certificate.*check GRIDSTREAM_KAFKA_SECURITY_PROTOCOL/);
    expect(ms).toBeLessThan(REFUSED_WITHIN_MS);
    expect(await brokerTopics()).not.toContain(topic);
  }, 60_000);

  it('refuses a client certificate the broker does not trust (self-signed by an impostor)', async () => {
    const impostor = await selfSignedCertificate(dataDir, 'impostor', '/CN=gridstream');
    const topic = topicName('impostor-certificate');
    const { message, ms } = await refusedStart(
      logFor({
        ...mutualTls(),
        GRIDSTREAM_KAFKA_SSL_CERT: impostor.cert,
        GRIDSTREAM_KAFKA_SSL_KEY: impostor.key,
      }),
      topic,
    );
    expect(message).toMatch(/alert certificate unknown.*check GRIDSTREAM_KAFKA_SECURITY_PROTOCOL/);
    expect(ms).toBeLessThan(REFUSED_WITHIN_MS);
    expect(await brokerTopics()).not.toContain(topic);
  }, 60_000);

  it('produces and consumes over SASL_SSL with SCRAM-SHA-512', async () => {
    await roundTrip(
      logFor({
        ...sasl('SCRAM-SHA-512'),
        ...tls(kafka.listeners.SASL_SSL!),
        GRIDSTREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      }),
      'sasl-ssl',
    );
  }, 60_000);

  it('refuses a broker whose certificate no trusted CA signed (an impostor with a self-signed certificate)', async () => {
    // Without GRIDSTREAM_KAFKA_SSL_CA the system's CAs decide, and none of them signed the test broker's.
    const { GRIDSTREAM_KAFKA_SSL_CA: _ca, ...untrusting } = mutualTls();
    const topic = topicName('untrusted');
    const { message, ms } = await refusedStart(logFor(untrusting), topic);
    expect(message).toMatch(/SSL handshake failed: .*certificate verify failed/);
    expect(ms).toBeLessThan(REFUSED_WITHIN_MS);
    expect(await brokerTopics()).not.toContain(topic);
  }, 60_000);

  it('refuses a trusted certificate that names another host than the one dialled', async () => {
    // The certificate is for 127.0.0.1; dialled as localhost it is a certificate for someone else.
    const asLocalhost = kafka.listeners.SSL!.replace('127.0.0.1', 'localhost');
    const { message } = await refusedStart(
      logFor({ ...mutualTls(), GRIDSTREAM_KAFKA_BROKERS: asLocalhost }),
      topicName('wrong-host'),
    );
    expect(message).toMatch(/SSL handshake failed: .*certificate verify failed/);
  }, 60_000);

  it('refuses plaintext at the SSL listener', async () => {
    const { message, ms } = await refusedStart(
      logFor({ GRIDSTREAM_KAFKA_BROKERS: kafka.listeners.SSL! }),
      topicName('plaintext-at-ssl'),
    );
    expect(message).toMatch(
      /Disconnected: connection closed by peer.*check GRIDSTREAM_KAFKA_SECURITY_PROTOCOL/,
    );
    expect(ms).toBeLessThan(REFUSED_WITHIN_MS);
  }, 60_000);
});

describe('the whole pipeline over SASL_SSL', () => {
  it('takes simulated meters’ readings from MQTT through Kafka (SCRAM-SHA-512 over TLS) into the warehouse, each once', async () => {
    const g = await startTestGridstream({
      kafkaBrokers: kafka.listeners.SASL_SSL!,
      kafkaSecurityProtocol: 'sasl_ssl',
      kafkaSaslMechanism: 'SCRAM-SHA-512',
      kafkaSaslUsername: 'gridstream',
      kafkaSaslPassword: PASSWORD,
      kafkaSslCa: kafka.caFile!,
      partitions: 2,
    });
    try {
      expect(g.edges.log.kind).toBe('kafka');
      const options = { seed: 5, transformers: 1, meters: 5 };
      await g.pipeline.loadTopology(simulateTopology(options), 'kafka security');
      const start = Date.UTC(2026, 6, 1, 6);
      const { readings } = await runSimulate({
        ...options,
        mqttUrl: testMqttUrl(g),
        start,
        end: start + 2 * 3_600_000,
        now: start + 2 * 3_600_000,
      });
      await g.pipeline.settle(120_000);
      const [stored] = await g.edges.warehouse.query<{ n: string }>(
        'SELECT count() AS n FROM readings FINAL',
      );
      expect(readings).toBeGreaterThan(0);
      expect(Number(stored!.n)).toBe(readings);
    } finally {
      await g.stop();
    }
  }, 240_000);
});

describe('gridstream run --role processor on a SASL listener', () => {
  const env = (password: string) => ({
    ...sasl('SCRAM-SHA-256', password),
    GRIDSTREAM_DATA_DIR: join(dataDir, `processor-${++sequence}`),
    GRIDSTREAM_PARTITIONS: '2',
  });

  it('starts with the right credentials and creates the pipeline’s topics through the SASL listener', async () => {
    const processor = await startRole('processor', env(PASSWORD));
    try {
      expect(await brokerTopics()).toContain(TOPICS.readings.name);
      expect(processor.output()).not.toContain(PASSWORD);
    } finally {
      await processor.stop();
    }
  }, 120_000);

  it('stops at start with the authentication error on a wrong password, without printing it', async () => {
    const started = Date.now();
    const failure = await startRole('processor', env(WRONG_PASSWORD)).then(
      async (p) => {
        await p.stop();
        throw new Error('the processor started with a wrong password');
      },
      (error: Error) => error.message,
    );
    expect(failure).toMatch(/exited/);
    expect(failure).toMatch(
      /gridstream: Kafka 127\.0\.0\.1:\d+: cannot connect: .*SASL authentication error/,
    );
    expect(failure).not.toContain(WRONG_PASSWORD);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);
});
