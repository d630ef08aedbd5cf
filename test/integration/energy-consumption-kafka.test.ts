import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode } from '../../core/codec.js';
import type { LogRecord } from '../../io/log/log.js';
import { TOPICS } from '../../pipelines/log-topics.js';
import { publishTopology } from '../../pipelines/topology-table.js';
import { startKafka, type TestKafka } from '../support/kafka.js';
import { startTestGridstream, TEST_API_KEY } from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

/**
 * Distributed mode: a process of the api role alone (no bridge, no processor) takes the bulk import and puts
 * the readings on Kafka's readings topic itself (its producer waits for the broker's acks before it answers).
 */
describe('POST /v1/energy-consumption on the api role alone, on Kafka', () => {
  let kafka: TestKafka;
  let g: Awaited<ReturnType<typeof startTestGridstream>>;

  beforeAll(async () => {
    kafka = await startKafka();
    g = await startTestGridstream({ kafkaBrokers: kafka.brokers }, ['api']);
    // No processor writes the topology to the warehouse here: it goes onto the log, which the api role reads.
    await publishTopology(
      g.edges.log,
      {
        transformers: [transformer('dt-a'), transformer('dt-b')],
        meters: [meter('m-1', 'dt-a'), meter('m-2', 'dt-b')],
      },
      1,
    );
    await g.pipeline.topology.waitForVersion(1);
  }, 300_000);
  afterAll(async () => {
    await g?.stop();
    await kafka?.destroy();
  });

  it("answers 202, and the readings are on Kafka's readings topic keyed by their DTs", async () => {
    const ts = Date.now() - 3_600_000;
    const response = await fetch(`${g.url}/v1/energy-consumption`, {
      method: 'POST',
      headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({
        records: [
          { meter_id: 'm-1', ts, p_kw: 1.5, legs: [{ leg: 1, v: 230, i: 6.5 }] },
          { meter_id: 'm-2', ts, p_kw: -0.5, legs: [] },
          { meter_id: 'm-2', ts: ts + 60_000, p_kw: -0.25, legs: [] },
        ],
      }),
    });
    expect(response.status).toBe(202);
    expect(((await response.json()) as { accepted: number }).accepted).toBe(3);

    const consumer = g.edges.log.consumer({
      group: 'energy-consumption-test',
      topics: [TOPICS.readings.name],
      fromBeginning: true,
    });
    const records: LogRecord[] = [];
    const deadline = Date.now() + 30_000;
    while (records.length < 2 && Date.now() < deadline) records.push(...(await consumer.poll(100, 500)));
    await consumer.close();
    const onTopic = records
      .map((r) => ({
        key: r.key,
        readings: decode('MeterReadings', r.value).readings.map((x) => [x.meter_id, x.dt_id, x.ts, x.p_kw]),
      }))
      .sort((a, b) => a.key.localeCompare(b.key));
    expect(onTopic).toEqual([
      { key: 'dt-a', readings: [['m-1', 'dt-a', ts, 1.5]] },
      {
        key: 'dt-b',
        readings: [
          ['m-2', 'dt-b', ts, -0.5],
          ['m-2', 'dt-b', ts + 60_000, -0.25],
        ],
      },
    ]);
  }, 60_000);
});
