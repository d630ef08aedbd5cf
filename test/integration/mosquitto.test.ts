import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGridstream } from '../support/test-gridstream.js';
import {
  mosquittoInstalled,
  publishMqtt5Raw,
  startMosquitto,
  type TestMosquitto,
} from '../support/mosquitto.js';
import { oneDt } from '../support/topology.js';

/**
 * The Mosquitto edge of distributed mode, on a real broker started by infra/mosquitto/start.sh with the
 * accounts add-user.sh creates: password authentication, the per-role ACL, the message size limit, and
 * gridstream consuming from it with the ingest account's credentials in GRIDSTREAM_MQTT_URL.
 */

const installed = mosquittoInstalled();
if (!installed)
  console.warn('mosquitto is not installed (infra/setup.sh installs it): skipping the Mosquitto tests');

const USERS = {
  'm-1': 'pw-meter-1',
  'm-2': 'pw-meter-2',
  'weather.ws-1': 'pw-station-1',
  'dispatch.flexco': 'pw-flexco',
  'gridstream-ingest': 'ingest-secret',
};
const LIMIT = 256 * 1024;
const telemetry = (meter: string) => `gridstream/v1/meters/${meter}/telemetry`;

/*
 * What "not delivered" rests on: mosquitto queues a message for its subscribers before it acknowledges the
 * publish, and writes each subscriber's messages in the order it queued them. So once a marker published
 * after the PUBACK of a forbidden message has arrived, the forbidden message would have arrived before it.
 */

interface Received {
  topic: string;
  payload: string;
}

