import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startGridstream, type Gridstream } from '../../app/start-gridstream.js';
import { loadConfig, type GridstreamConfig } from '../../core/config.js';
import type { Role } from '../../pipelines/start-pipeline.js';
import { runSimulate, type SimulateOptions, type SimulateResult } from '../../simulator/command.js';

/** A key of the `default` tenant, which owns every DT whose topology names no tenant. */
export const TEST_API_KEY = 'test-key-0123456789abcdefghijklmnopqrstuv';
/** A key of another tenant, `utility-b`. */
export const OTHER_TENANT_KEY = 'other-tenant-key-9876543210zyxwvutsrqponm';

/** The head-end account of a test gridstream's embedded broker (GRIDSTREAM_MQTT_USERS). */
export const TEST_MQTT_USER = 'test-head-end';
export const TEST_MQTT_PASSWORD = 'test-head-end-password';

/** GRIDSTREAM_MQTT_USERS of a test gridstream: the test head-end account. */
export const TEST_MQTT_USERS = `${TEST_MQTT_USER}:${TEST_MQTT_PASSWORD}`;

/** A broker URL with the test head-end account's credentials in it. */
export function withTestMqttCredentials(brokerUrl: string): string {
  const url = new URL(brokerUrl);
  url.username = TEST_MQTT_USER;
  url.password = TEST_MQTT_PASSWORD;
  return url.toString();
}

/** The embedded broker's URL with the test head-end account's credentials in it, for publishers. */
export function testMqttUrl(gridstream: Pick<Gridstream, 'edges'>): string {
  return withTestMqttCredentials(gridstream.edges.broker!.url);
}

/**
 * The configuration of a test gridstream: free ports, the two test keys, the test head-end account, 4
 * partitions, data in `dataDir`.
 */
export function testConfig(dataDir: string, overrides: Partial<GridstreamConfig> = {}): GridstreamConfig {
  return {
    ...loadConfig({}),
    dataDir,
    httpPort: 0,
    mqttPort: 0,
    apiKeys: `${TEST_API_KEY},${OTHER_TENANT_KEY}:utility-b`,
    mqttUsers: TEST_MQTT_USERS,
    partitions: 4,
    // Refused requests are logged at info: tests make many on purpose.
    logLevel: 'warn',
    // Tests make requests as fast as they can; the per-key limits' own test sets them back to the defaults.
    apiRateLimit: 1000,
    apiRateBurst: 1000,
    apiMaxConcurrent: 100,
    ...overrides,
  };
}

/** A whole embedded gridstream on free ports with its own data directory, removed on stop. */
export async function startTestGridstream(
  overrides: Partial<GridstreamConfig> = {},
  roles?: readonly Role[],
  logStream?: NodeJS.WritableStream,
  consoleDir?: string,
): Promise<Gridstream & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-test-'));
  const gridstream = await startGridstream(testConfig(dataDir, overrides), {
    host: '127.0.0.1',
    roles,
    logStream,
    consoleDir,
  });
  return {
    ...gridstream,
    dataDir,
    async stop() {
      await gridstream.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Publishes a simulation to a test gridstream's broker as its head-end account, then waits until the pipeline
 * has processed and stored everything (at most `settleMs`).
 */
export async function simulateInto(
  gridstream: Pick<Gridstream, 'edges' | 'pipeline'>,
  options: Omit<SimulateOptions, 'mqttUrl'>,
  settleMs: number,
): Promise<SimulateResult> {
  const result = await runSimulate({ ...options, mqttUrl: testMqttUrl(gridstream) });
  await gridstream.pipeline.settle(settleMs);
  return result;
}

/** A request to a gridstream's API as `key` (null: without one), with `body` as JSON when one is given. */
export function apiCall(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  key: string | null = TEST_API_KEY,
): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(key === null ? {} : { 'x-api-key': key }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** A webhook subscription's delivery log, newest first, once it holds at least `rows` attempts (15 s at most). */
export async function webhookDeliveries(
  baseUrl: string,
  id: string,
  rows = 1,
  key = TEST_API_KEY,
): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const response = await apiCall(baseUrl, 'GET', `/v1/webhooks/${id}/deliveries`, undefined, key);
    expect(response.status).toBe(200);
    const log = ((await response.json()) as { deliveries: Array<Record<string, unknown>> }).deliveries;
    if (log.length >= rows || Date.now() > deadline) return log;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
