import type { GridstreamConfig } from '../core/config.js';
import type { Metrics } from '../core/metrics.js';
import { ImpedanceStore, impedanceOfRow } from '../api/impedance-store.js';
import { envelopeOfRow } from '../io/warehouse/records.js';
import type { InMemoryStores } from '../api/in-memory.js';
import { LoadProfileStore } from '../api/load-profile-store.js';
import { TopologyError, unknownTransformerProblems, type TopologyFile } from '../core/topology.js';
import type { Broker } from '../io/broker/broker.js';
import type { Log } from '../io/log/log.js';
import { partitionFor } from '../io/log/partitioner.js';
import { recordTopologyVersion } from '../io/warehouse/topology-versions.js';
import { sqlQuery } from '../io/warehouse/sql-files.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { MeterReading, TopologyMeter, TopologyTransformer } from '../schemas/types.gen.js';
import { DEFAULT_IMPEDANCE_CONFIG } from '../processors/impedance.js';
import { envelopeStage, queryLoadPatterns } from './envelope-stage.js';
import { impedanceStage } from './impedance-stage.js';
import { DEFAULT_STRESS_CONFIG } from '../processors/stress.js';
import { queryRecentWeather, queryStressHistory } from './stress-restore.js';
import { STRESS_HISTORY_MS, startStressStage } from './stress-stage.js';
import { WeatherTable } from './weather-table.js';
import { startIngest } from './ingest-task.js';
import { startParkedReadings, type ParkedReadings } from './parked-readings.js';
import { READINGS_GROUP, startReadingsTask } from './readings-task.js';
import { publishTopology, TopologyTable } from './topology-table.js';
import { ServingView } from './serving-view.js';
import { topicSpecs } from './topics.js';
import { DISPATCH_CHECKS_GROUP, startDispatchCheckTask } from './dispatch-check-task.js';
import { startWarehouseSink } from './warehouse-sink.js';
import { startWebhookTask, WEBHOOKS_GROUP, type WebhookTask } from './webhook-task.js';
import { maxOf } from '../core/extremes.js';

/**
 * The gridstream dataflow, the same in embedded and distributed mode:
 *
 *   MQTT ──ingest──▶ gridstream.readings ──envelopes──▶ gridstream.envelopes ─┐
 *                │         (read once) ├──impedance──▶ gridstream.impedance(.flags) ┤
 *                │                     └──readings table ─────────────────────────────▶ ClickHouse
 *                ├─▶ gridstream.weather / .dispatches ──────────────────────────┼──warehouse sink──▶ ClickHouse
 *                └─▶ gridstream.deadletters ─────────────────────────────────────┤
 *   topology load ──▶ gridstream.topology.* (compacted) ──▶ topology table ──────┘ (meter → DT, meters per DT)
 *   gridstream.envelopes (+ weather, topology) ──stress──▶ gridstream.stress, .operating-envelopes ──▶ warehouse sink
 *   gridstream.stress, .impedance.flags, .dispatch-checks ──alerts──▶ signed webhooks (pipelines/webhook-task.ts)
 *   gridstream.envelopes, .impedance (+ the warehouse at start) ──▶ the API's in-memory stores (api role)
 *
 * Which log, warehouse and broker it runs on is decided by the caller (the edges).
 */
export interface Edges {
  log: Log;
  warehouse: Warehouse;
  /** Only the bridge role consumes MQTT. */
  broker: Broker | null;
}

/**
 * What a process runs: the bridge (MQTT → log), the processor (log → envelopes → warehouse) and the API.
 * On Kafka each can run alone and scale on its own; on the in-process log they run together.
 */
export type Role = 'bridge' | 'processor' | 'api';
export const ALL_ROLES: readonly Role[] = ['bridge', 'processor', 'api'];