describe.skipIf(!installed)('Mosquitto with password authentication and the ACL (infra/mosquitto)', () => {
  let broker: TestMosquitto;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    broker = await startMosquitto({
      users: USERS,
      ingest: ['gridstream-ingest', 'ingest-special', 'ingest-colon'],
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await broker?.stop();
  });

  /** A connection as `username` with its password in the URL (no reconnects: a refusal is final). */
  const connectAs = async (username: string, options: IClientOptions = {}) => {
    const client = await mqtt.connectAsync(broker.urlFor(username), { reconnectPeriod: 0, ...options });
    clients.push(client);
    return client;
  };

  /** The ingest account subscribed to everything it may read, recording what it receives. */
  const ingestSubscriber = async () => {
    const client = await connectAs('gridstream-ingest');
    const received: Received[] = [];
    const waiters: Array<() => void> = [];
    client.on('message', (topic, payload) => {
      received.push({ topic, payload: payload.toString('utf8') });
      waiters.forEach((w) => w());
    });
    await client.subscribeAsync('gridstream/v1/#', { qos: 1 });
    return {
      received,
      /** Resolves once a message with this payload arrived. */
      waitFor: (payload: string, timeoutMs = 10_000) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`${payload} not received; got ${JSON.stringify(received)}`)),
            timeoutMs,
          );
          const check = () => {
            if (!received.some((m) => m.payload === payload)) return;
            clearTimeout(timer);
            resolve();
          };
          waiters.push(check);
          check();
        }),
      end: () => client.endAsync(),
    };
  };

  it('a meter publishes to its own telemetry topic and the ingest account receives it', async () => {
    const ingest = await ingestSubscriber();
    const meter = await connectAs('m-1');
    await meter.publishAsync(telemetry('m-1'), 'own-topic', { qos: 1 });
    await ingest.waitFor('own-topic');
    expect(ingest.received).toEqual([{ topic: telemetry('m-1'), payload: 'own-topic' }]);
    await Promise.all([meter.endAsync(), ingest.end()]);
  });

  it("a meter publishing to another meter's topic is not delivered: MQTT 3.1.1 gets a plain PUBACK, MQTT 5 reason code 135 (not authorized)", async () => {
    const ingest = await ingestSubscriber();

    // MQTT 3.1.1 has no way to say no: mosquitto acknowledges the publish and drops it.
    const v311 = await connectAs('m-1', { protocolVersion: 4 });
    // (publishAsync resolves at QoS 1 once the PUBACK is in; an MQTT 5 PUBACK with an error code rejects it.)
    await expect(v311.publishAsync(telemetry('m-2'), 'forged-v311', { qos: 1 })).resolves.toBeDefined();
    // A message the same connection publishes afterwards arrives after the forged one would have.
    await v311.publishAsync(telemetry('m-1'), 'marker-v311', { qos: 1 });

    const v5 = await connectAs('m-1', { protocolVersion: 5 });
    await expect(v5.publishAsync(telemetry('m-2'), 'forged-v5', { qos: 1 })).rejects.toMatchObject({
      code: 135,
    });
    await v5.publishAsync(telemetry('m-1'), 'marker-v5', { qos: 1 });

    await ingest.waitFor('marker-v311');
    await ingest.waitFor('marker-v5');
    expect(ingest.received.map((m) => m.payload).sort()).toEqual(['marker-v311', 'marker-v5']);
    expect(v311.connected && v5.connected).toBe(true);
    await Promise.all([v311.endAsync(), v5.endAsync(), ingest.end()]);
  });

  it('weather stations publish only to their own station, dispatch platforms only to dispatch topics, and no meter or ingest account publishes elsewhere', async () => {
    const ingest = await ingestSubscriber();
    const attempts: Array<[string, string, string, boolean]> = [
      // account, topic, payload, delivered
      ['weather.ws-1', 'gridstream/v1/weather/ws-1', 'ws1-own', true],
      ['weather.ws-1', 'gridstream/v1/weather/ws-2', 'ws1-as-ws2', false],
      ['weather.ws-1', telemetry('weather.ws-1'), 'ws1-as-meter', false],
      ['weather.ws-1', 'gridstream/v1/dispatch/a-1', 'ws1-dispatch', false],
      ['dispatch.flexco', 'gridstream/v1/dispatch/battery-7', 'flexco-own', true],
      ['dispatch.flexco', 'gridstream/v1/weather/ws-1', 'flexco-weather', false],
      ['dispatch.flexco', telemetry('dispatch.flexco'), 'flexco-as-meter', false],
      ['m-1', 'gridstream/v1/weather/ws-1', 'm1-weather', false],
      ['m-1', 'gridstream/v1/dispatch/a-1', 'm1-dispatch', false],
      ['m-1', 'gridstream/v1/meters/m-1/other', 'm1-other-suffix', false],
      ['gridstream-ingest', telemetry('gridstream-ingest'), 'ingest-as-meter', false],
      ['gridstream-ingest', telemetry('m-1'), 'ingest-as-m1', false],
    ];
    for (const username of new Set(attempts.map(([u]) => u))) {
      const client = await connectAs(username);
      for (const [, topic, payload] of attempts.filter(([u]) => u === username))
        await client.publishAsync(topic, payload, { qos: 1 });
      await client.endAsync();
    }
    for (const [, , payload, delivered] of attempts) if (delivered) await ingest.waitFor(payload);
    const meter = await connectAs('m-2');
    await meter.publishAsync(telemetry('m-2'), 'marker', { qos: 1 });
    await ingest.waitFor('marker');
    expect(ingest.received.map((m) => m.payload).sort()).toEqual(['flexco-own', 'marker', 'ws1-own']);
    await Promise.all([meter.endAsync(), ingest.end()]);
  });

  it("meters read nothing: a meter subscribed to gridstream/v1/# receives no other meter's telemetry", async () => {
    const spy = await connectAs('m-1');
    const seen: string[] = [];
    spy.on('message', (_topic, payload) => seen.push(payload.toString()));
    await spy.subscribeAsync('gridstream/v1/#', { qos: 1 });
    const ingest = await ingestSubscriber();
    const other = await connectAs('m-2');
    await other.publishAsync(telemetry('m-2'), 'private-reading', { qos: 1 });
    await ingest.waitFor('private-reading');
    // The broker writes a connection's packets in order: a delivery to the spy, queued when m-2 published,
    // would reach it before the PUBACK of anything the spy publishes now.
    await spy.publishAsync(telemetry('m-1'), 'spy-round-trip', { qos: 1 });
    expect(seen).toEqual([]);
    await Promise.all([spy.endAsync(), other.endAsync(), ingest.end()]);
  });

  it('wrong passwords, unknown accounts and anonymous clients are refused: CONNACK 5 (MQTT 3.1.1) or 135 (MQTT 5), not authorized', async () => {
    const url = broker.url;
    const refusal = (options: IClientOptions) =>
      mqtt.connectAsync(url, { reconnectPeriod: 0, ...options }).then(
        async (client) => {
          await client.endAsync();
          return 'connected';
        },
        (error: { code?: number }) => error.code,
      );
    for (const [protocolVersion, code] of [
      [4, 5],
      [5, 135],
    ] as const) {
      expect(await refusal({ protocolVersion, username: 'm-1', password: 'wrong' })).toBe(code);
      expect(await refusal({ protocolVersion, username: 'm-1' })).toBe(code);
      expect(await refusal({ protocolVersion, username: 'm-404', password: 'pw-meter-1' })).toBe(code);
      expect(await refusal({ protocolVersion })).toBe(code);
      expect(await refusal({ protocolVersion, username: 'm-1', password: USERS['m-1'] })).toBe('connected');
    }
  });

  it('a payload over 256 KiB is not delivered (MQTT 3.1.1: plain PUBACK; MQTT 5: reason code 0x95) and the broker stays up; 256 KiB exactly is delivered', async () => {
    const ingest = await ingestSubscriber();
    const meter = await connectAs('m-1', { protocolVersion: 4 });
    const oversized = Buffer.alloc(LIMIT + 1, 'x');
    await expect(meter.publishAsync(telemetry('m-1'), oversized, { qos: 1 })).resolves.toBeDefined();
    const v5 = await publishMqtt5Raw(broker.port, 'm-1', USERS['m-1'], telemetry('m-1'), oversized);
    // 0x95 is "packet too large"; MQTT 5 does not list it for PUBACK (mqtt.js rejects such a PUBACK as
    // malformed, so this reads the wire).
    expect(v5).toEqual({ connack: 0, puback: 0x95 });
    const atLimit = Buffer.alloc(LIMIT, 'y');
    await meter.publishAsync(telemetry('m-1'), atLimit, { qos: 1 });
    await meter.publishAsync(telemetry('m-1'), 'after-oversized', { qos: 1 });
    await ingest.waitFor('after-oversized');
    expect(ingest.received.map((m) => m.payload.length)).toEqual([LIMIT, 'after-oversized'.length]);
    expect(meter.connected).toBe(true);
    expect(broker.alive()).toBe(true);
    await Promise.all([meter.endAsync(), ingest.end()]);
  });

  it('an account added while the broker runs can connect and publish at once (add-user.sh reloads the broker)', async () => {
    await expect(
      mqtt.connectAsync(broker.url, { reconnectPeriod: 0, username: 'm-new', password: 'pw-new' }),
    ).rejects.toMatchObject({ code: 5 });
    await broker.addUser('m-new', 'pw-new');
    const ingest = await ingestSubscriber();
    const meter = await connectAs('m-new');
    await meter.publishAsync(telemetry('m-new'), 'from-new-meter', { qos: 1 });
    await ingest.waitFor('from-new-meter');
    await Promise.all([meter.endAsync(), ingest.end()]);
  });

  it('add-meters.sh adds a thousand meters in one pass while the broker runs, each limited to its own topic', async () => {
    const meters = Object.fromEntries(
      Array.from({ length: 1000 }, (_, i) => [`bulk-${i}`, `pw-bulk-${i}`] as const),
    );
    await broker.addMeters(meters);
    const ingest = await ingestSubscriber();
    for (const id of ['bulk-0', 'bulk-999']) {
      const meter = await connectAs(id, { protocolVersion: 5 });
      await meter.publishAsync(telemetry(id), `own-${id}`, { qos: 1 });
      await expect(meter.publishAsync(telemetry('bulk-500'), 'forged', { qos: 1 })).rejects.toMatchObject({
        code: 135,
      });
      await meter.endAsync();
    }
    await ingest.waitFor('own-bulk-999');
    expect(ingest.received.map((m) => m.payload)).toEqual(['own-bulk-0', 'own-bulk-999']);
    await expect(
      mqtt.connectAsync(broker.url, { reconnectPeriod: 0, username: 'bulk-1', password: 'pw-bulk-2' }),
    ).rejects.toMatchObject({ code: 5 });
    await ingest.end();
  });

  it("mqtt.js takes the credentials from the broker URL, percent-decoded; a ':' in the password does not survive the URL", async () => {
    await broker.addUser('ingest-special', 'p@ss/w0rd?#%&=');
    const special = await mqtt.connectAsync(broker.urlFor('ingest-special'), {
      reconnectPeriod: 0,
      // What io/broker/broker.ts passes when no credentials are configured besides the URL.
      username: undefined,
      password: undefined,
    });
    expect(special.options.username).toBe('ingest-special');
    await special.endAsync();

    // mqtt.js splits user:password at the last ':' after decoding, so this logs in as "ingest-colon:pa".
    await broker.addUser('ingest-colon', 'pa:ss');
    await expect(
      mqtt.connectAsync(broker.urlFor('ingest-colon'), { reconnectPeriod: 0 }),
    ).rejects.toMatchObject({ code: 5 });
    // Given as options instead of in the URL, the same password works.
    const colon = await mqtt.connectAsync(broker.url, {
      reconnectPeriod: 0,
      username: 'ingest-colon',
      password: 'pa:ss',
    });
    await colon.endAsync();
  });

  describe('end to end through gridstream', () => {
    const QUARTER = 15 * 60_000;
    const base = Math.floor(Date.now() / QUARTER) * QUARTER - 4 * QUARTER;
    const at = (minute: number) => base + minute * 60_000;
    const reading = (minute: number, kw: number) => ({
      ts: new Date(at(minute)).toISOString(),
      p_kw: kw,
      legs: [{ leg: 1, v: 230, i: kw * 4.35 }],
    });
    const json = (value: unknown) => JSON.stringify(value);
    /** DateTime64(3) as the warehouse returns it. */
    const sqlTime = (minute: number) => new Date(at(minute)).toISOString().replace('T', ' ').replace('Z', '');

    it('stores valid readings, dead-letters malformed ones with reasons, never sees unauthorised or oversized publishes, and nothing crashes', async () => {
      const g = await startTestGridstream({ mqttUrl: broker.urlFor('gridstream-ingest') });
      try {
        expect(g.edges.broker?.embedded).toBe(false);
        await g.pipeline.loadTopology(oneDt('dt-mq', ['m-1', 'm-2']), 'test');
        const telemetryMessages = async () =>
          (await g.metrics.mqttMessages.get()).values.find((v) => v.labels.kind === 'telemetry')?.value ?? 0;

        // Each meter ends with a valid message: once it is in, anything before it that was going to arrive
        // has arrived (see the note at the top).
        const m1 = await connectAs('m-1');
        await m1.publishAsync(telemetry('m-1'), json(reading(0, 1.0)), { qos: 1 });
        await m1.publishAsync(telemetry('m-1'), 'not json {', { qos: 1 });
        await m1.publishAsync(telemetry('m-2'), json(reading(10, 9.9)), { qos: 1 }); // another meter's topic
        await m1.publishAsync('gridstream/v1/weather/ws-1', json({ ts: at(0), ambient_c: 20 }), { qos: 1 });
        const tooLarge = json(Array.from({ length: 4000 }, (_, i) => reading(20 + (i % 10), 7.7)));
        expect(tooLarge.length).toBeGreaterThan(LIMIT);
        await m1.publishAsync(telemetry('m-1'), tooLarge, { qos: 1 });
        await m1.publishAsync(telemetry('m-1'), json(reading(1, 1.1)), { qos: 1 });

        const m2 = await connectAs('m-2');
        await m2.publishAsync(telemetry('m-2'), json([reading(0, 2.0), reading(1, 2.1)]), { qos: 1 });
        await m2.publishAsync(telemetry('m-2'), json({ ...reading(5, 0), p_kw: 'lots' }), { qos: 1 });
        await m2.publishAsync(telemetry('m-2'), json(reading(2, 2.2)), { qos: 1 });

        // 3 messages from each meter may reach gridstream.
        await expect.poll(telemetryMessages, { timeout: 20_000 }).toBe(6);
        await g.pipeline.settle();

        const readings = await g.edges.warehouse.query<{ meter_id: string; ts: string; p_kw: number }>(
          "SELECT meter_id, ts, p_kw FROM readings FINAL WHERE dt_id = 'dt-mq' ORDER BY meter_id, ts",
        );
        expect(readings).toEqual([
          { meter_id: 'm-1', ts: sqlTime(0), p_kw: 1.0 },
          { meter_id: 'm-1', ts: sqlTime(1), p_kw: 1.1 },
          { meter_id: 'm-2', ts: sqlTime(0), p_kw: 2.0 },
          { meter_id: 'm-2', ts: sqlTime(1), p_kw: 2.1 },
          { meter_id: 'm-2', ts: sqlTime(2), p_kw: 2.2 },
        ]);

        const dead = await g.edges.warehouse.query<{
          reason_code: string;
          reason: string;
          source_topic: string;
          key: string;
          raw: string;
        }>('SELECT reason_code, reason, source_topic, key, raw FROM dead_letters FINAL ORDER BY reason_code');
        expect(dead).toHaveLength(2);
        expect(dead[0]).toMatchObject({
          reason_code: 'invalid_json',
          source_topic: telemetry('m-1'),
          key: 'm-1',
          raw: 'not json {',
        });
        expect(dead[0]!.reason).toMatch(/not JSON/);
        expect(dead[1]).toMatchObject({ reason_code: 'schema', source_topic: telemetry('m-2'), key: 'm-2' });
        expect(dead[1]!.reason).toMatch(/p_kw/);

        // The forged, cross-topic and oversized publishes never reached gridstream: no 9.9 kW or 7.7 kW
        // reading, no weather, no too_large dead letter, and exactly the 6 permitted messages counted.
        const metrics = await g.metrics.registry.metrics();
        expect(metrics).toMatch(/gridstream_mqtt_messages_total\{kind="telemetry"\} 6\n/);
        expect(metrics).not.toMatch(/gridstream_mqtt_messages_total\{kind="weather"\}/);
        expect(metrics).toMatch(/gridstream_dead_letters_total\{reason="invalid_json"\} 1\n/);
        expect(metrics).toMatch(/gridstream_dead_letters_total\{reason="schema"\} 1\n/);
        expect(metrics).not.toMatch(/reason="too_large"/);
        expect(metrics).toMatch(/gridstream_readings_ingested_total 5\n/);

        // Nothing crashed: the broker and gridstream still answer, and ingest still works.
        expect(broker.alive()).toBe(true);
        expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
        expect((await fetch(`${g.url}/metrics`)).status).toBe(200);
        await m1.publishAsync(telemetry('m-1'), json(reading(3, 1.3)), { qos: 1 });
        await expect.poll(telemetryMessages, { timeout: 20_000 }).toBe(7);
        await g.pipeline.settle();
        const [after] = await g.edges.warehouse.query<{ n: string }>(
          "SELECT count() AS n FROM readings FINAL WHERE dt_id = 'dt-mq'",
        );
        expect(Number(after!.n)).toBe(6);
        await Promise.all([m1.endAsync(), m2.endAsync()]);
      } finally {
        await g.stop();
      }
    });
  });
});
