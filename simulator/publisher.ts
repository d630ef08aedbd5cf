import { connectAsync, type MqttClient } from 'mqtt';
import cliProgress from 'cli-progress';
import { redactUrl } from '../core/redact.js';
import { MINUTE_MS, iso } from '../core/time.js';
import type { SimMessage } from './model.js';

/**
 * Publishes a simulated message stream to an MQTT broker, as the meters and weather stations would: QoS 1, one
 * message per reading (or one array per backfill), nothing else. At most `maxInFlight` messages wait for the
 * broker's acknowledgement at any time, so memory stays bounded and the broker sets the pace.
 *
 * Pacing follows each message's simulated send time: `speed` 0 publishes as fast as the broker takes it,
 * `speed` N at N× real time. With `follow`, no message is published before its send time has come in real
 * time, so once the simulation reaches the present it runs at 1× (the message stream should then be endless;
 * stop it with the signal).
 */
export interface PublishOptions {
  /** Broker URL, e.g. mqtt://localhost:1883; it may carry the credentials. */
  url: string;
  /** MQTT account, when not in the URL. */
  username?: string;
  password?: string;
  /** PEM CA certificate(s) for a mqtts:// broker. */
  ca?: Buffer;
  /** 0 = as fast as possible (default); N = N× real time. */
  speed?: number;
  /** Never publish ahead of real time: after catching up with the present, continue at 1×. */
  follow?: boolean;
  /** Stops publishing cleanly: messages in flight are acknowledged (or given up after a few seconds). */
  signal?: AbortSignal;
  /** Show a progress bar over simulated time on stderr. */
  progress?: boolean;
  /** Simulated window, for pacing and the progress bar (default: from the first message, open-ended). */
  startMs?: number;
  endMs?: number;
  /** Unacknowledged messages allowed at once (default 500). */
  maxInFlight?: number;
  clientId?: string;
  /** With follow: called once, when publishing has caught up with the present (counts so far). */
  onLive?: (published: PublishResult) => void;
  /** Called for every message handed to the broker, in order. */
  onPublished?: (message: SimMessage) => void;
  /** Wall clock, epoch ms (tests). */
  now?: () => number;
}

export interface PublishResult {
  /** MQTT messages published. */
  messages: number;
  /** Meter readings in them (an array message counts each of its readings). */
  readings: number;
  /** Weather observations published. */
  weather: number;
  /** Earliest and latest reading time published (epoch ms), or null when nothing was. */
  firstTs: number | null;
  lastTs: number | null;
  /** Stopped by the signal before the stream ended. */
  aborted: boolean;
}

const DEFAULT_MAX_IN_FLIGHT = 500;
const DRAIN_TIMEOUT_MS = 10_000;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Progress over simulated time, with the recent publishing rate. */
class Progress {
  private readonly bar: cliProgress.SingleBar;
  private readonly startMs: number;
  private rateAt: number;
  private rateReadings = 0;
  private rate = 0;
  private lastRender = 0;

  constructor(
    startMs: number,
    private readonly endMs: number,
    private readonly now: () => number,
  ) {
    this.startMs = startMs;
    this.rateAt = now();
    this.bar = new cliProgress.SingleBar(
      {
        format: 'simulate |{bar}| {percentage}% | {sim} | {readings} readings | {rate} readings/s',
        hideCursor: true,
        stopOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(this.totalMinutes(), 0, { sim: iso(startMs), readings: 0, rate: 0 });
  }

  private totalMinutes(): number {
    // An open-ended (follow) run: the present is the goal until it is reached.
    const end = Number.isFinite(this.endMs) ? this.endMs : Math.max(this.now(), this.startMs + MINUTE_MS);
    return Math.max(1, Math.round((end - this.startMs) / MINUTE_MS));
  }

  update(simMs: number, readings: number): void {
    const now = this.now();
    if (now - this.rateAt >= 1000) {
      this.rate = Math.round(((readings - this.rateReadings) * 1000) / (now - this.rateAt));
      this.rateAt = now;
      this.rateReadings = readings;
    }
    if (now - this.lastRender < 100) return;
    this.lastRender = now;
    const value = Math.round((simMs - this.startMs) / MINUTE_MS);
    const total = Math.max(this.totalMinutes(), value);
    if (total !== this.bar.getTotal()) this.bar.setTotal(total);
    this.bar.update(value, { sim: iso(simMs), readings, rate: this.rate });
  }

  stop(simMs: number, readings: number): void {
    this.lastRender = 0;
    this.update(simMs, readings);
    this.bar.stop();
  }
}

export async function publishMessages(
  messages: Iterable<SimMessage>,
  options: PublishOptions,
): Promise<PublishResult> {
  const speed = options.speed ?? 0;
  if (!(speed >= 0 && Number.isFinite(speed)))
    throw new Error(`speed must be 0 or a positive number (got ${speed})`);
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1))
    throw new Error(`maxInFlight must be a positive integer (got ${maxInFlight})`);
  const now = options.now ?? Date.now;
  const signal = options.signal;
  const result: PublishResult = {
    messages: 0,
    readings: 0,
    weather: 0,
    firstTs: null,
    lastTs: null,
    aborted: false,
  };
  if (signal?.aborted) return { ...result, aborted: true };