export interface Pipeline {
  readonly topology: TopologyTable;
  /** The webhook sender (processor role), or null. */
  readonly webhooks: WebhookTask | null;
  /** The stores the API answers from in memory (api role, GRIDSTREAM_API_MEMORY_DAYS > 0), or null. */
  readonly inMemory: InMemoryStores | null;
  /** Publishes a topology load as a new version; resolves once ingest and processors see it. */
  loadTopology(file: TopologyFile, source: string): Promise<number>;
  /** Sends back the parked readings of meters now placed (the bridge role does it by itself too). */
  releaseParked(): Promise<number>;
  /** Resolves when everything ingested so far is in the warehouse (envelopes included). */
  settle(timeoutMs?: number): Promise<void>;
  /** Stops ingest, drains the log into the warehouse, and stops every stage. */
  stop(): Promise<void>;
}

export async function startPipeline(
  edges: Edges,
  config: GridstreamConfig,
  metrics: Metrics,
  roles: readonly Role[] = ALL_ROLES,
): Promise<Pipeline> {
  const { log, warehouse, broker } = edges;
  if (log.kind === 'memory' && roles.length !== ALL_ROLES.length)
    throw new Error(
      `the roles run separately only on Kafka (GRIDSTREAM_KAFKA_BROKERS); the in-process log needs all of them in one process`,
    );
  await log.ensureTopics(topicSpecs(config.partitions));

  const topology = new TopologyTable(log, { metrics });
  topology.start();
  // Nothing reads MQTT or the log before the topology is known: a reading of a known meter must never be
  // parked as unknown because this process had not read the topology yet.
  await topology.caughtUp();
  await publishNewerTopology(edges, topology);

  const processing = roles.includes('processor');
  const sink = processing ? startWarehouseSink({ log, warehouse, metrics }) : null;
  const revisionHorizonMs = config.revisionHorizonH * 3_600_000;
  const envelopes = processing
    ? envelopeStage({
        partitions: config.partitions,
        config: { allowedLatenessMs: config.allowedLatenessS * 1000, revisionHorizonMs },
        metrics,
        topology,
        restore: (partition) =>
          recentReadings(warehouse, topology, partition, config.partitions, revisionHorizonMs),
        loadPatterns: (withMeterShapes) => queryLoadPatterns(warehouse, topology, withMeterShapes),
      })
    : null;
  const impedance = processing
    ? impedanceStage({
        partitions: config.partitions,
        config: {
          ...DEFAULT_IMPEDANCE_CONFIG,
          allowedLatenessMs: config.allowedLatenessS * 1000,
          flags: { ...DEFAULT_IMPEDANCE_CONFIG.flags, absoluteMohm: config.impedanceAlertMohm },
        },
        metrics,
        topology,
        // The day in progress, so a restarted or rebalanced partition's provisional medians keep its steps.
        restore: (partition) =>
          recentReadings(warehouse, topology, partition, config.partitions, 24 * 3_600_000),
      })
    : null;
  const readings =
    envelopes && impedance
      ? startReadingsTask({ log, warehouse, metrics, stages: [envelopes.stage, impedance] })
      : null;
  // envelopes + weather + topology → stress rows and operating envelopes (pipelines/stress-stage.ts).
  const weather = processing ? new WeatherTable(log, STRESS_HISTORY_MS, { metrics }) : null;
  weather?.start(() => queryRecentWeather(warehouse, STRESS_HISTORY_MS));
  const stress = weather
    ? startStressStage({
        log,
        partitions: config.partitions,
        config: DEFAULT_STRESS_CONFIG,
        metrics,
        topology,
        weather,
        history: (dts) => queryStressHistory(warehouse, dts, STRESS_HISTORY_MS),
      })
    : null;
  // dispatches + asset placement + envelope in force → dispatch checks (pipelines/dispatch-check-task.ts).
  const dispatchChecks = processing ? startDispatchCheckTask({ log, warehouse, metrics }) : null;
  // stress rows, impedance flags, dispatch checks → events → signed webhooks (pipelines/webhook-task.ts).
  const webhooks = processing
    ? startWebhookTask({
        log,
        warehouse,
        metrics,
        policy: {
          maxAttempts: config.webhookMaxAttempts,
          backoffMs: config.webhookBackoffMs,
          alerts: {
            stressProbability: config.stressAlertProbability,
            rearmProbability: 0.6 * config.stressAlertProbability,
          },
        },
      })
    : null;
  // envelopes, impedance (+ the warehouse's history) → the API's in-memory stores (pipelines/serving-view.ts).
  const serving = roles.includes('api') && config.apiMemoryDays > 0;
  const profileStore = serving ? new LoadProfileStore(config.apiMemoryDays, Date.now()) : null;
  const impedanceStore = serving ? new ImpedanceStore(config.apiMemoryDays, Date.now()) : null;
  const profiles =
    profileStore &&
    new ServingView(log, warehouse, profileStore, {
      name: 'load profiles',
      topic: 'envelopes',
      query: 'envelopes_of_range',
      fromRow: envelopeOfRow,
      days: config.apiMemoryDays,
      metrics,
      onApplied: () => metrics.loadProfileBytes.set(profileStore.bytes()),
    });
  const impedanceRows =
    impedanceStore &&
    new ServingView(log, warehouse, impedanceStore, {
      name: 'impedance',
      topic: 'impedance',
      query: 'impedance_of_range',
      fromRow: impedanceOfRow,
      days: config.apiMemoryDays,
      metrics,
    });
  profiles?.start();
  impedanceRows?.start();
  let ingest: Awaited<ReturnType<typeof startIngest>> | null = null;
  let parked: ParkedReadings | null = null;
  if (roles.includes('bridge')) {
    if (!broker) throw new Error('the bridge role needs an MQTT broker');
    const producer = log.producer();
    ingest = await startIngest({
      broker,
      producer,
      meters: topology.index,
      metrics,
      clientId: config.mqttClientId,
    });
    // Readings parked for meters the topology did not name go back once a version places them.
    parked = startParkedReadings({ warehouse, producer, topology, metrics });
  }

  const lags = async () => ({
    readings: (await readings?.lag()) ?? 0,
    stress: (await stress?.lag()) ?? 0,
    dispatchChecks: (await dispatchChecks?.lag()) ?? 0,
    webhooks: (await webhooks?.lag()) ?? 0,
    sink: (await sink?.lag()) ?? 0,
  });
  const lagTimer = setInterval(() => {
    void lags().then((l) => {
      metrics.consumerLag.set({ group: READINGS_GROUP }, l.readings);
      metrics.consumerLag.set({ group: 'gridstream-stress' }, l.stress);
      metrics.consumerLag.set({ group: DISPATCH_CHECKS_GROUP }, l.dispatchChecks);
      metrics.consumerLag.set({ group: WEBHOOKS_GROUP }, l.webhooks);
      metrics.consumerLag.set({ group: 'gridstream-warehouse-sink' }, l.sink);
    });
  }, 1000);
  lagTimer.unref();

  return {
    topology,
    webhooks,
    inMemory: profileStore && impedanceStore && { loadProfiles: profileStore, impedance: impedanceStore },
    async loadTopology(file, source) {
      const problems = unknownTransformerProblems(file, new Set(topology.index.transformers.keys()));
      if (problems.length) throw new TopologyError(problems);
      const [row] = await warehouse.query<{ version: string }>(sqlQuery('max_topology_version'));
      const version = Math.max(Number(row?.version ?? 0), topology.index.version) + 1;
      await publishTopology(log, file, version);
      await recordTopologyVersion(warehouse, version, source, file);
      await topology.waitForVersion(version);
      await waitForTopologyInWarehouse(warehouse, version);
      return version;
    },
    releaseParked: () => parked?.sweep() ?? Promise.resolve(0),
    async settle(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      // Two quiet rounds in a row: the punctuation that emits envelopes runs once a second.
      let quiet = 0;
      let handled = -1;
      while (quiet < 2) {
        if (Date.now() > deadline)
          throw new Error(`pipeline did not settle within ${timeoutMs} ms (${JSON.stringify(await lags())})`);
        await new Promise((resolve) => setTimeout(resolve, 600));
        const l = await lags();
        const now = ingest?.handled() ?? 0;
        quiet =
          l.readings === 0 &&
          l.stress === 0 &&
          l.dispatchChecks === 0 &&
          l.webhooks === 0 &&
          l.sink === 0 &&
          now === handled
            ? quiet + 1
            : 0;
        handled = now;
      }
    },
    async stop() {
      clearInterval(lagTimer);
      await ingest?.stop();
      await parked?.stop();
      envelopes?.close();
      // The readings task first: the envelopes it flushes on stopping still reach the stress stage.
      await readings?.stop();
      await stress?.stop();
      await weather?.stop();
      await dispatchChecks?.stop();
      await webhooks?.stop();
      await profiles?.stop();
      await impedanceRows?.stop();
      await sink?.stop();
      await topology.stop();
    },
  };
}

