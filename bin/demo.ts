import { readFileSync } from 'node:fs';
import { startGridstream } from '../app/start-gridstream.js';
import type { GridstreamConfig } from '../core/config.js';
import { generatePassword } from '../core/password-hash.js';
import { redactUrl } from '../core/redact.js';
import { runSimulate, simulateTopology } from '../simulator/command.js';
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
  });
  const version = await gridstream.pipeline.loadTopology(topology, 'demo simulator');
  const key = gridstream.generatedApiKey ?? options.config.apiKeys!.split(',')[0]!.split(':')[0]!;
  const firstDt = topology.transformers[0]!.dt_id;
  console.log(`
gridstream demo: ${options.transformers} transformers x ${options.meters} meters, ${options.days} day(s) of history${options.follow ? ', then live' : ''}

  API        ${gridstream.url}   (X-API-Key: ${key})
  MQTT       ${redactUrl(gridstream.edges.broker!.url)}   (gridstream/v1/meters/{meter_id}/telemetry)
             head-end account ${mqttUser}, password ${mqttPassword} (generated; publishes for every meter)
  data       ${options.config.dataDir}   (embedded ClickHouse; topology version ${version})
  metrics    ${gridstream.url}/metrics

  curl -s -H 'X-API-Key: ${key}' ${gridstream.url}/v1/dt
  curl -s -H 'X-API-Key: ${key}' '${gridstream.url}/v1/dt/${firstDt}/load-profile?days=1'
  curl -s -H 'X-API-Key: ${key}' -H 'content-type: application/json' -d '{"Transformer": "${firstDt}", "limit": 10}' ${gridstream.url}/v1/impedance/on-demand

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
