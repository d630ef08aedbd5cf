import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import mqtt, { type ErrorWithSubackPacket, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../core/paths.js';
import { addMqttAccount, mqttPasswordFile } from '../../../io/broker/mqtt-accounts.js';
import {
  startTestGridstream,
  TEST_API_KEY,
  TEST_MQTT_PASSWORD,
  TEST_MQTT_USER,
  testMqttUrl,
} from '../../support/test-gridstream.js';
import {
  MOSQUITTO_INFRA,
  mosquittoInstalled,
  startMosquitto,
  type TestMosquitto,
} from '../../support/mosquitto.js';
import { startRole } from '../../support/role-process.js';
import { oneDt } from '../../support/topology.js';

/**
 * Attacks on gridstream's MQTT edge: the embedded broker of `gridstream run` (accounts, per-meter ACL,
 * loopback by default, packet size limit, TLS) and the bridge on the Mosquitto setup of infra/mosquitto.
 */
type Running = Awaited<ReturnType<typeof startTestGridstream>>;

const SLOT = Date.UTC(2026, 6, 1, 10, 0);
const telemetry = (meter: string) => `gridstream/v1/meters/${meter}/telemetry`;
const reading = (minute: number, kw: number) =>
  JSON.stringify({ ts: SLOT + minute * 60_000, p_kw: kw, legs: [{ leg: 1, v: 230, i: kw * 4.35 }] });

/** Connects, or resolves the broker's refusal: the CONNACK return code, the error, or `closed`. */
function tryConnect(url: string, options: IClientOptions = {}): Promise<MqttClient | { refused: unknown }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options });
  return new Promise((resolve) => {
    const settle = (outcome: MqttClient | { refused: unknown }) => {
      client.off('connect', connected).off('error', failed).off('close', closed);
      if (outcome !== client) client.end(true);
      else client.on('error', () => {});
      resolve(outcome);
    };
    const connected = () => settle(client);
    const failed = (error: Error & { code?: unknown }) => settle({ refused: error.code ?? error.message });
    const closed = () => settle({ refused: 'closed' });
    client.on('connect', connected).on('error', failed).on('close', closed);
  });
}

async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = await tryConnect(url, options);
  if ('refused' in client) throw new Error(`connection refused: ${String(client.refused)}`);
  return client;
}

/** 'acked' on the PUBACK; 'refused' when the broker closes the connection or answers with a failure first. */
function publishOutcome(client: MqttClient, topic: string, payload: string | Buffer) {
  return Promise.race([
    client.publishAsync(topic, payload, { qos: 1 }).then(
      () => 'acked' as const,
      () => 'refused' as const,
    ),
    new Promise<'refused'>((resolve) => client.once('close', () => resolve('refused'))),
  ]);
}

async function storedReadings(g: Running, dt: string): Promise<Array<{ meter_id: string; p_kw: number }>> {
  await g.pipeline.settle();
  return g.edges.warehouse.query<{ meter_id: string; p_kw: number }>(
    `SELECT meter_id, p_kw FROM readings FINAL WHERE dt_id = '${dt}' ORDER BY meter_id, ts`,
  );
}

/** An MQTT 3.1.1 CONNECT with a username and password, as bytes. */
function connectPacket(username: string, password: string): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, 0xc2, 0, 60]), // 3.1.1; username, password, clean session; keep-alive 60 s
    str(`raw-${process.pid}`),
    str(username),
    str(password),
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** MQTT's variable-length "remaining length". */
function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}