/** The warehouse sink writes topology rows from the log; a load is done once they are queryable. */
async function waitForTopologyInWarehouse(
  warehouse: Warehouse,
  version: number,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await warehouse.query<{ v: string }>(sqlQuery('max_topology_row_version'));
    if (Number(row?.v ?? 0) >= version) return;
    if (Date.now() > deadline)
      throw new Error(`topology version ${version} not in the warehouse after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A topology loaded offline (`gridstream topology load` without --api) is only in the warehouse, and a log
 * started afresh holds none: a warehouse version newer than the log's is published to the log, so every
 * instance's topology table (and the meters ingest knows) follow it.
 */
async function publishNewerTopology(edges: Edges, topology: TopologyTable): Promise<void> {
  const [latest] = await edges.warehouse.query<{ v: string }>(sqlQuery('max_topology_row_version'));
  if (Number(latest?.v ?? 0) <= topology.index.version) return;
  const transformers = await edges.warehouse.query<TopologyTransformer>(
    sqlQuery('latest_topology_transformers'),
  );
  const meters = await edges.warehouse.query<TopologyMeter>(sqlQuery('latest_topology_meters'));
  if (transformers.length === 0 && meters.length === 0) return;
  const version = maxOf([...transformers, ...meters].map((r) => Number(r.topology_version)));
  const rows = {
    transformers: transformers.map((t) => ({ ...t, rated_kva: Number(t.rated_kva) })),
    meters: meters.map((m) => ({ ...m, legs: Number(m.legs) })),
  };
  await publishTopology(edges.log, rows, version);
  await topology.waitForVersion(version);
}

/** Readings of the partition's DTs within the revision horizon, to rebuild envelope state on assignment. */
async function recentReadings(
  warehouse: Warehouse,
  topology: TopologyTable,
  partition: number,
  partitions: number,
  horizonMs: number,
): Promise<Array<{ type: 'reading'; reading: MeterReading }>> {
  const dts = [...topology.index.transformers.keys()].filter(
    (dt) => partitionFor(dt, partitions) === partition,
  );
  if (dts.length === 0) return [];
  const rows = await warehouse.query<Record<string, unknown>>(sqlQuery('recent_readings'), {
    dts,
    horizon_s: Math.ceil(horizonMs / 1000),
  });
  return rows.map((r) => ({
    type: 'reading',
    reading: {
      meter_id: String(r.meter_id),
      dt_id: String(r.dt_id),
      ts: Number(r.ts_ms),
      p_kw: Number(r.p_kw),
      q_kvar: r.q_kvar === null ? null : Number(r.q_kvar),
      legs: (r.leg as number[]).map((leg, k) => ({
        leg,
        v: (r.v as number[])[k]!,
        i: (r.i as number[])[k]!,
      })),
      e_imp_kwh: r.e_imp_kwh === null ? null : Number(r.e_imp_kwh),
      e_exp_kwh: r.e_exp_kwh === null ? null : Number(r.e_exp_kwh),
      received_at: Number(r.received_ms),
    },
  }));
}
