import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readTopologyFiles } from '../../core/topology.js';
import { MINUTE_MS } from '../../core/time.js';
import { runSimulate } from '../../simulator/command.js';
import { computeGroundTruth, formatTruthCsv } from '../../simulator/ground-truth.js';
import { createSimulation, type SimMessage } from '../../simulator/model.js';
import { publishMessages } from '../../simulator/publisher.js';
import { topologyDocument } from '../../simulator/topology-files.js';
import { freePort } from '../support/ports.js';

const START = Date.UTC(2026, 4, 4, 16); // evening at the site: EV charging, then night
const HOUR = 3_600_000;

describe('simulator publishing over MQTT', () => {
  let broker: Aedes;
  let server: net.Server;
  let url: string;
  let subscriber: mqtt.MqttClient;
  const received: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gridstream-sim-publish-'));

  beforeAll(async () => {
    broker = await Aedes.createBroker();
    server = net.createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    subscriber = await mqtt.connectAsync(url, { clientId: 'simulator-test-subscriber' });
    subscriber.on('message', (topic, payload) => received.push(`${topic} ${payload.toString('utf8')}`));
    await subscriber.subscribeAsync('gridstream/v1/#', { qos: 1 });
  });

  afterAll(async () => {
    await subscriber?.endAsync();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await new Promise<void>((resolve) => broker?.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    received.length = 0;
  });

  const receivedAll = async (count: number) => {
    const deadline = Date.now() + 20_000;
    while (received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Nothing more than what was published arrives.
    await new Promise((r) => setTimeout(r, 100));
    return received.length;
  };
  const wire = (m: SimMessage) => `${m.topic} ${JSON.stringify(m.payload)}`;

  it('delivers every published message, backfill arrays included, and counts them', async () => {
    const sim = createSimulation({
      seed: 1, // a seed whose silent meters come back within the window
      transformers: 2,
      metersPerTransformer: 10,
      silentShare: 0.5,
      startMs: START,
      endMs: START + 8 * HOUR,
    });
    const published: string[] = [];
    let arrays = 0;
    const result = await publishMessages(sim.messages(), {
      url,
      startMs: START,
      onPublished: (m) => {
        published.push(wire(m));
        if (Array.isArray(m.payload)) arrays++;
      },
    });
    expect(await receivedAll(published.length)).toBe(published.length);
    expect([...received].sort()).toEqual([...published].sort());
    expect(arrays).toBeGreaterThan(0);

    const expected = [...sim.messages()];
    expect(published).toEqual(expected.map(wire));
    expect(result).toEqual({
      messages: expected.length,
      readings: expected.filter((m) => m.kind === 'telemetry').reduce((s, m) => s + m.readings, 0),
      weather: 8 * 60 - 1 + 1,
      firstTs: START,
      lastTs: START + 8 * HOUR - MINUTE_MS,
      aborted: false,
    });
    expect(result.readings).toBeLessThanOrEqual(20 * 8 * 60);
  });

  it('runs the simulate command: topology and ground truth files, counts matching what arrived', async () => {
    const result = await runSimulate({
      mqttUrl: url,
      seed: 4,
      transformers: 2,
      meters: 8,
      start: new Date(START).toISOString(),
      end: new Date(START + 3 * HOUR).toISOString(),
      silentShare: 0.25,
      topologyOut: join(dir, 'topology.json'),
      truthOut: join(dir, 'truth.csv'),
    });
    expect(await receivedAll(result.messages)).toBe(result.messages);
    expect(result).toMatchObject({
      weather: 180,
      startMs: START,
      endMs: START + 3 * HOUR,
      aborted: false,
      topologyFiles: [join(dir, 'topology.json'), join(dir, 'topology.lv-network.csv')],
      truthFiles: [join(dir, 'truth.csv'), join(dir, 'truth.impedance.csv')],
    });
    const readings = received
      .filter((line) => line.includes('/telemetry '))
      .reduce((s, line) => {
        const payload = JSON.parse(line.slice(line.indexOf(' ') + 1)) as unknown;
        return s + (Array.isArray(payload) ? payload.length : 1);
      }, 0);
    expect(readings).toBe(result.readings);
    expect(readings).toBeGreaterThan(0.9 * 16 * 180);
    expect(readings).toBeLessThanOrEqual(16 * 180);
    expect(received.filter((line) => line.startsWith('gridstream/v1/weather/ws-01 '))).toHaveLength(180);

    const sim = createSimulation({
      seed: 4,
      transformers: 2,
      metersPerTransformer: 8,
      silentShare: 0.25,
      startMs: START,
      endMs: START + 3 * HOUR,
    });
    expect(readTopologyFiles([join(dir, 'topology.json')])).toEqual(topologyDocument(sim.topology));
    const truth = readFileSync(join(dir, 'truth.csv'), 'utf8');
    expect(truth).toBe(formatTruthCsv(computeGroundTruth(sim.messages(), sim.topology.meters)));
    expect(truth.split('\n')).toHaveLength(1 + 2 * 12 + 1);
    const impedance = readFileSync(join(dir, 'truth.impedance.csv'), 'utf8').trim().split('\n');
    expect(impedance[0]).toBe('meter_id,leg,day,impedance_mohm');
    expect(impedance).toHaveLength(1 + sim.meters.reduce((s, m) => s + m.legs, 0));
  });

  it('paces publishing at N× real time', async () => {
    const t0 = Date.now();
    const result = await runSimulate({
      mqttUrl: url,
      seed: 1,
      transformers: 1,
      meters: 5,
      start: START,
      end: START + HOUR,
      speed: 7200, // one simulated hour in half a second
    });
    const elapsed = Date.now() - t0;
    expect(result.readings).toBe(5 * 60);
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(5000);
    expect(await receivedAll(result.messages)).toBe(result.messages);
  });

  it('follows the present in real time until stopped, publishing nothing ahead of it', async () => {
    const abort = new AbortController();
    let live: { readings: number } | null = null;
    const t0 = Date.now();
    const run = runSimulate({
      mqttUrl: url,
      seed: 2,
      transformers: 1,
      meters: 4,
      start: Math.floor((t0 - 20 * MINUTE_MS) / MINUTE_MS) * MINUTE_MS,
      follow: true,
      signal: abort.signal,
      onLive: (published) => {
        live = published;
        setTimeout(() => abort.abort(), 300);
      },
    });
    const result = await run;
    expect(result.aborted).toBe(true);
    expect(live).not.toBeNull();
    expect(live!.readings).toBeGreaterThanOrEqual(4 * 19);
    expect(result.endMs).toBeNull();
    // Every reading published covers an interval that had ended in real time.
    expect(result.lastTs! + MINUTE_MS).toBeLessThanOrEqual(Date.now());
    expect(result.lastTs! + MINUTE_MS).toBeGreaterThan(t0 - 2 * MINUTE_MS);
    expect(await receivedAll(result.messages)).toBe(result.messages);
  });

  it('keeps at most the allowed messages in flight', async () => {
    const sim = createSimulation({
      seed: 5,
      transformers: 1,
      metersPerTransformer: 3,
      startMs: START,
      endMs: START + HOUR,
    });
    const result = await publishMessages(sim.messages(), { url, maxInFlight: 1 });
    expect(result.messages).toBe(4 * 60);
    expect(await receivedAll(result.messages)).toBe(result.messages);
  });

  it('fails clearly when the broker cannot be reached', async () => {
    const port = await freePort();
    await expect(
      runSimulate({ mqttUrl: `mqtt://127.0.0.1:${port}`, start: START, end: START + HOUR }),
    ).rejects.toThrow(/could not connect to the MQTT broker/);
  });
});
