import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { generateApiKey, parseApiKeys } from '../api/auth.js';
import type { DtOf } from '../core/topology.js';
import { buildApi } from '../api/server.js';
import { ConfigError, type GridstreamConfig } from '../core/config.js';
import { createMetrics, type Metrics } from '../core/metrics.js';
import { configureWebhookEgress } from '../io/webhooks/egress.js';
import {
  ALL_ROLES,
  startPipeline,
  type Edges,
  type Pipeline,
  type Role,
} from '../pipelines/start-pipeline.js';
import { openEdges, type EdgeOptions } from './edges.js';
import { PieceCache } from '../serving/piece-cache.js';

/** A running gridstream: edges, pipeline and API in this process. */
export interface Gridstream {
  edges: Edges;
  pipeline: Pipeline;
  api: FastifyInstance;
  metrics: Metrics;
  /** Base URL of the API. */
  url: string;
  /** The key generated when GRIDSTREAM_API_KEYS is unset (demo), else undefined. */
  generatedApiKey: string | undefined;
  stop(): Promise<void>;
}

export async function startGridstream(
  config: GridstreamConfig,
  options: {
    host?: string;
    roles?: readonly Role[];
    logStream?: NodeJS.WritableStream;
    /** The console's bundle to serve (default dist/console). */
    consoleDir?: string;
  } & EdgeOptions = {},
): Promise<Gridstream> {
  const roles = options.roles ?? ALL_ROLES;
  // Before anything can subscribe or deliver a webhook; a malformed allow-list stops the start here.
  configureWebhookEgress(config.webhookAllow);
  const generatedApiKey = config.apiKeys ? undefined : generateApiKey();
  const keys = parseApiKeys(config.apiKeys ?? generatedApiKey!);
  const tls =
    config.httpTlsCert && config.httpTlsKey ? readTls(config.httpTlsCert, config.httpTlsKey) : undefined;
  const metrics = createMetrics();
  const edges = await openEdges(config, roles, options);
  let pipeline: Pipeline | undefined;
  try {
    pipeline = await startPipeline(edges, config, metrics, roles);
    const running = pipeline;
    // What the load-profile and impedance routes know of a DT: its tenant and feeder in the topology table.
    const dtOf: DtOf = (dtId) => {
      const t = running.topology.index.transformers.get(dtId);
      return t && { tenant: t.tenant, feeder: t.feeder_id };
    };
    // The api role's bulk reading import (POST /v1/energy-consumption) writes to the log itself.
    const readings = running.readingImport ?? undefined;
    const api = await buildApi({
      warehouse: edges.warehouse,
      keys,
      registry: metrics.registry,
      retentionDays: config.retentionDays,
      timeZone: config.timeZone,
      exportDir: join(config.dataDir, 'exports'),
      rateLimit: {
        perSecond: config.apiRateLimit,
        burst: config.apiRateBurst,
        concurrent: config.apiMaxConcurrent,
      },
      authFailureLimit: { perSecond: config.apiAuthFailureRate, burst: config.apiAuthFailureBurst },
      log: { level: config.logLevel, stream: options.logStream },
      tls,
      topologyMaxBytes: config.topologyMaxBytes,
      consoleDir: options.consoleDir,
      exportLimits: {
        maxJobs: config.exportMaxJobs,
        maxBytes: config.exportMaxBytes,
        ttlMs: config.exportTtlS * 1000,
      },
      loadTopology: (file, source) => running.loadTopology(file, source),
      energyConsumption: readings && {
        importReadings: (records, tenant) => readings.import(records, tenant),
        maxBytes: config.consumptionMaxBytes,
        perSecond: config.consumptionRateLimit,
        concurrency: config.consumptionConcurrency,
      },
      events: running.eventCommands
        ? { sendCommand: (command) => running.eventCommands!.send(command) }
        : undefined,
      onWebhooksChanged: () => running.webhooks?.refreshSubscriptions(),
      dts: {
        dtOf,
        profileServed: (source) => metrics.loadProfileResponses.inc({ source }),
        profileCache:
          config.apiPieceCacheBytes > 0
            ? {
                pieces: new PieceCache(config.apiPieceCacheBytes),
                counted: (hits, misses) => {
                  metrics.pieceCache.inc({ result: 'hit' }, hits);
                  metrics.pieceCache.inc({ result: 'miss' }, misses);
                },
              }
            : undefined,
        impedanceServed: (source) => metrics.impedanceLookups.inc({ source }),
      },
      // Every role serves /metrics and /healthz; only the api role serves /v1.
      routes: roles.includes('api'),
    });
    const address = await api.listen({ port: config.httpPort, host: options.host ?? '0.0.0.0' });
    const port = new URL(address).port;
    return {
      edges,
      pipeline: running,
      api,
      metrics,
      url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
      generatedApiKey,
      async stop() {
        await api.close();
        await running.stop();
        await edges.close();
      },
    };
  } catch (error) {
    await pipeline?.stop().catch(() => {});
    await edges.close();
    throw error;
  }
}

/** The API's certificate and key, read at start so a wrong path stops it with the variable's name. */
function readTls(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(`${name}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  return { cert: read('GRIDSTREAM_HTTP_TLS_CERT', certPath), key: read('GRIDSTREAM_HTTP_TLS_KEY', keyPath) };
}
