import type { GridstreamConfig } from '../core/config.js';
import type { Metrics } from '../core/metrics.js';
import { TopologyError, unknownTransformerProblems, type TopologyFile } from '../core/topology.js';
import type { Broker } from '../io/broker/broker.js';
import type { Log, LogProducer } from '../io/log/log.js';
import { partitionFor } from '../io/log/partitioner.js';
import { recordTopologyVersion } from '../io/warehouse/topology-versions.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { MeterReading } from '../schemas/types.gen.js';
import { DEFAULT_IMPEDANCE_CONFIG } from '../processors/impedance/impedance.js';
import { envelopeStage, queryLoadPatterns } from './load-envelope-stage.js';
import { impedanceStage } from './impedance-stage.js';
import { DEFAULT_STRESS_CONFIG } from '../processors/stress/stress.js';
import { queryRecentWeather, queryStressHistory } from './stress-restore.js';
import { STRESS_HISTORY_MS, startStressStage } from './stress-stage.js';
import { WeatherTable } from './weather-table.js';
import { startIngest } from './ingest-task.js';
import { startParkedReadings, type ParkedReadings } from './parked-readings.js';
import { readingImport, type ReadingImport } from './reading-import.js';
import { eventCommands, type EventCommands } from './event-commands.js';
import { startReadingsTask } from './readings-task.js';
import { publishTopology, TopologyTable } from './topology-table.js';
import { startLoadProfileDaysTask } from './load-profile-days-task.js';
import { topicSpecs } from './log-topics.js';
import { startDispatchCheckTask } from './dispatch-check-task.js';
import { startEventsTask } from './events-task.js';
import { DEFAULT_LIFECYCLE_CONFIG } from '../processors/flexibility/event-lifecycle.js';
import type { MethodologyName } from '../processors/flexibility/baseline.js';
import { startWarehouseSink } from './warehouse-sink.js';
import { startWebhookTask, type WebhookTask } from './webhook-task.js';
import { maxOf } from '../core/extremes.js';
import {
  ALL_ROLES,
  DATAFLOW,
  declaredLog,
  runs,
  sharedGroups,
  STOP_ORDER,
  type NodeId,
  type Role,
} from './dataflow.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';
import { recentReadings, slotReadings } from './recent-readings.js';

export { ALL_ROLES, type Role } from './dataflow.js';

/**
 * The gridstream dataflow, the same in embedded and distributed mode (pipelines/dataflow.ts declares it; these
 * lines are its renderDataflow(), checked by test/unit/dataflow.test.ts):
 *
 * DATAFLOW-BEGIN
 * topology table (meter → DT, meters per DT, nameplates) [every role; own group topology-table]
 *     topology.transformers, topology.meters ──▶ deadletters
 * topology loads (the API, or a newer version only the warehouse holds, published at start) [every role]
 *     topology loads ──▶ topology.transformers, topology.meters, topology.assets
 *     side inputs: topology table, warehouse
 * warehouse sink [processor; group gridstream-warehouse-sink]
 *     envelopes, impedance, impedance.flags, stress, operating-envelopes, deadletters, weather,
 *       dispatches, dispatch-checks, topology.meters, topology.transformers, topology.assets ──▶
 *       ClickHouse
 * readings task (the readings read once) [processor; group gridstream-readings]
 *     readings ──envelopes, impedance──▶ envelopes, impedance, impedance.flags, deadletters, ClickHouse
 *     side inputs: topology table, warehouse
 * weather table [processor; own group weather-table]
 *     weather ──▶ deadletters
 *     side inputs: warehouse
 * stress stage [processor; group gridstream-stress]
 *     envelopes ──stress──▶ stress, operating-envelopes, deadletters
 *     side inputs: topology table, weather table, warehouse
 * dispatch checks [processor; group gridstream-dispatch-checks]
 *     dispatches ──▶ dispatch-checks, deadletters
 *     side inputs: warehouse
 * flexibility events (lifecycle, baselines, stats) [processor; group gridstream-events]
 *     envelopes, dispatches, events ──▶ events, event-lifecycle, deadletters, ClickHouse
 *     side inputs: warehouse
 * alerts → signed webhooks [processor; group gridstream-webhooks]
 *     stress, impedance.flags, dispatch-checks, event-lifecycle ──▶ deadletters, webhooks, ClickHouse
 *     side inputs: warehouse
 * load-profile pieces (one per DT-day, which the API reads) [processor; group gridstream-load-profile-days]
 *     envelopes ──▶ ClickHouse
 *     side inputs: warehouse
 * ingest [bridge]
 *     MQTT ──▶ readings, weather, dispatches, deadletters
 *     side inputs: topology table
 * parked readings (unknown meters placed since) [bridge]
 *     ClickHouse ──▶ readings, ClickHouse
 *     side inputs: topology table, warehouse
 * reading import (the API's energy-consumption import, validated as ingest does) [api]
 *     API ──▶ readings, deadletters
 *     side inputs: topology table
 * event commands (the API's flexibility-event schedules and cancels) [api]
 *     API ──▶ events
 * DATAFLOW-END
 *
 * Which log, warehouse and broker it runs on is decided by the caller (the edges).
 */