  let client: MqttClient;
  try {
    client = await connectAsync(
      options.url,
      {
        clientId: options.clientId ?? `gridstream-sim-${process.pid}-${Math.floor(Math.random() * 1e9)}`,
        clean: true,
        ...(options.username === undefined ? {} : { username: options.username }),
        ...(options.password === undefined ? {} : { password: options.password }),
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
      false,
    );
  } catch (error) {
    throw new Error(
      `could not connect to the MQTT broker at ${redactUrl(options.url)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  let failure: Error | null = null;
  client.on('error', (error) => (failure ??= error));

  let inFlight = 0;
  let wake: (() => void) | null = null;
  const wakeUp = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  signal?.addEventListener('abort', wakeUp);
  const settled = () => {
    inFlight--;
    wakeUp();
  };
  /** Waits until the condition holds, a publish fails, or the timeout passes. */
  const waitUntil = async (condition: () => boolean, timeoutMs = Number.POSITIVE_INFINITY) => {
    const deadline = Date.now() + timeoutMs;
    while (!condition() && !failure) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(left) ? setTimeout(wakeUp, left) : undefined;
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return condition();
  };
  const isAborted = () => signal?.aborted === true;

  let progress: Progress | null = null;
  let wallStart = 0;
  let simStart = options.startMs ?? Number.NaN;
  let currentTs = Number.NaN;
  let simNow = simStart;
  let live = false;
  // Live readings of one send time share their ts: one parse per send time (and per backfill array) suffices.
  let timeNoted = false;
  const noteTime = (reading: { ts: string } | undefined) => {
    if (!reading) return;
    const ms = Date.parse(reading.ts);
    if (result.firstTs === null || ms < result.firstTs) result.firstTs = ms;
    if (result.lastTs === null || ms > result.lastTs) result.lastTs = ms;
  };

  try {
    for (const message of messages) {
      if (signal?.aborted) {
        result.aborted = true;
        break;
      }
      if (failure) throw failure;
      if (message.ts !== currentTs) {
        // A new simulated instant: pace, then let the progress bar know.
        currentTs = message.ts;
        if (Number.isNaN(simStart)) simStart = message.ts;
        if (wallStart === 0) {
          wallStart = now();
          if (options.progress)
            progress = new Progress(simStart, options.endMs ?? Number.POSITIVE_INFINITY, now);
        }
        let target = speed > 0 ? wallStart + (message.ts - simStart) / speed : Number.NEGATIVE_INFINITY;
        if (options.follow) {
          if (!live && message.ts > now()) {
            live = true;
            options.onLive?.({ ...result });
          }
          target = Math.max(target, message.ts);
        }
        const wait = target - now();
        if (wait > 0) {
          progress?.update(simNow, result.readings);
          await sleep(wait, signal);
          if (signal?.aborted) {
            result.aborted = true;
            break;
          }
        }
        simNow = message.ts;
        timeNoted = false;
        progress?.update(simNow, result.readings);
      }
      if (message.kind === 'telemetry') {
        if (Array.isArray(message.payload)) noteTime(message.payload[0]);
        else if (!timeNoted) {
          noteTime(message.payload);
          timeNoted = true;
        }
      }

      if (inFlight >= maxInFlight) await waitUntil(() => inFlight < maxInFlight || isAborted());
      if (failure) throw failure;
      if (signal?.aborted) {
        result.aborted = true;
        break;
      }
      inFlight++;
      client
        .publishAsync(message.topic, JSON.stringify(message.payload), { qos: 1 })
        .then(settled, (error: Error) => {
          failure ??= error;
          settled();
        });
      options.onPublished?.(message);
      result.messages++;
      if (message.kind === 'telemetry') result.readings += message.readings;
      else result.weather++;
    }
    // Wait for the broker to acknowledge what is in flight; after an abort, only for a while.
    let drained = await waitUntil(() => inFlight === 0 || isAborted());
    if (!drained || inFlight > 0) drained = await waitUntil(() => inFlight === 0, DRAIN_TIMEOUT_MS);
    if (failure) throw failure;
    await client.endAsync(!drained);
  } catch (error) {
    await client.endAsync(true).catch(() => undefined);
    throw error;
  } finally {
    signal?.removeEventListener('abort', wakeUp);
    progress?.stop(simNow, result.readings);
  }
  return result;
}
