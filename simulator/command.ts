import { existsSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { redactUrl } from '../core/redact.js';
import { DAY_MS, SLOT_MS, parseTimestamp } from '../core/time.js';
import {
  CsvFileWriter,
  GroundTruth,
  IMPEDANCE_CSV_HEADER,
  TRUTH_CSV_HEADER,
  impedanceCsvLine,
  impedanceTruth,
  truthCsvLine,
  type DtSlotTruth,
} from './ground-truth.js';
import {
  SIMULATION_DEFAULTS,
  buildTopology,
  createSimulation,
  type SimFlexEvent,
  type Simulation,
  type SimulationOptions,
} from './model.js';
import { publishMessages, type PublishResult } from './publisher.js';
import { topologyDocument, writeTopologyFiles, type TopologyDocument } from './topology-files.js';

/**
 * `gridstream simulate`: simulates a feeder and publishes its meters' and weather stations' messages to an
 * MQTT broker, optionally writing the topology (for `gridstream topology load`) and the ground truth.
 */
export interface SimulateOptions {
  /** Broker URL: mqtt://, mqtts://, tcp://, ws:// or wss://; it may carry the credentials. */
  mqttUrl: string;
  /** MQTT account (else the URL's): a head-end account may publish for every simulated meter. */
  username?: string;
  password?: string;
  /** PEM CA certificate(s) that a mqtts:// broker's certificate is checked against (default: Node's). */
  ca?: Buffer;
  /** Everything random derives from it (default 1). */
  seed?: number;
  /** Number of DTs (default 5). */
  transformers?: number;
  /** Meters per DT (default 40). */
  meters?: number;
  /** Feeders, one weather station each (default 1). */
  feeders?: number;
  /**
   * Length of the simulated window in days (fractions allowed; 0 with follow = start now). Give at most two
   * of days, start and end: days alone (or nothing: 1 day) ends the window now (or, with follow, never) and
   * starts it on the quarter hour `days` before now.
   */
  days?: number;
  /** Window start: ISO-8601 with a zone, a UTC date (YYYY-MM-DD) or epoch ms. */
  start?: string | number;
  /** Window end (exclusive), as start; not with follow. */
  end?: string | number;
  /** Reading interval in seconds: a multiple of 60 that divides a day (default 60). */
  intervalS?: number;
  evShare?: number;
  pvShare?: number;
  silentShare?: number;
  /** Share of meters with a behind-the-meter battery, a topology asset (default 0). */
  batteryShare?: number;
  /** Flexibility events the simulated batteries respond to (each listed battery moves its meter by `kw`). */
  flexEvents?: readonly SimFlexEvent[];
  backfillSilent?: boolean;
  /** 0 = as fast as possible (default); N = N× real time. */
  speed?: number;
  /** After catching up with the present, keep simulating in real time until the signal fires. */
  follow?: boolean;
  /** Write the topology here first: a JSON file, or transformers.csv and meters.csv when it is a directory. */
  topologyOut?: string;
  /**
   * Write the ground truth: the DT slot truth CSV at this path and the impedance truth beside it
   * (`<name>.impedance.csv`); or, for a directory, `dt-slot-truth.csv` and `impedance-truth.csv` in it.
   */
  truthOut?: string;
  /** Progress bar on stderr. */
  progress?: boolean;
  signal?: AbortSignal;
  /** With follow: called once, when the history is published and the run goes on in real time. */
  onLive?: (published: PublishResult) => void;
  /** The present, epoch ms (default: the clock; for tests). */
  now?: number;
}

export interface SimulateResult extends PublishResult {
  /** The simulated window: start, and end (null when following). */
  startMs: number;
  endMs: number | null;
  topologyFiles: string[];
  truthFiles: string[];
}

export class SimulateOptionsError extends Error {
  override readonly name = 'SimulateOptionsError';
}

const URL_PROTOCOLS = ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:'];

function fail(message: string): never {
  throw new SimulateOptionsError(message);
}

function integerOption(
  name: string,
  value: number | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    fail(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
  return value;
}

function shareOption(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    fail(`${name} must be a share from 0 to 1 (got ${JSON.stringify(value)})`);
  return value;
}

function timeOption(name: string, value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) value = `${value}T00:00:00Z`;
  else if (typeof value === 'string' && /^\d+$/.test(value)) value = Number(value);
  const ms = typeof value === 'string' || typeof value === 'number' ? parseTimestamp(value) : 'not a time';
  if (typeof ms === 'string')
    fail(`${name} must be an ISO-8601 time with a zone, a UTC date (YYYY-MM-DD) or epoch ms: ${ms}`);
  return ms;
}

/** Validates the options and turns them into model options (the window resolved against `now`). */
export function planSimulation(options: SimulateOptions): SimulationOptions {
  if (!options || typeof options !== 'object') fail('options are required');
  const now = options.now ?? Date.now();
  const seed = integerOption('seed', options.seed, 0, Number.MAX_SAFE_INTEGER) ?? 1;
  const transformers = integerOption('transformers', options.transformers, 1, 9999);
  const meters = integerOption('meters', options.meters, 1, 10_000);
  const feeders = integerOption('feeders', options.feeders, 1, 99);
  if (feeders !== undefined && feeders > (transformers ?? SIMULATION_DEFAULTS.transformers))
    fail(
      `feeders (${feeders}) must not exceed transformers (${transformers ?? SIMULATION_DEFAULTS.transformers})`,
    );
  const intervalS = options.intervalS ?? SIMULATION_DEFAULTS.intervalMs / 1000;
  if (!Number.isInteger(intervalS) || intervalS <= 0 || intervalS % 60 !== 0 || 86_400 % intervalS !== 0)
    fail(
      `intervalS must be a multiple of 60 that divides a day, e.g. 60, 300 or 900 (got ${JSON.stringify(intervalS)})`,
    );
  const intervalMs = intervalS * 1000;
  if (
    options.speed !== undefined &&
    !(typeof options.speed === 'number' && Number.isFinite(options.speed) && options.speed >= 0)
  )
    fail(
      `speed must be 0 (as fast as possible) or a positive factor of real time (got ${JSON.stringify(options.speed)})`,
    );
  if (options.backfillSilent !== undefined && typeof options.backfillSilent !== 'boolean')
    fail(`backfillSilent must be true or false (got ${JSON.stringify(options.backfillSilent)})`);

  const days = options.days;
  if (days !== undefined && !(typeof days === 'number' && Number.isFinite(days) && days >= 0 && days <= 3660))
    fail(`days must be a number of days from 0 to 3660 (got ${JSON.stringify(days)})`);
  if (days === 0 && options.follow !== true)
    fail('days must be greater than 0 (0 only with follow: start now)');
  let start = timeOption('start', options.start);
  let end = timeOption('end', options.end);
  const follow = options.follow === true;
  if (follow && end !== undefined)
    fail('end cannot be combined with follow: a followed run goes on until stopped');
  if (days !== undefined && start !== undefined && end !== undefined)
    fail('give at most two of days, start and end');
  if (follow && days !== undefined && start !== undefined)
    fail('with follow, give either days or start: the run starts there and goes on until stopped');
  const daysMs = days === undefined ? undefined : Math.round(days * DAY_MS);
  const nowAligned = Math.floor(now / intervalMs) * intervalMs;
  if (start === undefined) {
    if (end !== undefined) start = end - (daysMs ?? DAY_MS);
    else start = Math.floor((now - (daysMs ?? DAY_MS)) / SLOT_MS) * SLOT_MS;
  } else if (end === undefined && daysMs !== undefined && !follow) end = start + daysMs;
  if (follow) end = Number.POSITIVE_INFINITY;
  else end ??= nowAligned;
  if (start < 0) fail(`start must not be before 1970 (got ${start})`);
  if (end - start < intervalMs)
    fail(
      `the window from ${new Date(start).toISOString()} to ${new Date(end).toISOString()} is shorter than one reading interval`,
    );

  return {
    seed,
    transformers,
    metersPerTransformer: meters,
    feeders,
    startMs: start,
    endMs: end,
    intervalMs,
    evShare: shareOption('evShare', options.evShare),
    pvShare: shareOption('pvShare', options.pvShare),
    silentShare: shareOption('silentShare', options.silentShare),
    batteryShare: shareOption('batteryShare', options.batteryShare),
    backfillSilent: options.backfillSilent,
    flexEvents: options.flexEvents,
  };
}

/** The topology a simulate run with these options publishes for (what the demo loads before publishing). */
export function simulateTopology(
  options: Pick<SimulateOptions, 'seed' | 'transformers' | 'meters' | 'feeders' | 'batteryShare'>,
): TopologyDocument {
  return topologyDocument(
    buildTopology({
      seed: integerOption('seed', options.seed, 0, Number.MAX_SAFE_INTEGER) ?? 1,
      transformers: integerOption('transformers', options.transformers, 1, 9999),
      metersPerTransformer: integerOption('meters', options.meters, 1, 10_000),
      feeders: integerOption('feeders', options.feeders, 1, 99),
      batteryShare: shareOption('batteryShare', options.batteryShare),
    }),
  );
}

function isDirectoryPath(path: string): boolean {
  return (existsSync(path) && statSync(path).isDirectory()) || path.endsWith('/') || path.endsWith(sep);
}

export function truthPaths(truthOut: string): { slots: string; impedance: string } {
  if (isDirectoryPath(truthOut))
    return { slots: join(truthOut, 'dt-slot-truth.csv'), impedance: join(truthOut, 'impedance-truth.csv') };
  return { slots: truthOut, impedance: `${truthOut.replace(/\.csv$/i, '')}.impedance.csv` };
}

export async function runSimulate(options: SimulateOptions): Promise<SimulateResult> {
  if (typeof options?.mqttUrl !== 'string' || !options.mqttUrl)
    fail('mqttUrl is required, e.g. mqtt://localhost:1883');
  let protocol: string;
  try {
    protocol = new URL(options.mqttUrl).protocol;
  } catch {
    fail(`mqttUrl is not a URL: ${JSON.stringify(options.mqttUrl)}`);
  }
  if (!URL_PROTOCOLS.includes(protocol))
    fail(
      `mqttUrl must use one of ${URL_PROTOCOLS.join(' ')} (got ${JSON.stringify(redactUrl(options.mqttUrl))})`,
    );
  const plan = planSimulation(options);
  let sim: Simulation;
  try {
    sim = createSimulation(plan);
  } catch (error) {
    throw new SimulateOptionsError((error as Error).message);
  }

  const topologyFiles = options.topologyOut ? writeTopologyFiles(options.topologyOut, sim.topology, sim) : [];
  const paths = options.truthOut ? truthPaths(options.truthOut) : null;
  const slotWriter = paths ? new CsvFileWriter(paths.slots, TRUTH_CSV_HEADER) : null;
  const truth = slotWriter
    ? new GroundTruth(sim.topology.meters, { intervalMs: sim.options.intervalMs })
    : null;
  // A few rows per slot and DT: written as they become final, without waiting for the disk.
  const writeRows = (rows: DtSlotTruth[]) => slotWriter?.write(rows.map(truthCsvLine));

  let result: PublishResult | null = null;
  try {
    result = await publishMessages(sim.messages(), {
      url: options.mqttUrl,
      username: options.username,
      password: options.password,
      ca: options.ca,
      speed: options.speed ?? 0,
      follow: options.follow === true,
      signal: options.signal,
      progress: options.progress === true,
      startMs: sim.options.startMs,
      endMs: sim.options.endMs,
      onPublished: truth ? (message) => writeRows(truth.add(message)) : undefined,
      onLive: options.onLive,
    });
  } finally {
    if (truth && slotWriter && paths) {
      writeRows(truth.finish());
      await slotWriter.close();
      const impedanceWriter = new CsvFileWriter(paths.impedance, IMPEDANCE_CSV_HEADER);
      if (result?.firstTs != null && result.lastTs != null) {
        const rows = impedanceTruth(sim, result.firstTs, result.lastTs + sim.options.intervalMs);
        const batch: string[] = [];
        for (const row of rows) {
          batch.push(impedanceCsvLine(row));
          if (batch.length >= 10_000) await impedanceWriter.writeLines(batch.splice(0));
        }
        await impedanceWriter.writeLines(batch);
      }
      await impedanceWriter.close();
    }
  }
  return {
    ...result,
    startMs: sim.options.startMs,
    endMs: Number.isFinite(sim.options.endMs) ? sim.options.endMs : null,
    topologyFiles,
    truthFiles: paths ? [paths.slots, paths.impedance] : [],
  };
}
