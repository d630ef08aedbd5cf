import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../../../io/warehouse/open.js';
import { sqlQuery } from '../../../io/warehouse/sql-files.js';
import type { Warehouse } from '../../../io/warehouse/warehouse.js';
import { verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from '../../../io/webhooks/signature.js';
import { saveSubscription } from '../../../io/webhooks/store.js';
import { telemetryTopic } from '../../../simulator/model.js';
import { launchChromium, screenshot } from '../../support/browser.js';
import { startClickHouseServer, type ClickHouseServer } from '../../support/clickhouse-server.js';
import { Fleet } from '../../support/fleet.js';
import { startReceiver, type Receiver, type ReceivedRequest } from '../../support/http-receiver.js';
import { startKafka, type TestKafka } from '../../support/kafka.js';
import { mosquittoInstalled, startMosquitto, type TestMosquitto } from '../../support/mosquitto.js';
import { urlOf, startRole, type RoleProcess } from '../../support/role-process.js';
import { meter, transformer } from '../../support/topology.js';

/**
 * The attacks of the other security tests, made against gridstream as it runs in production: `gridstream run
 * --role bridge,api` and `--role processor` as separate processes on Mosquitto, Kafka and a ClickHouse server.
 * Tenant utility-a owns a small simulated fleet (its DTs rated far below their load, so every slot breaks its
 * envelope and raises an ENVELOPE.VIOLATION webhook); tenant utility-b owns one DT. A listening server on
 * 127.0.0.1 stands for an internal service: no role may reach it until the operator allows it.
 *
 * The tests run in order on the one set-up: the webhook tests restart the processor between their phases, and
 * the MQTT test publishes after the fleet's last reading.
 */
const START = Date.UTC(2026, 6, 1, 8);
const HOURS = 2;
const END = START + HOURS * 3_600_000;
const KEY_A = `utility-a-${randomBytes(20).toString('hex')}`;
const KEY_B = `utility-b-${randomBytes(20).toString('hex')}`;
const INGEST_PASSWORD = `ingest-${randomBytes(12).toString('hex')}`;
const WEBHOOK_SECRET = `whsec_${randomBytes(16).toString('hex')}`;
const WEBHOOK_ID = '00000000-0000-4000-8000-00000000d157';

/** GET with node's own client, from a chosen source address (any 127.0.0.0/8 address is loopback on Linux). */
function getFrom(
  url: string,
  key: string,
  localAddress: string,
): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers: { 'x-api-key': key }, localAddress, agent: false }, (r) => {
      r.resume();
      r.on('end', () =>
        resolve({ status: r.statusCode!, retryAfter: r.headers['retry-after'] as string | undefined }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

interface Delivery {
  event_id: string;
  event_type: string;
  attempt: number;
  outcome: string;
  http_status: number;
  error: string;
  next_attempt_at: string | null;
}

describe.skipIf(!mosquittoInstalled())(
  'security: the distributed roles on Mosquitto, Kafka and ClickHouse',
  () => {
    let clickhouse: ClickHouseServer;
    let kafka: TestKafka;
    let mosquitto: TestMosquitto;
    let warehouse: Warehouse;
    let dataDir: string;
    let env: Record<string, string>;
    /** Every role process started, stopped ones included: their output is checked for secrets at the end. */
    const roles: RoleProcess[] = [];
    let processor: RoleProcess;
    let api: string;
    /** An internal service on loopback, and the webhook receiver once the operator allows 127.0.0.1. */
    let internal: Receiver;
    let internalPort = 0;
    let received: ReceivedRequest[] = [];
    const guessedKeys: string[] = [];
    const fleet = new Fleet({ seed: 7, transformers: 2, meters: 6, start: START, end: END });
    const dtA = fleet.sim.topology.transformers[0]!.dt_id;
    const meterA = fleet.sim.topology.meters[0]!.meter_id;

    const call = (method: string, path: string, key: string, body?: unknown) =>
      fetch(`${api}${path}`, {
        method,
        headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const deliveries = async (): Promise<Delivery[]> => {
      const response = await call('GET', `/v1/webhooks/${WEBHOOK_ID}/deliveries?limit=1000`, KEY_A);
      expect(response.status).toBe(200);
      return ((await response.json()) as { deliveries: Delivery[] }).deliveries;
    };
    const role = async (roleNames: string, extra: Record<string, string> = {}) => {
      const p = await startRole(roleNames, { ...env, ...extra });
      roles.push(p);
      return p;
    };

    beforeAll(async () => {
      internal = await startReceiver({ answer: 'INTERNAL-ONLY' });
      received = internal.received;
      internalPort = internal.port;

      [clickhouse, kafka, mosquitto] = await Promise.all([
        startClickHouseServer(),
        startKafka(),
        startMosquitto({ users: { 'gridstream-ingest': INGEST_PASSWORD, ...fleet.accounts() } }),
      ]);
      dataDir = mkdtempSync(join(tmpdir(), 'gridstream-security-distributed-'));
      const clickhouseUrl = `${clickhouse.url}/gridstream_security_${process.pid}`;
      env = {
        GRIDSTREAM_KAFKA_BROKERS: kafka.brokers,
        GRIDSTREAM_CLICKHOUSE_URL: clickhouseUrl,
        GRIDSTREAM_PARTITIONS: '2',
        GRIDSTREAM_API_KEYS: `${KEY_A}:utility-a,${KEY_B}:utility-b`,
        GRIDSTREAM_DATA_DIR: dataDir,
        GRIDSTREAM_MQTT_URL: mosquitto.urlFor('gridstream-ingest'),
        GRIDSTREAM_MQTT_CLIENT_ID: `ingest-security-${process.pid}`,
        GRIDSTREAM_STRESS_ALERT_PROBABILITY: '0.01',
      };
      // The processor migrates the database; the bridge starts after it.
      processor = await role('processor');
      warehouse = await openWarehouse({ clickhouseUrl, dataDir });
      // Made before the egress policy, or by hand: the API would refuse it (see the first test).
      await saveSubscription(
        warehouse,
        {
          tenant: 'utility-a',
          id: WEBHOOK_ID,
          url: `http://127.0.0.1:${internalPort}/hook`,
          event_types: ['ENVELOPE.VIOLATION', 'STRESS.ALERT'],
          description: 'stored straight into the warehouse',
          created_ms: START,
          secret: WEBHOOK_SECRET,
        },
        { at: START, deleted: false },
      );
      api = urlOf(await role('bridge,api'));
      const mine = await call('POST', '/v1/topology', KEY_A, {
        // Rated at 0.1 kVA: every slot's load factor is over the limit, so every slot raises a webhook.
        transformers: fleet.sim.topology.transformers.map((t) => ({
          ...t,
          tenant: 'utility-a',
          rated_kva: 0.1,
        })),
        meters: fleet.sim.topology.meters,
      });
      expect(mine.status, await mine.clone().text()).toBe(201);
      const theirs = await call('POST', '/v1/topology', KEY_B, {
        transformers: [transformer('dt-b', { tenant: 'utility-b' })],
        meters: [meter('m-b1', 'dt-b')],
      });
      expect(theirs.status, await theirs.clone().text()).toBe(201);
    }, 300_000);

    afterAll(async () => {
      await Promise.all(roles.map((p) => p.stop()));
      await warehouse?.close();
      await kafka?.destroy();
      await mosquitto?.stop();
      await clickhouse?.stop();
      await internal?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }, 120_000);

    it('refuses a webhook to a listening loopback server, http://169.254.169.254/ and http://[::ffff:127.0.0.1]/ with 400 on the API role; the server receives nothing', async () => {
      for (const url of [
        `http://127.0.0.1:${internalPort}/`,
        'http://169.254.169.254/',
        'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
        'http://[::ffff:127.0.0.1]/',
        `http://[::ffff:127.0.0.1]:${internalPort}/`,
      ]) {
        const response = await call('POST', '/v1/webhooks', KEY_A, { url, event_types: ['STRESS.ALERT'] });
        expect(response.status, url).toBe(400);
        const body = (await response.json()) as { fields: Array<{ field: string; problem: string }> };
        expect(body.fields, url).toEqual([
          {
            field: 'url',
            problem: expect.stringMatching(
              /^is not a permitted webhook receiver: .+ GRIDSTREAM_WEBHOOK_ALLOW\)$/,
            ),
          },
        ]);
      }
      const listed = (await (await call('GET', '/v1/webhooks', KEY_A)).json()) as {
        webhooks: Array<{ id: string }>;
      };
      expect(listed.webhooks.map((w) => w.id)).toEqual([WEBHOOK_ID]);
      expect(received).toEqual([]);
    });

    it("refuses tenant B moving tenant A's meter onto B's DT through the API role with 403; the meter stays on A's DT", async () => {
      const hijack = await call('POST', '/v1/topology', KEY_B, { meters: [meter(meterA, 'dt-b')] });
      expect(hijack.status).toBe(403);
      expect(await hijack.json()).toMatchObject({
        error: 'forbidden',
        message: expect.stringMatching(new RegExp(`^meter "${meterA}" belongs to another tenant`)),
      });
      expect(await warehouse.query(sqlQuery('meter_dts'), { meter_ids: [meterA] })).toEqual([
        { meter_id: meterA, dt_id: dtA },
      ]);
    });

    it("answers tenant B reading tenant A's DT with 404, as for a DT that does not exist", async () => {
      const theirs = await call('GET', `/v1/dt/${dtA}/stress?days=1`, KEY_B);
      const unknown = await call('GET', '/v1/dt/dt-nowhere/stress?days=1', KEY_B);
      expect(theirs.status).toBe(404);
      expect(unknown.status).toBe(404);
      const [a, b] = (await Promise.all([theirs.json(), unknown.json()])) as Array<Record<string, unknown>>;
      expect(a!.error).toBe(b!.error);
      expect(a!.message).toBe(String(b!.message).replace('dt-nowhere', dtA));
      const listed = (await (await call('GET', '/v1/dt', KEY_B)).json()) as {
        transformers: Array<{ dt_id: string }>;
      };
      expect(listed.transformers.map((t) => t.dt_id)).toEqual(['dt-b']);
      expect((await call('GET', `/v1/dt/${dtA}/stress?days=1`, KEY_A)).status).toBe(200);
    });

    it('refuses at connection time, in the processor role (GRIDSTREAM_WEBHOOK_ALLOW unset), a loopback subscription that reached the warehouse: nothing delivered, the log says refused by the egress policy', async () => {
      await fleet.publish(mosquitto, 540);
      const log = await until('a refused delivery in the log', async () => {
        const rows = await deliveries();
        return rows.length > 0 ? rows : undefined;
      });
      expect(log.length).toBeGreaterThan(0);
      for (const row of log)
        expect(row).toMatchObject({
          attempt: 1,
          outcome: 'failed',
          http_status: 0,
          error: expect.stringMatching(/^refused by the egress policy: 127\.0\.0\.1 /),
          next_attempt_at: null,
        });
      expect(received).toEqual([]);
    });

    it('delivers, signed, to the same receiver once the processor role runs with GRIDSTREAM_WEBHOOK_ALLOW=127.0.0.1, and never retries the refused events', async () => {
      // The allow-list is process-wide: the processor is restarted with it.
      await processor.stop();
      const refused = new Set((await deliveries()).map((d) => d.event_id));
      expect(refused.size).toBeGreaterThan(0);
      processor = await role('processor', { GRIDSTREAM_WEBHOOK_ALLOW: '127.0.0.1' });
      await fleet.publish(mosquitto);
      await until('a delivery to the allowed receiver', async () => (received.length > 0 ? true : undefined));
      for (const r of received) {
        expect(r.path).toBe('/hook');
        expect(r.headers['gridstream-webhook-id']).toBe(WEBHOOK_ID);
        expect(
          verifyWebhookSignature(WEBHOOK_SECRET, r.raw, r.headers[WEBHOOK_SIGNATURE_HEADER] as string),
        ).toBe(true);
        const body = JSON.parse(r.raw) as { webhook_id: string; event_id: string; type: string };
        expect(body.webhook_id).toBe(WEBHOOK_ID);
        expect(['ENVELOPE.VIOLATION', 'STRESS.ALERT']).toContain(body.type);
        expect(refused.has(body.event_id)).toBe(false);
      }
      const delivered = await until('the delivered attempt in the log', async () => {
        const rows = (await deliveries()).filter((d) => d.outcome === 'delivered');
        return rows.length > 0 ? rows : undefined;
      });
      expect(delivered[0]).toMatchObject({ http_status: 200, error: '' });
      // A refusal is final: no later attempt of a refused event, by the old processor or the new one.
      for (const row of (await deliveries()).filter((d) => refused.has(d.event_id)))
        expect(row).toMatchObject({ attempt: 1, outcome: 'failed', http_status: 0 });
    });

    // mqtt.test.ts makes the anonymous and wrong-password connects on the same Mosquitto setup (infra/mosquitto);
    // here the ACL refusal is checked against what the distributed pipeline stores.
    it("serves the console on the API role: in Chromium, tenant A's key lists A's transformers as GET /v1/fleet ranks them, tenant B's only its own", async () => {
      const page = await fetch(`${api}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
      const browser = await launchChromium();
      try {
        for (const [key, name] of [
          [KEY_A, 'utility-a'],
          [KEY_B, 'utility-b'],
        ] as const) {
          const fleetAnswer = (await (await call('GET', '/v1/fleet', key)).json()) as {
            transformers: Array<{ dt_id: string; loss_of_life_min: number | null }>;
          };
          const tab = await browser.newPage();
          await tab.goto(`${api}/`);
          await tab.fill('#api-key', key);
          await tab.click('button[type=submit]');
          await tab.waitForSelector('#fleet-table tbody tr');
          const shown = await tab
            .locator('#fleet-table tbody tr')
            .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-dt')));
          expect(shown).toEqual(fleetAnswer.transformers.map((t) => t.dt_id));
          if (key === KEY_A) {
            expect([...shown].sort()).toEqual(fleet.sim.topology.transformers.map((t) => t.dt_id).sort());
            // The processor role's thermal state reached the API role's answer as its stress route has it.
            for (const t of fleetAnswer.transformers) {
              const stress = (await (
                await call(
                  'GET',
                  `/v1/dt/${t.dt_id}/stress?from=${new Date(START).toISOString()}&to=${new Date(END).toISOString()}`,
                  key,
                )
              ).json()) as {
                slots: Array<{ loss_of_life_min: number | null }>;
              };
              expect([t.dt_id, t.loss_of_life_min]).toEqual([t.dt_id, stress.slots.at(-1)?.loss_of_life_min]);
            }
          } else expect(shown).toEqual(['dt-b']);
          await screenshot(tab, `distributed-fleet-${name}`);
          await tab.close();
        }
      } finally {
        await browser.close();
      }
    });

    it("refuses a device publishing on another meter's topic on Mosquitto (MQTT 5 reason 135): nothing is stored, not even as a dead letter", async () => {
      const [own, victim] = fleet.sim.topology.meters;
      const ts = END + 60_000;
      const payload = (kw: number) =>
        JSON.stringify({ ts, p_kw: kw, legs: [{ leg: 1, v: 230, i: kw * 4.35 }] });
      const device = await mqtt.connectAsync(mosquitto.urlFor(own!.meter_id), {
        protocolVersion: 5,
        clientId: `forger-${process.pid}`,
      });
      try {
        await expect(
          device.publishAsync(telemetryTopic(victim!.meter_id), payload(98.765), { qos: 1 }),
        ).rejects.toMatchObject({ code: 135 });
        // Its own reading after it, on the same connection: once that is stored, the forged one had its chance.
        await device.publishAsync(telemetryTopic(own!.meter_id), payload(1.2345), { qos: 1 });
      } finally {
        await device.endAsync();
      }
      const stored = () =>
        warehouse.query<{ meter_id: string; p_kw: number }>(
          `SELECT meter_id, p_kw FROM readings FINAL WHERE meter_id IN ('${own!.meter_id}', '${victim!.meter_id}') AND p_kw IN (1.2345, 98.765)`,
        );
      await until('the device’s own reading stored', async () =>
        (await stored()).length > 0 ? true : undefined,
      );
      expect(await stored()).toEqual([{ meter_id: own!.meter_id, p_kw: 1.2345 }]);
      const [forged] = await warehouse.query<{ n: string }>(
        "SELECT count() AS n FROM dead_letters WHERE position(raw, '98.765') > 0",
      );
      expect(Number(forged!.n)).toBe(0);
    });

    it('throttles key guessing on the API role: 300 random keys from one address get 429 with Retry-After; a valid key from another address still works', async () => {
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 300; i++) {
        const key = randomBytes(32).toString('hex');
        guessedKeys.push(key);
        const answer = await getFrom(`${api}/v1/dt`, key, '127.0.0.2');
        statuses.push(answer.status);
        if (answer.status === 429) retryAfter ??= answer.retryAfter;
      }
      const first429 = statuses.indexOf(429);
      expect(first429).toBeGreaterThan(0);
      expect(first429).toBeLessThanOrEqual(20); // GRIDSTREAM_API_AUTH_FAILURE_BURST
      expect(new Set(statuses)).toEqual(new Set([401, 429]));
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect((await getFrom(`${api}/v1/dt`, KEY_A, '127.0.0.1')).status).toBe(200);
    });

    it("prints none of the API keys, the MQTT ingest password or the webhook secret in any role process's output", () => {
      expect(roles.length).toBeGreaterThanOrEqual(3);
      const output = roles.map((p) => p.output()).join('\n');
      // The roles did print: their start lines, with the broker's URL redacted.
      expect(output).toMatch(/MQTT mqtt:\/\/gridstream-ingest:\*\*\*@127\.0\.0\.1:\d+/);
      for (const secret of [KEY_A, KEY_B, INGEST_PASSWORD, WEBHOOK_SECRET, ...guessedKeys])
        expect(output.includes(secret), `${secret.slice(0, 12)}… printed`).toBe(false);
    });
  },
);