export interface Edges {
  log: Log;
  warehouse: Warehouse;
  /** Only the bridge role consumes MQTT. */
  broker: Broker | null;
}

export interface Pipeline {
  readonly topology: TopologyTable;
  /** The webhook sender (processor role), or null. */
  readonly webhooks: WebhookTask | null;
  /** The API's bulk reading import onto the log (api role), or null. */
  readonly readingImport: ReadingImport | null;
  /** The API's flexibility-event commands onto the log (api role), or null. */
  readonly eventCommands: EventCommands | null;
  /** Publishes a topology load as a new version; resolves once ingest and processors see it. */
  loadTopology(file: TopologyFile, source: string): Promise<number>;
  /** Sends back the parked readings of meters now placed (the bridge role does it by itself too). */
  releaseParked(): Promise<number>;
  /** Resolves when everything ingested so far is in the warehouse (envelopes included). */
  settle(timeoutMs?: number): Promise<void>;
  /** Stops ingest, drains the log into the warehouse, and stops every stage. */
  stop(): Promise<void>;
}

/** A started node: how to stop it, and (for a task in a shared group) its lag. */
interface Running {
  stop(): Promise<void>;
  lag?(): Promise<number>;
}

/** What the nodes are started with, and what the ones started first leave for the later (side inputs). */
interface Context {
  edges: Edges;
  config: GridstreamConfig;
  metrics: Metrics;
  topology?: TopologyTable;
  weather?: WeatherTable;
  webhooks?: WebhookTask;
  ingest?: Awaited<ReturnType<typeof startIngest>>;
  parked?: ParkedReadings;
  /** The bridge's producer, shared by ingest and the parked readings. */
  bridgeProducer?: LogProducer;
  readingImport?: ReadingImport;
  eventCommands?: EventCommands;
}

