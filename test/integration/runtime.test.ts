import mqtt from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGridstream } from '../../app/start-gridstream.js';
import { loadConfig, type GridstreamConfig } from '../../core/config.js';
import { startEmbeddedBroker } from '../../io/broker/broker.js';
import { openMqttAccounts } from '../../io/broker/mqtt-accounts.js';
import { TEST_MQTT_USERS, testMqttUrl, withTestMqttCredentials } from '../support/test-gridstream.js';
import { oneDt } from '../support/topology.js';

const topology = oneDt('dt-r', ['m-1', 'm-2']);

const SLOT = Date.UTC(2026, 6, 1, 10, 0);

async function publishMinutes(url: string, from: number, to: number) {
  const client = await mqtt.connectAsync(url);
  for (let m = from; m < to; m++)
    for (const [meter, kw] of [
      ['m-1', 3],
      ['m-2', 1],
    ] as const)
      await client.publishAsync(
        `gridstream/v1/meters/${meter}/telemetry`,
        JSON.stringify({ ts: SLOT + m * 60_000, p_kw: kw, legs: [{ leg: 1, v: 230, i: kw * 4.35 }] }),
        { qos: 1 },
      );
  await client.endAsync();
}

function testConfig(dataDir: string, overrides: Partial<GridstreamConfig> = {}): GridstreamConfig {
  return {
    ...loadConfig({}),
    dataDir,
    httpPort: 0,
    mqttPort: 0,
    apiKeys: 'runtime-test-key-0123456789abcdefghijkl',
    mqttUsers: TEST_MQTT_USERS,
    partitions: 2,
    ...overrides,
  };
}

describe('runtime', () => {
  const dirs: string[] = [];
  const newDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridstream-runtime-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('consumes from an external broker (GRIDSTREAM_MQTT_URL) over a QoS 1 subscription', async () => {
    // The consumer subscribes: a head-end account, the only kind that may.
    const external = await startEmbeddedBroker({
      port: 0,
      host: '127.0.0.1',
      accounts: await openMqttAccounts({ headEnd: TEST_MQTT_USERS, file: join(newDir(), 'passwd') }),
    });
    const url = withTestMqttCredentials(external.url);
    const g = await startGridstream(testConfig(newDir(), { mqttUrl: url }), { host: '127.0.0.1' });
    try {
      expect(g.edges.broker!.embedded).toBe(false);
      await g.pipeline.loadTopology(topology, 'test');
      await publishMinutes(url, 0, 5);
      await g.pipeline.settle();
      const [row] = await g.edges.warehouse.query<{ n: string }>('SELECT count() AS n FROM readings FINAL');
      expect(Number(row!.n)).toBe(10);
    } finally {
      await g.stop();
      await external.close();
    }
  });

  it('restores envelope state from the warehouse after a restart, so a slot split by the restart is whole', async () => {
    const dataDir = newDir();
    const first = await startGridstream(testConfig(dataDir), { host: '127.0.0.1' });
    await first.pipeline.loadTopology(topology, 'test');
    await publishMinutes(testMqttUrl(first), 0, 8);
    await first.pipeline.settle();
    await first.stop();

    // Same data directory: the topology comes back from the warehouse, the slot's readings too.
    const second = await startGridstream(testConfig(dataDir), { host: '127.0.0.1' });
    try {
      expect(second.pipeline.topology.index.dtOf('m-1')).toBe('dt-r');
      await publishMinutes(testMqttUrl(second), 8, 15);
      await second.pipeline.settle();
      const [slot] = await second.edges.warehouse.query<{
        readings: string;
        import_kwh: number;
        meters_reporting: string;
      }>(
        "SELECT readings, import_kwh, meters_reporting FROM envelopes FINAL WHERE dt_id = 'dt-r' AND slot_start = toDateTime64('2026-07-01 10:00:00', 3, 'UTC')",
      );
      expect(Number(slot!.readings)).toBe(30);
      expect(slot!.import_kwh).toBeCloseTo(1, 9); // (3 + 1) kW for a quarter hour
      expect(Number(slot!.meters_reporting)).toBe(2);
    } finally {
      await second.stop();
    }
  });
});
