/**
 * The benchmarks' meters: a separate process that simulates a fleet (simulator/model.ts) and publishes its
 * telemetry over MQTT with QoS 1, as `node dist/bench/publisher.js '<PublisherOptions as JSON>'`. It prints
 * its counts (PublisherResult) as JSON on the last line of stdout.
 *
 * - The model runs in a worker thread, which renders each message's payload ahead of time; the main thread
 *   only paces and publishes, so the simulator's own CPU time does not stall publishing.
 * - A meter publishes `readingsPerMessage` one-minute readings per message (a JSON array, as the MQTT contract allows, docs/api.md;
 *   1 = one reading object per message). Batches are aligned to multiples of that many minutes, so with 15 a
 *   meter sends the readings of one 15-minute slot at the slot's end, as AMI meters that upload every quarter
 *   hour do. Weather stations publish one observation per minute.
 * - Meters are spread over `meterUrls`, one MQTT connection per URL (each with its own account).
 * - Pacing: `rate` readings/s, or 0 for as fast as the broker acknowledges. With `maxBacklog`, the parent
 *   reports over IPC how many readings have landed (stored or dead-lettered) and publishing waits while more
 *   than that many are published but not landed: a closed loop that measures what the pipeline sustains
 *   without letting a broker queue grow without bound.
 * - Slot closes: the publisher notes, for each 15-minute slot, the wall-clock instant at which it published the
 *   first message holding a reading at or past the slot's end plus the allowed lateness (the event time at
 *   which processors/load-envelope/load-envelope.ts closes the slot). See bench/distributed.ts for how that is used.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import mqtt, { type MqttClient } from 'mqtt';
import { planSimulation } from '../simulator/command.js';
import { createSimulation, telemetryTopic, weatherTopic } from '../simulator/model.js';
import { SLOT_MS, slotStart } from '../core/time.js';

export interface FleetOptions {
  seed: number;
  transformers: number;
  /** Meters per DT. */
  meters: number;
  /** Simulated window, epoch ms. */
  startMs: number;
  endMs: number;
  readingsPerMessage: number;
}

export interface PublisherOptions extends FleetOptions {
  /** One MQTT connection per URL; meter i publishes over connection i mod meterUrls.length. */
  meterUrls: string[];
  /** The weather stations' connection; null publishes no weather. */
  weatherUrl: string | null;
  /** Stop after this many wall-clock seconds (default: once the simulated window is published). */
  seconds?: number;
  /** Offered load, readings/s; 0 = as fast as the broker acknowledges. */
  rate: number;
  /** Readings published but not yet landed allowed at once (needs the parent's IPC reports); 0 = no limit. */
  maxBacklog: number;
  /** A slot closes once a reading at or past its end plus this much has been published. */
  allowedLatenessMs: number;
  /** Messages awaiting their PUBACK, per connection (default 1000). */
  maxInFlight?: number;
  /**
   * Render every message into this file before the first publish, then publish from it: the meters' model
   * then takes no CPU time while the pipeline is measured (a finite window only). Removed afterwards.
   */
  prerenderFile?: string;
}

export interface PublisherResult {
  /** Meter readings published (each element of an array message counts). */
  readings: number;
  /** Telemetry messages published. */
  messages: number;
  /** Weather observations published (one message each). */
  weather: number;
  /** Wall clock (epoch ms) of the first and last publish, and of the last PUBACK. */
  firstPublishAt: number;
  lastPublishAt: number;
  ackedAt: number;
  /** Event time of the first and last reading published. */
  firstTs: number;
  lastTs: number;
  /** [slot start, wall-clock ms] when the first reading closing that slot was published. */
  closes: Array<[number, number]>;
  /** Wall-clock ms the publisher spent waiting for the backlog to drain (closed loop). */
  backlogWaitMs: number;
  /** CPU time (all its threads) the publisher used from its first publish to its last PUBACK, in seconds. */
  cpuSeconds: number;
}

/** What the publisher reports to its parent over IPC, about once a second. */
export interface PublisherProgress {
  published: number;
  messages: number;
  /** Readings rendered ahead of publishing (prerenderFile). */
  rendered: number;
  /** Publishing has begun (after any rendering). */
  publishing: boolean;
}

/** Messages rendered by the worker: payload i is data[offsets[i], offsets[i + 1]). */
interface Chunk {
  kind: 'telemetry' | 'weather';
  /** Meter index (telemetry) or station index (weather) per message. */
  sources: Int32Array;
  offsets: Int32Array;
  data: Uint8Array;
  /** Readings per message. */
  readings: number;
  /** Event time of the oldest and newest reading in every message of the chunk. */
  firstTs: number;
  lastTs: number;
}