describe('embedded MQTT broker (gridstream run)', () => {
  let g: Running;
  const dt = 'dt-sec';
  const password = { 'm-1': 'm1-device-secret', 'm-2': 'm2-device-secret' };

  beforeAll(async () => {
    g = await startTestGridstream();
    await g.pipeline.loadTopology(oneDt(dt, ['m-1', 'm-2', 'm-3']), 'security test');
    const file = mqttPasswordFile(g.dataDir);
    await addMqttAccount(file, 'meter', 'm-1', password['m-1']);
    await addMqttAccount(file, 'meter', 'm-2', password['m-2']);
    await addMqttAccount(file, 'dispatch', 'flexco', 'flexco-secret', ['bess-1']);
  });
  afterAll(() => g?.stop());

  const url = () => g.edges.broker!.url;

  it('lets in a device added with `gridstream mqtt add-user` while gridstream runs, with the generated password only', async () => {
    expect(await tryConnect(url(), { username: 'm-3', password: 'anything' })).toEqual({ refused: 5 });
    const output = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(packageRoot, 'bin', 'gridstream.ts'), 'mqtt', 'add-user', 'meter', 'm-3'],
      { cwd: packageRoot, env: { ...process.env, GRIDSTREAM_DATA_DIR: g.dataDir }, encoding: 'utf8' },
    );
    const generated = /^password: (\S+)$/m.exec(output)![1]!;
    expect(readFileSync(mqttPasswordFile(g.dataDir), 'utf8')).not.toContain(generated);
    const m3 = await connect(url(), { username: 'm-3', password: generated });
    expect(await publishOutcome(m3, telemetry('m-3'), reading(30, 0.5))).toBe('acked');
    expect(await publishOutcome(m3, telemetry('m-1'), reading(30, 0.5))).toBe('refused');
    await m3.endAsync(true);
  });

  it('refuses an anonymous connect with CONNACK "not authorized" (return code 5)', async () => {
    expect(await tryConnect(url())).toEqual({ refused: 5 });
  });

  it('refuses a wrong password, a missing password and an unknown account', async () => {
    expect(await tryConnect(url(), { username: 'm-1', password: 'm2-device-secret' })).toEqual({
      refused: 5,
    });
    expect(await tryConnect(url(), { username: 'm-1' })).toEqual({ refused: 5 });
    expect(await tryConnect(url(), { username: TEST_MQTT_USER, password: 'guess' })).toEqual({ refused: 5 });
    expect(await tryConnect(url(), { username: 'm-9', password: 'anything' })).toEqual({ refused: 5 });
  });

  it("refuses a device publishing on another meter's telemetry topic, and stores none of it", async () => {
    const m1 = await connect(url(), { username: 'm-1', password: password['m-1'] });
    expect(await publishOutcome(m1, telemetry('m-2'), reading(0, 9.9))).toBe('refused');
    expect(m1.connected).toBe(false);
    await m1.endAsync(true);
    const again = await connect(url(), { username: 'm-1', password: password['m-1'] });
    expect(await publishOutcome(again, telemetry('m-1'), reading(0, 1.5))).toBe('acked');
    // Nor to topics outside the contract, or weather and dispatch topics.
    expect(await publishOutcome(again, 'gridstream/v1/weather/ws-1', '{}')).toBe('refused');
    await again.endAsync(true);
    const rows = await storedReadings(g, dt);
    expect(rows.filter((r) => r.meter_id !== 'm-3')).toEqual([{ meter_id: 'm-1', p_kw: 1.5 }]);
  });

  it("refuses a device subscribing to other meters' telemetry (SUBACK failure 0x80), so it receives none", async () => {
    const m1 = await connect(url(), { username: 'm-1', password: password['m-1'] });
    const received: string[] = [];
    m1.on('message', (topic) => received.push(topic));
    // mqtt.js rejects a SUBACK with failures, the SUBACK attached.
    const suback = await m1
      .subscribeAsync(['gridstream/v1/meters/+/telemetry', '#', telemetry('m-2')], { qos: 1 })
      .then(
        () => null,
        (error: ErrorWithSubackPacket) => error.packet,
      );
    expect(suback?.granted).toEqual([128, 128, 128]);
    const m2 = await connect(url(), { username: 'm-2', password: password['m-2'] });
    expect(await publishOutcome(m2, telemetry('m-2'), reading(1, 2.5))).toBe('acked');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toEqual([]);
    await m1.endAsync();
    await m2.endAsync();
  });

  it('lets a head-end account (GRIDSTREAM_MQTT_USERS) publish for every meter', async () => {
    const headEnd = await connect(testMqttUrl(g));
    for (const id of ['m-1', 'm-2', 'm-3'])
      expect(await publishOutcome(headEnd, telemetry(id), reading(5, 3))).toBe('acked');
    await headEnd.endAsync();
    const rows = await storedReadings(g, dt);
    expect(rows.filter((r) => r.p_kw === 3).map((r) => r.meter_id)).toEqual(['m-1', 'm-2', 'm-3']);
  });

  it('limits a dispatch account to the dispatch topics of its own assets', async () => {
    const command = (asset: string) =>
      JSON.stringify({
        event_id: `0b6c2a10-0000-4000-8000-${asset === 'bess-1' ? '000000000001' : '000000000002'}`,
        asset_id: asset,
        dispatch_time: new Date(SLOT).toISOString(),
        delivery_period_start: new Date(SLOT + 15 * 60_000).toISOString(),
        target_power: { amount: '0.5', unit: 'MW' },
      });
    const flexco = await connect(url(), { username: 'dispatch.flexco', password: 'flexco-secret' });
    expect(await publishOutcome(flexco, 'gridstream/v1/dispatch/bess-1', command('bess-1'))).toBe('acked');
    expect(await publishOutcome(flexco, 'gridstream/v1/dispatch/bess-2', command('bess-2'))).toBe('refused');
    await flexco.endAsync(true);
    const meter = await connect(url(), { username: 'm-1', password: password['m-1'] });
    expect(await publishOutcome(meter, 'gridstream/v1/dispatch/bess-1', command('bess-1'))).toBe('refused');
    await meter.endAsync(true);
    await g.pipeline.settle();
    const rows = await g.edges.warehouse.query<{ asset_id: string }>(
      'SELECT asset_id FROM dispatches FINAL ORDER BY asset_id',
    );
    expect(rows).toEqual([{ asset_id: 'bess-1' }]);
  });

  it('refuses a 300 KiB packet: the connection ends, ingest never sees it, and later publishes go through', async () => {
    const received = async () =>
      (await g.metrics.mqttMessages.get()).values.reduce((sum, v) => sum + v.value, 0);
    const before = await received();
    const headEnd = await connect(testMqttUrl(g));
    // Valid readings, 300 KiB of them: not a dead letter of ingest's payload limit, refused by the broker.
    const one = JSON.parse(reading(10, 6)) as object;
    const big = JSON.stringify(Array.from({ length: 4000 }, () => one));
    expect(big.length).toBeGreaterThan(300 * 1024);
    expect(await publishOutcome(headEnd, telemetry('m-3'), big)).toBe('refused');
    await headEnd.endAsync(true);
    const next = await connect(testMqttUrl(g));
    expect(await publishOutcome(next, telemetry('m-3'), reading(9, 4.25))).toBe('acked');
    await next.endAsync();
    expect(await received()).toBe(before + 1);
    const m3 = (await storedReadings(g, dt)).filter((r) => r.meter_id === 'm-3');
    expect(m3.map((r) => r.p_kw)).toContain(4.25);
    expect(m3.map((r) => r.p_kw)).not.toContain(6);
  });

  it('refuses a 300 KiB packet from its header, before the rest of it is sent', async () => {
    const port = Number(new URL(url()).port);
    const socket: Socket = tcpConnect(port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    const connack = new Promise<Buffer>((resolve) => socket.once('data', resolve));
    socket.write(connectPacket(TEST_MQTT_USER, TEST_MQTT_PASSWORD));
    expect([...(await connack)]).toEqual([0x20, 2, 0, 0]);
    // A QoS 0 PUBLISH that declares 300 KiB; only its first 4 KiB are sent, and the socket stays open.
    socket.write(Buffer.concat([Buffer.from([0x30]), remainingLength(300 * 1024), Buffer.alloc(4096)]));
    const outcome = await Promise.race([
      closed.then(() => 'closed by the broker'),
      new Promise((resolve) => setTimeout(() => resolve('still open after 3 s'), 3_000)),
    ]);
    socket.destroy();
    expect(outcome).toBe('closed by the broker');
  });

  it('is not reachable on a non-loopback address of this machine by default (GRIDSTREAM_MQTT_HOST 127.0.0.1)', async (context) => {
    const address = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!address) return context.skip('this machine has no non-loopback IPv4 address');
    const port = Number(new URL(url()).port);
    const attempt = (host: string) =>
      new Promise<string>((resolve) => {
        const socket = tcpConnect({ host, port, timeout: 3_000 });
        socket.once('connect', () => (socket.destroy(), resolve('connected')));
        socket.once('timeout', () => (socket.destroy(), resolve('timeout')));
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      });
    expect(await attempt(address)).not.toBe('connected');
    expect(await attempt('127.0.0.1')).toBe('connected');
  });
});