/** How each node of the dataflow starts (tsc holds this to exactly the nodes of DATAFLOW). */
const START: Record<NodeId, (ctx: Context) => Promise<Running>> = {
  async topologyTable(ctx) {
    const topology = new TopologyTable(ctx.edges.log, { metrics: ctx.metrics });
    topology.start();
    ctx.topology = topology;
    // Nothing reads MQTT or the log before the topology is known: a reading of a known meter must never be
    // parked as unknown because this process had not read the topology yet.
    await topology.caughtUp();
    return topology;
  },
  async topologyLoads(ctx) {
    await publishNewerTopology(ctx.edges, need(ctx.topology));
    return { stop: async () => undefined };
  },
  async warehouseSink({ edges, metrics }) {
    return startWarehouseSink({ log: edges.log, warehouse: edges.warehouse, metrics });
  },
  async readings(ctx) {
    const { edges, config, metrics } = ctx;
    const { log, warehouse } = edges;
    const topology = need(ctx.topology);
    const envelopeConfig = {
      allowedLatenessMs: config.allowedLatenessS * 1000,
      revisionHorizonMs: config.revisionHorizonH * 3_600_000,
      residentMs: config.residentSlotsH * 3_600_000,
    };
    const envelopes = envelopeStage({
      partitions: config.partitions,
      config: envelopeConfig,
      metrics,
      topology,
      // The revision horizon's readings, as an uninterrupted run saw them (the slots' AMI coverage is built from
      // them); slots older than the resident window are released again as the replay passes them, and a late
      // reading for one loads that slot (slotReadings).
      restore: (partition) =>
        partitionReadings(
          warehouse,
          topology,
          partition,
          config.partitions,
          envelopeConfig.revisionHorizonMs,
        ),
      slotReadings: (dts, from, to) => slotReadings(warehouse, dts, from, to),
      timeZone: config.timeZone,
      loadPatterns: (withMeterShapes) =>
        queryLoadPatterns(warehouse, topology, withMeterShapes, config.timeZone),
    });
    const impedance = impedanceStage({
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
        partitionReadings(warehouse, topology, partition, config.partitions, 24 * 3_600_000),
    });
    const task = startReadingsTask({ log, warehouse, metrics, stages: [envelopes.stage, impedance] });
    return {
      lag: () => task.lag(),
      async stop() {
        envelopes.close();
        await task.stop();
      },
    };
  },
  async weatherTable(ctx) {
    const weather = new WeatherTable(ctx.edges.log, STRESS_HISTORY_MS, { metrics: ctx.metrics });
    weather.start(() => queryRecentWeather(ctx.edges.warehouse, STRESS_HISTORY_MS));
    ctx.weather = weather;
    return weather;
  },
  // envelopes + weather + topology → stress rows and operating envelopes (pipelines/stress-stage.ts).
  async stress(ctx) {
    return startStressStage({
      log: ctx.edges.log,
      partitions: ctx.config.partitions,
      config: { ...DEFAULT_STRESS_CONFIG, timeZone: ctx.config.timeZone },
      metrics: ctx.metrics,
      topology: need(ctx.topology),
      weather: need(ctx.weather),
      history: (dts) => queryStressHistory(ctx.edges.warehouse, dts, STRESS_HISTORY_MS),
    });
  },
  // dispatches + asset placement + envelope in force → dispatch checks (pipelines/dispatch-check-task.ts).
  async dispatchChecks({ edges, metrics }) {
    return startDispatchCheckTask({ log: edges.log, warehouse: edges.warehouse, metrics });
  },
  // envelopes (the clock), dispatches, event commands → lifecycle steps, baselines, stats (pipelines/events-task.ts).
  async events({ edges, metrics, config }) {
    return startEventsTask({
      log: edges.log,
      warehouse: edges.warehouse,
      metrics,
      timeZone: config.timeZone,
      config: {
        ...DEFAULT_LIFECYCLE_CONFIG,
        defaultMethodology: config.eventBaseline as MethodologyName,
        statsDelayMs: config.eventStatsDelayS * 1000,
      },
    });
  },
  // stress rows, impedance flags, dispatch checks → events → signed webhooks (pipelines/webhook-task.ts).
  async webhooks(ctx) {
    const { config } = ctx;
    ctx.webhooks = startWebhookTask({
      log: ctx.edges.log,
      warehouse: ctx.edges.warehouse,
      metrics: ctx.metrics,
      policy: {
        maxAttempts: config.webhookMaxAttempts,
        backoffMs: config.webhookBackoffMs,
        alerts: {
          stressProbability: config.stressAlertProbability,
          rearmProbability: 0.6 * config.stressAlertProbability,
        },
      },
    });
    return ctx.webhooks;
  },
  // envelopes → the load-profile pieces in the warehouse, which the API reads (pipelines/load-profile-days-task.ts).
  async loadProfileDays({ edges, metrics }) {
    return startLoadProfileDaysTask({ log: edges.log, warehouse: edges.warehouse, metrics });
  },
  async ingest(ctx) {
    if (!ctx.edges.broker) throw new Error('the bridge role needs an MQTT broker');
    ctx.bridgeProducer ??= ctx.edges.log.producer();
    ctx.ingest = await startIngest({
      broker: ctx.edges.broker,
      producer: ctx.bridgeProducer,
      meters: need(ctx.topology).index,
      metrics: ctx.metrics,
      clientId: ctx.config.mqttClientId,
      encodeDirectly: ctx.edges.log.kind !== 'memory',
    });
    return ctx.ingest;
  },
  // Readings parked for meters the topology did not name go back once a version places them.
  async parkedReadings(ctx) {
    ctx.bridgeProducer ??= ctx.edges.log.producer();
    ctx.parked = startParkedReadings({
      warehouse: ctx.edges.warehouse,
      producer: ctx.bridgeProducer,
      topology: need(ctx.topology),
      metrics: ctx.metrics,
    });
    return ctx.parked;
  },
  // The API's bulk reading import: records validated and logged as MQTT telemetry is (pipelines/reading-import.ts).
  async readingImport(ctx) {
    const producer = ctx.edges.log.producer();
    ctx.readingImport = readingImport({ producer, topology: need(ctx.topology).index, metrics: ctx.metrics });
    // The API closes before the pipeline stops: no import is in progress by then.
    return { stop: () => producer.flush() };
  },
  // POST /v1/events and its cancel put commands on gridstream.events for the events task.
  async eventCommands(ctx) {
    const producer = ctx.edges.log.producer();
    ctx.eventCommands = eventCommands(producer);
    return { stop: () => producer.flush() };
  },
};

