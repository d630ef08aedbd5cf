import { afterAll, beforeAll } from 'vitest';
import { KafkaLog } from '../../io/log/kafka-log.js';
import { startKafka, type TestKafka } from '../support/kafka.js';
import { describeLogContract } from '../support/log-contract.js';

/** The Log contract on a real broker: one Kafka for the file, a log client per test. */
let kafka: TestKafka;
beforeAll(async () => {
  kafka = await startKafka();
}, 180_000);
afterAll(async () => {
  await kafka?.destroy();
});

describeLogContract('Kafka (real broker)', {
  open: async () => new KafkaLog({ brokers: kafka.brokers }),
  close: (log) => log.close(),
});