describe('embedded MQTT broker over TLS (GRIDSTREAM_MQTT_TLS_CERT, GRIDSTREAM_MQTT_TLS_KEY)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gridstream-mqtt-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  let g: Running;

  beforeAll(async () => {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' }); // prettier-ignore
    g = await startTestGridstream({ mqttTlsCert: cert, mqttTlsKey: key });
    await g.pipeline.loadTopology(oneDt('dt-tls', ['m-1']), 'tls test');
  });
  afterAll(async () => {
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a TLS client that trusts the certificate, and its readings are stored', async () => {
    expect(g.edges.broker!.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const client = await connect(testMqttUrl(g), { ca: readFileSync(cert) });
    expect(await publishOutcome(client, telemetry('m-1'), reading(0, 1.25))).toBe('acked');
    await client.endAsync();
    expect(await storedReadings(g, 'dt-tls')).toEqual([{ meter_id: 'm-1', p_kw: 1.25 }]);
  });

  it('refuses plaintext MQTT on the TLS port, and a TLS client that does not trust the certificate', async () => {
    const plain = testMqttUrl(g).replace(/^mqtts:/, 'mqtt:');
    expect(await tryConnect(plain, { connectTimeout: 3_000 })).toHaveProperty('refused');
    expect(await tryConnect(testMqttUrl(g))).toHaveProperty('refused');
  });
});