/** A side input a node needs: dataflow.test.ts checks its provider starts first in every process that runs it. */
function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('a side input was not started before the node that reads it');
  return value;
}

export async function startPipeline(
  edges: Edges,
  config: GridstreamConfig,
  metrics: Metrics,
  roles: readonly Role[] = ALL_ROLES,
): Promise<Pipeline> {
  const { warehouse } = edges;
  if (edges.log.kind === 'memory' && roles.length !== ALL_ROLES.length)
    throw new Error(
      `the roles run separately only on Kafka (GRIDSTREAM_KAFKA_BROKERS); the in-process log needs all of them in one process`,
    );
  await edges.log.ensureTopics(topicSpecs(config.partitions));
  const log = declaredLog(edges.log);
  const ctx: Context = { edges: { ...edges, log }, config, metrics };

  const running = new Map<NodeId, Running>();
  for (const node of DATAFLOW) if (runs(node, roles, config)) running.set(node.id, await START[node.id](ctx));
  const topology = need(ctx.topology);

  const groups = sharedGroups();
  const lags = async () => {
    const out: Record<string, number> = {};
    for (const { id, group } of groups) out[group] = (await running.get(id)?.lag?.()) ?? 0;
    return out;
  };
  const lagTimer = setInterval(() => {
    // A metric that cannot be read this second is read the next: never a reason to end the process.
    lags().then(
      (l) => {
        for (const [group, lag] of Object.entries(l)) metrics.consumerLag.set({ group }, lag);
      },
      (error: Error) => console.error(`consumer lag: ${error.message}`),
    );
  }, 1000);
  lagTimer.unref();

  return {
    topology,
    webhooks: ctx.webhooks ?? null,
    readingImport: ctx.readingImport ?? null,
    eventCommands: ctx.eventCommands ?? null,
    async loadTopology(file, source) {
      // Loading nothing is the caller's mistake, not a new topology version.
      if (file.transformers.length === 0 && file.meters.length === 0 && !file.assets?.length)
        throw new TopologyError(['the load holds no transformers, meters or assets']);
      const problems = unknownTransformerProblems(file, new Set(topology.index.transformers.keys()));
      if (problems.length) throw new TopologyError(problems);
      const [row] = await runQuery(warehouse, queries.max_topology_version, {});
      const version = Math.max(row?.version ?? 0, topology.index.version) + 1;
      await publishTopology(log, file, version);
      await recordTopologyVersion(warehouse, version, source, file);
      // The topology table and the version check read transformers and meters: a load of assets alone carries
      // no version either would see (it waited 30 s, then failed), and is done once on the log.
      if (file.transformers.length > 0 || file.meters.length > 0) {
        await topology.waitForVersion(version);
        await waitForTopologyInWarehouse(warehouse, version);
      }
      return version;
    },
    releaseParked: () => ctx.parked?.sweep() ?? Promise.resolve(0),
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
        const now = ctx.ingest?.handled() ?? 0;
        quiet = Object.values(l).every((lag) => lag === 0) && now === handled ? quiet + 1 : 0;
        handled = now;
      }
    },
    async stop() {
      clearInterval(lagTimer);
      for (const id of STOP_ORDER) await running.get(id)?.stop();
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
    const [row] = await runQuery(warehouse, queries.max_topology_row_version, {});
    if ((row?.v ?? 0) >= version) return;
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
  const [latest] = await runQuery(edges.warehouse, queries.max_topology_row_version, {});
  if ((latest?.v ?? 0) <= topology.index.version) return;
  const transformers = await runQuery(edges.warehouse, queries.latest_topology_transformers, {});
  const meters = await runQuery(edges.warehouse, queries.latest_topology_meters, {});
  if (transformers.length === 0 && meters.length === 0) return;
  const version = maxOf([...transformers, ...meters].map((r) => r.topology_version));
  await publishTopology(edges.log, { transformers, meters }, version);
  await topology.waitForVersion(version);
}

/** The partition's DTs' readings within `horizonMs`, in pieces, to rebuild its state on assignment. */
function partitionReadings(
  warehouse: Warehouse,
  topology: TopologyTable,
  partition: number,
  partitions: number,
  horizonMs: number,
): AsyncIterable<Array<{ type: 'reading'; reading: MeterReading }>> {
  const dts = [...topology.index.transformers.keys()].filter(
    (dt) => partitionFor(dt, partitions) === partition,
  );
  return recentReadings(warehouse, dts, horizonMs);
}