const CHUNK_MESSAGES = 2000;
const CHUNK_BYTES = 4 * 2 ** 20;
/** Chunks the worker may render ahead of publishing. */
const CHUNKS_AHEAD = 16;

/** Chunk header in a prerendered file: kind (0 telemetry, 1 weather), messages, readings, firstTs, lastTs, bytes. */
const HEADER_BYTES = 6 * 8;

function writeChunk(fd: number, chunk: Chunk): void {
  const header = new Float64Array([
    chunk.kind === 'telemetry' ? 0 : 1,
    chunk.sources.length,
    chunk.readings,
    chunk.firstTs,
    chunk.lastTs,
    chunk.data.byteLength,
  ]);
  for (const part of [header, chunk.sources, chunk.offsets, chunk.data])
    writeSync(fd, new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
}

function readChunk(fd: number): Chunk | null {
  const read = (bytes: number) => {
    const buffer = Buffer.allocUnsafeSlow(bytes);
    let done = 0;
    while (done < bytes) {
      const n = readSync(fd, buffer, done, bytes - done, null);
      if (n === 0) break;
      done += n;
    }
    return done === bytes ? buffer : null;
  };
  const head = read(HEADER_BYTES);
  if (!head) return null;
  const [kind, count, readings, firstTs, lastTs, bytes] = new Float64Array(head.buffer, 0, 6);
  const sources = new Int32Array(read(count! * 4)!.buffer, 0, count!);
  const offsets = new Int32Array(read((count! + 1) * 4)!.buffer, 0, count! + 1);
  const data = bytes! > 0 ? read(bytes!)! : Buffer.alloc(0);
  return {
    kind: kind === 0 ? 'telemetry' : 'weather',
    sources,
    offsets,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    readings: readings!,
    firstTs: firstTs!,
    lastTs: lastTs!,
  };
}

/** The rendered messages in order, from the worker as it renders them: null at the end. */
function renderedChunks(options: FleetOptions, onFailure: (error: Error) => void) {
  const worker = new Worker(new URL(import.meta.url), { workerData: options satisfies FleetOptions });
  const chunks: Array<Chunk | 'done'> = [];
  let wake: (() => void) | null = null;
  let failed = false;
  worker.on('message', (message: Chunk | 'done') => {
    chunks.push(message);
    wake?.();
  });
  worker.on('error', (error) => {
    failed = true;
    onFailure(error);
    wake?.();
  });
  return {
    async next(): Promise<Chunk | null> {
      while (chunks.length === 0 && !failed) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      const chunk = chunks.shift();
      if (!chunk || chunk === 'done') return null;
      worker.postMessage('credit');
      return chunk;
    },
    close: () => worker.terminate(),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function simulation(options: FleetOptions) {
  return createSimulation(
    planSimulation({
      mqttUrl: 'mqtt://unused',
      seed: options.seed,
      transformers: options.transformers,
      meters: options.meters,
      start: options.startMs,
      end: options.endMs,
      silentShare: 0,
      now: options.endMs,
    }),
  );
}

/** Worker thread: runs the model and renders messages in time order, a bounded number of chunks ahead. */
async function renderMessages(options: FleetOptions): Promise<void> {
  const port = parentPort!;
  let credit = CHUNKS_AHEAD;
  let wake: (() => void) | null = null;
  port.on('message', () => {
    credit++;
    wake?.();
  });
  const post = async (chunk: Chunk) => {
    while (credit <= 0) await new Promise<void>((resolve) => (wake = resolve));
    wake = null;
    credit--;
    port.postMessage(chunk, [chunk.sources.buffer, chunk.offsets.buffer, chunk.data.buffer] as never);
  };
  const render = (
    kind: Chunk['kind'],
    sources: number[],
    payloads: string[],
    readings: number,
    firstTs: number,
    lastTs: number,
  ): Chunk => {
    const offsets = new Int32Array(payloads.length + 1);
    let bytes = 0;
    for (let i = 0; i < payloads.length; i++) {
      offsets[i] = bytes;
      bytes += Buffer.byteLength(payloads[i]!);
    }
    offsets[payloads.length] = bytes;
    const data = Buffer.allocUnsafeSlow(bytes);
    for (let i = 0; i < payloads.length; i++) data.write(payloads[i]!, offsets[i]!);
    return {
      kind,
      sources: Int32Array.from(sources),
      offsets,
      data: new Uint8Array(data.buffer, 0, bytes),
      readings,
      firstTs,
      lastTs,
    };
  };

  const sim = simulation(options);
  const n = sim.meters.length;
  const perMessage = options.readingsPerMessage;
  const interval = sim.options.intervalMs;
  // Each meter's readings since its last message, as JSON array elements.
  const pending: string[] = new Array<string>(n).fill('');
  let batchSteps = 0;
  let batchFirstTs = 0;
  const flush = async (lastTs: number) => {
    let sources: number[] = [];
    let payloads: string[] = [];
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const payload = perMessage === 1 ? pending[i]! : `[${pending[i]}]`;
      pending[i] = '';
      sources.push(i);
      payloads.push(payload);
      bytes += payload.length;
      if (payloads.length >= CHUNK_MESSAGES || bytes >= CHUNK_BYTES) {
        await post(render('telemetry', sources, payloads, batchSteps, batchFirstTs, lastTs));
        sources = [];
        payloads = [];
        bytes = 0;
      }
    }
    if (payloads.length) await post(render('telemetry', sources, payloads, batchSteps, batchFirstTs, lastTs));
    batchSteps = 0;
  };

  let lastTs = 0;
  for (const step of sim.steps()) {
    if (batchSteps === 0) batchFirstTs = step.ts;
    for (let i = 0; i < n; i++) {
      const json = JSON.stringify(step.readings[i]);
      pending[i] = batchSteps === 0 ? json : `${pending[i]},${json}`;
    }
    batchSteps++;
    lastTs = step.ts;
    // A batch ends on a multiple of readingsPerMessage intervals (quarter hours for 15 one-minute readings).
    if ((step.emitTs / interval) % perMessage === 0) await flush(step.ts);
    const stations = step.weather.map((_, f) => f);
    await post(
      render(
        'weather',
        stations,
        step.weather.map((w) => JSON.stringify(w)),
        1,
        step.ts,
        step.ts,
      ),
    );
  }
  if (batchSteps > 0) await flush(lastTs);
  port.postMessage('done');
}

/** Publishes the fleet's messages; see the file comment. */
export async function publishFleet(options: PublisherOptions): Promise<PublisherResult> {
  const sim = simulation(options);
  const meterTopics = sim.meters.map((m) => telemetryTopic(m.meter_id));
  const stationTopics = sim.stations.map(weatherTopic);
  const maxInFlight = options.maxInFlight ?? 1000;

  const connect = (url: string, name: string) =>
    mqtt.connectAsync(url, {
      clientId: `gridstream-bench-${name}-${process.pid}`,
      clean: true,
      reconnectPeriod: 0,
    });
  const meterClients = await Promise.all(options.meterUrls.map((url, i) => connect(url, `meters-${i}`)));
  const weatherClient = options.weatherUrl ? await connect(options.weatherUrl, 'weather') : null;
  const inFlight = new Map<MqttClient, number>();
  let failure: Error | null = null;
  let wakeAck: (() => void) | null = null;
  const acked = (client: MqttClient) => (error?: Error) => {
    if (error) failure ??= error;
    inFlight.set(client, inFlight.get(client)! - 1);
    result.ackedAt = Date.now();
    wakeAck?.();
  };
  const ackCallbacks = new Map<MqttClient, (error?: Error) => void>();
  for (const client of [...meterClients, ...(weatherClient ? [weatherClient] : [])]) {
    inFlight.set(client, 0);
    ackCallbacks.set(client, acked(client));
    client.on('error', (error) => (failure ??= error));
  }
  const untilAcked = async (client: MqttClient, limit: number) => {
    while (inFlight.get(client)! > limit && !failure)
      await new Promise<void>((resolve) => (wakeAck = resolve));
    wakeAck = null;
    if (failure) throw failure;
  };

  // Closed loop: the parent reports readings landed.
  let landed = 0;
  let wakeLanded: (() => void) | null = null;
  process.on('message', (message: { landed?: number }) => {
    if (typeof message?.landed === 'number') landed = message.landed;
    wakeLanded?.();
  });

  const result: PublisherResult = {
    readings: 0,
    messages: 0,
    weather: 0,
    firstPublishAt: 0,
    lastPublishAt: 0,
    ackedAt: 0,
    firstTs: Number.NaN,
    lastTs: Number.NaN,
    closes: [],
    backlogWaitMs: 0,
    cpuSeconds: 0,
  };
  let rendered = 0;
  let publishing = false;
  const report = () => {
    if (process.connected)
      process.send!({
        published: result.readings,
        messages: result.messages,
        rendered,
        publishing,
      } satisfies PublisherProgress);
  };
  const progress = setInterval(report, 1000);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const worker = renderedChunks(options, (error) => (failure ??= error));
  let source: { next(): Promise<Chunk | null> } = worker;
  let file: number | null = null;
  if (options.prerenderFile) {
    const out = openSync(options.prerenderFile, 'w');
    try {
      for (let chunk = await worker.next(); chunk; chunk = await worker.next()) {
        writeChunk(out, chunk);
        if (chunk.kind === 'telemetry') rendered += chunk.readings * chunk.sources.length;
      }
    } finally {
      closeSync(out);
    }
    if (failure) throw failure;
    const fd = (file = openSync(options.prerenderFile, 'r'));
    source = { next: async () => readChunk(fd) };
  }
  publishing = true;
  report();

  let nextClose = Number.NaN;
  let cpuAtFirstPublish: NodeJS.CpuUsage | undefined;
  try {
    for (;;) {
      const chunk = await source.next();
      if (failure) throw failure;
      if (!chunk || stopped) break;
      const data = Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength);
      const telemetry = chunk.kind === 'telemetry';
      for (let i = 0; i < chunk.sources.length && !stopped; i++) {
        if (options.rate > 0) {
          const due = result.firstPublishAt + (result.readings / options.rate) * 1000;
          const ahead = due - Date.now();
          if (result.firstPublishAt && ahead > 2) await sleep(ahead);
        }
        if (options.maxBacklog > 0 && telemetry && result.readings - landed > options.maxBacklog) {
          const waitStart = Date.now();
          while (result.readings - landed > options.maxBacklog)
            await new Promise<void>((resolve) => (wakeLanded = resolve));
          wakeLanded = null;
          result.backlogWaitMs += Date.now() - waitStart;
        }
        const client = telemetry ? meterClients[chunk.sources[i]! % meterClients.length]! : weatherClient;
        if (!client) continue;
        await untilAcked(client, maxInFlight - 1);
        const topic = telemetry ? meterTopics[chunk.sources[i]!]! : stationTopics[chunk.sources[i]!]!;
        const now = Date.now();
        inFlight.set(client, inFlight.get(client)! + 1);
        client.publish(
          topic,
          data.subarray(chunk.offsets[i]!, chunk.offsets[i + 1]!),
          { qos: 1 },
          ackCallbacks.get(client),
        );
        if (!result.firstPublishAt) {
          result.firstPublishAt = now;
          cpuAtFirstPublish = process.cpuUsage();
          if (options.seconds) timer = setTimeout(() => (stopped = true), options.seconds * 1000);
        }
        result.lastPublishAt = now;
        if (!telemetry) {
          result.weather++;
          continue;
        }
        result.messages++;
        result.readings += chunk.readings;
        if (Number.isNaN(result.firstTs)) {
          result.firstTs = chunk.firstTs;
          nextClose = slotStart(chunk.firstTs);
        }
        result.lastTs = chunk.lastTs;
        // Slots this message's newest reading closes, in event time: the close instant is now.
        while (nextClose + SLOT_MS + options.allowedLatenessMs <= chunk.lastTs) {
          result.closes.push([nextClose, now]);
          nextClose += SLOT_MS;
        }
      }
      if (stopped) break;
    }
    for (const client of inFlight.keys()) await untilAcked(client, 0);
    const cpu = process.cpuUsage(cpuAtFirstPublish);
    result.cpuSeconds = (cpu.user + cpu.system) / 1e6;
  } finally {
    clearTimeout(timer);
    clearInterval(progress);
    await worker.close();
    if (file !== null) closeSync(file);
    if (options.prerenderFile) rmSync(options.prerenderFile, { force: true });
    await Promise.all([...inFlight.keys()].map((client) => client.endAsync()));
  }
  return result;
}

if (!isMainThread) {
  void renderMessages(workerData as FleetOptions);
} else if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  // A parent that goes away takes its meters with it.
  let finished = false;
  process.on('disconnect', () => finished || process.exit(1));
  const result = await publishFleet(JSON.parse(process.argv[2]!) as PublisherOptions);
  finished = true;
  console.log(JSON.stringify(result));
  if (process.connected) process.disconnect();
}
