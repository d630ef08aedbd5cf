import { afterAll, beforeAll, describe, it } from 'vitest';
import { checkFlexRun, runFlexScenario, type FlexRun } from '../support/flex-scenario.js';
import { startKafka, type TestKafka } from '../support/kafka.js';
import { startTestGridstream } from '../support/test-gridstream.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;

describe('a flexibility event on simulated batteries, on Apache Kafka', () => {
  let kafka: TestKafka;
  let g: Running;
  let run: FlexRun;

  beforeAll(async () => {
    kafka = await startKafka();
    g = await startTestGridstream({ kafkaBrokers: kafka.brokers, webhookAllow: '127.0.0.1' });
    run = await runFlexScenario(g);
  }, 500_000);
  afterAll(async () => {
    await run?.close();
    await g?.stop();
    await kafka?.destroy();
  });

  it('goes through every step in order on the log and as webhooks, issues baselines before the start, and delivers within 10 % of the truth', async () => {
    await checkFlexRun(g, run, 0.1);
  });
});