describe.skipIf(!mosquittoInstalled())('distributed bridge on Mosquitto (infra/mosquitto)', () => {
  const ingestPassword = 'ingest-Pw-7f3a9c';
  let broker: TestMosquitto;
  beforeAll(async () => {
    broker = await startMosquitto({
      users: { 'gridstream-ingest': ingestPassword, 'm-1': 'm1-secret', 'm-2': 'm2-secret' },
    });
  });
  afterAll(() => broker?.stop());

  it('refuses an anonymous connect and a wrong password', async () => {
    expect(await tryConnect(broker.url)).toEqual({ refused: 5 });
    expect(await tryConnect(broker.url, { username: 'm-1', password: 'm2-secret' })).toEqual({ refused: 5 });
  });

  it("refuses a device publishing on another meter's telemetry topic: gridstream never sees it", async () => {
    const g = await startTestGridstream({ mqttUrl: broker.urlFor('gridstream-ingest') });
    try {
      await g.pipeline.loadTopology(oneDt('dt-mq', ['m-1', 'm-2']), 'test');
      const m1 = await connect(broker.urlFor('m-1'), { protocolVersion: 5 });
      // MQTT 5: Mosquitto answers the publish with reason code 135 (not authorized).
      await expect(m1.publishAsync(telemetry('m-2'), reading(0, 9.9), { qos: 1 })).rejects.toMatchObject({
        code: 135,
      });
      await m1.publishAsync(telemetry('m-1'), reading(0, 1.5), { qos: 1 });
      await m1.endAsync();
      const telemetryMessages = async () =>
        (await g.metrics.mqttMessages.get()).values.find((v) => v.labels.kind === 'telemetry')?.value ?? 0;
      await expect.poll(telemetryMessages, { timeout: 20_000 }).toBe(1);
      expect(await storedReadings(g, 'dt-mq')).toEqual([{ meter_id: 'm-1', p_kw: 1.5 }]);
    } finally {
      await g.stop();
    }
  });

  it('limits a dispatch account given its assets (add-user.sh dispatch ID PASSWORD ASSET...) to them', async () => {
    await promisify(execFile)(join(MOSQUITTO_INFRA, 'add-user.sh'), [
      '--dir',
      broker.dir,
      'dispatch',
      'flexco',
      'flexco-secret',
      'bess-1',
    ]);
    const flexco = await connect(broker.url, {
      username: 'dispatch.flexco',
      password: 'flexco-secret',
      protocolVersion: 5,
    });
    await flexco.publishAsync('gridstream/v1/dispatch/bess-1', '{}', { qos: 1 });
    await expect(
      flexco.publishAsync('gridstream/v1/dispatch/bess-2', '{}', { qos: 1 }),
    ).rejects.toMatchObject({ code: 135 });
    await flexco.endAsync();
  });

  // The bridge alone needs Kafka; with the other roles beside it, `gridstream run` prints the same line.
  it('does not print the MQTT password of GRIDSTREAM_MQTT_URL when a process running the bridge starts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-bridge-output-'));
    const bridge = await startRole('bridge,processor,api', {
      GRIDSTREAM_MQTT_URL: broker.urlFor('gridstream-ingest'),
      GRIDSTREAM_DATA_DIR: dataDir,
      GRIDSTREAM_API_KEYS: TEST_API_KEY,
    });
    try {
      const output = bridge.output();
      expect(output).toMatch(/MQTT mqtt:\/\/gridstream-ingest:\*\*\*@127\.0\.0\.1:\d+/);
      expect(output).not.toContain(ingestPassword);
    } finally {
      await bridge.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
