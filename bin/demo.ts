import { readFileSync } from 'node:fs';
import { startGridstream } from '../app/start-gridstream.js';
import type { GridstreamConfig } from '../core/config.js';
import { generatePassword } from '../core/password-hash.js';
import { redactUrl } from '../core/redact.js';
import { runSimulate, simulateTopology } from '../simulator/command.js';
import type { SimFlexEvent } from '../simulator/model.js';
import { DAY_MS, iso, SLOT_MS } from '../core/time.js';
import { stopOnSignal } from './cli.js';

/**
 * The demo: a whole embedded gridstream plus a simulated feeder publishing to it. The simulator publishes
 * `days` of history as fast as the pipeline takes it, then keeps going in real time (unless --no-follow).
 */
export async function runDemo(options: {
  config: GridstreamConfig;
  transformers: number;
  meters: number;
  days: number;
  seed: number;
  follow: boolean;
}): Promise<void> {
  const started = Date.now();
  // The simulator publishes for every meter: a head-end account, generated here and kept only hashed by
  // the broker (besides this process's memory, for the simulator).
  const mqttUser = 'demo-head-end';
  const mqttPassword = generatePassword();
  const config = {
    ...options.config,
    mqttUsers: [options.config.mqttUsers, `${mqttUser}:${mqttPassword}`].filter(Boolean).join(','),
  };
  const gridstream = await startGridstream(config);
  const abort = new AbortController();
  let simulation: Promise<unknown> = Promise.resolve();
  stopOnSignal(async () => {
    abort.abort();
    await simulation.catch(() => {});
    await gridstream.stop();
  });

  const topology = simulateTopology({
    seed: options.seed,
    transformers: options.transformers,
    meters: options.meters,
    batteryShare: DEMO_BATTERY_SHARE,
  });
  const version = await gridstream.pipeline.loadTopology(topology, 'demo simulator');
  const key = gridstream.generatedApiKey ?? options.config.apiKeys!.split(',')[0]!.split(':')[0]!;
  const firstDt = topology.transformers[0]!.dt_id;
  const event = await scheduleDemoEvent(gridstream.url, key, topology, options.days, started);
  console.log(`
gridstream demo: ${options.transformers} transformers x ${options.meters} meters, ${options.days} day(s) of history${options.follow ? ', then live' : ''}

  console    ${gridstream.url}/   (open it in a browser; enter the API key below)
  API        ${gridstream.url}   (X-API-Key: ${key})
  MQTT       ${redactUrl(gridstream.edges.broker!.url)}   (gridstream/v1/meters/{meter_id}/telemetry)
             head-end account ${mqttUser}, password ${mqttPassword} (generated; publishes for every meter)
  data       ${options.config.dataDir}   (embedded ClickHouse; topology version ${version})
  metrics    ${gridstream.url}/metrics

  curl -s -H 'X-API-Key: ${key}' ${gridstream.url}/v1/dt
  curl -s -H 'X-API-Key: ${key}' '${gridstream.url}/v1/dt/${firstDt}/load-profile?days=1'
  curl -s -H 'X-API-Key: ${key}' -H 'content-type: application/json' -d '{"Transformer": "${firstDt}", "limit": 10}' ${gridstream.url}/v1/impedance/on-demand
${
  event
    ? `
  flexibility event ${event.id}: ${event.assets} batteries behind ${firstDt} turn down ${DEMO_EVENT_KW} kW each, ${event.window}
  (baseline ${event.methodology}); its steps, baselines and delivered flexibility as the history passes it:
  curl -s -H 'X-API-Key: ${key}' ${gridstream.url}/v1/events/${event.id}
  curl -s -H 'X-API-Key: ${key}' ${gridstream.url}/v1/events/${event.id}/stats
`
    : ''
}
Ctrl-C stops cleanly (pending batches are flushed).
`);
  const reportHistory = async (readings: number) => {
    await gridstream.pipeline.settle(300_000);
    console.log(
      `history published and processed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${readings} readings` +
        (options.follow
          ? '; now publishing live'
          : '; simulation done (the API keeps serving; Ctrl-C to stop)'),
    );
  };
  let reported: Promise<void> = Promise.resolve();
  simulation = runSimulate({
    mqttUrl: gridstream.edges.broker!.url,
    username: mqttUser,
    password: mqttPassword,
    // A broker on TLS (GRIDSTREAM_MQTT_TLS_CERT): its own certificate is the one to trust.
    ca: config.mqttTlsCert ? readFileSync(config.mqttTlsCert) : undefined,
    seed: options.seed,
    transformers: options.transformers,
    meters: options.meters,
    batteryShare: DEMO_BATTERY_SHARE,
    flexEvents: event ? [event.simulated] : [],
    // 0 with follow starts at the current quarter hour.
    days: options.days,
    follow: options.follow,
    progress: process.stderr.isTTY,
    signal: abort.signal,
    onLive: (published) => {
      reported = reportHistory(published.readings);
    },
  }).then(async (result) => {
    if (!options.follow && !abort.signal.aborted) await reportHistory(result.readings);
    await reported;
  });
  await simulation;
}

/** A quarter of the demo's households have a 5 kW battery behind the meter. */
const DEMO_BATTERY_SHARE = 0.25;
const DEMO_EVENT_KW = 3;

/**
 * The demo's flexibility event, made through its own API before the history is published: the batteries
 * behind the first DT discharge 3 kW each for two hours, ending six hours before now, so the history carries
 * the event through every step (and the simulator's batteries respond to it). Two days of history are too few
 * for a like-day baseline; the naive same-period-yesterday is used then, high-4-of-5 from 15 days. Without a
 * day of history before it there is no event.
 */
async function scheduleDemoEvent(
  url: string,
  key: string,
  topology: ReturnType<typeof simulateTopology>,
  days: number,
  now: number,
): Promise<{
  id: string;
  assets: number;
  window: string;
  methodology: string;
  simulated: SimFlexEvent;
} | null> {
  const endMs = Math.floor((now - 6 * 3_600_000) / SLOT_MS) * SLOT_MS;
  const startMs = endMs - 2 * 3_600_000;
  if (startMs < now - days * DAY_MS + DAY_MS) return null;
  const firstDt = topology.transformers[0]!.dt_id;
  const assetIds = (topology.assets ?? []).filter((a) => a.dt_id === firstDt).map((a) => a.asset_id);
  if (assetIds.length === 0) return null;
  const methodology = days >= 15 ? 'high-4-of-5' : 'same-period-yesterday';
  const response = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({
      asset_ids: assetIds,
      direction: 'turn-down',
      start: iso(startMs),
      end: iso(endMs),
      target: { amount: DEMO_EVENT_KW * assetIds.length, unit: 'kW' },
      baseline: { methodology },
    }),
  });
  if (response.status !== 201 && response.status !== 202)
    throw new Error(`the demo's event was refused: ${response.status} ${await response.text()}`);
  const { id } = (await response.json()) as { id: string };
  return {
    id,
    assets: assetIds.length,
    window: `${iso(startMs)} to ${iso(endMs)}`,
    methodology,
    simulated: { assetIds, direction: 'turn-down', startMs, endMs, kw: DEMO_EVENT_KW },
  };
}
