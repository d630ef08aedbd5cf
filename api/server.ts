import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import type { Server as HttpsServer } from 'node:https';
import Fastify, {
  LogController,
  type FastifyHttpsOptions,
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { Registry } from 'prom-client';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { ApiKeys } from './auth.js';
import { AllowedMethods } from './allowed-methods.js';
import { consoleRoutes, isConsolePath } from './console.js';
import { ApiError, errorHandler } from './errors.js';
import { API_ERROR_SCHEMA, object, swaggerOptions, VALIDATION_DETAIL_SCHEMA } from './openapi.js';
import { concurrencyLimiter, tokenBucketLimiter } from './rate-limit.js';
import { dispatchRoutes } from './routes/dispatches.js';
import { dtRoutes, type ProfileCache } from './routes/dt.js';
import { periodLimitRoutes } from './routes/period-limits.js';
import type { DtOf } from '../core/topology.js';
import type { ImpedanceByMeter } from './impedance-query.js';
import { dtStressRoutes } from './routes/dt-stress.js';
import { fleetRoutes } from './routes/fleet.js';
import { dtMetersRoutes } from './routes/dt-meters.js';
import { energyConsumptionRoutes, type EnergyConsumptionOptions } from './routes/energy-consumption.js';
import { eventRoutes, type EventOptions } from './routes/events.js';
import { hostingRoutes } from './routes/hosting.js';
import { feederRoutes } from './routes/feeder.js';
import { ExportJobs } from './exports.js';
import { impedanceExportRoutes } from './routes/impedance-exports.js';
import { impedanceRoutes } from './routes/impedance.js';
import { impedanceCompatRoutes } from './routes/impedance-compat.js';
import { topologyRoutes } from './routes/topology.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { TopologyFile } from '../core/topology.js';

export interface ApiDependencies {
  warehouse: Warehouse;
  keys: ApiKeys;
  registry: Registry;
  retentionDays: number;
  /** IANA zone of the DTs whose topology names none (GRIDSTREAM_TIMEZONE); undefined: the zone at their coordinates. */
  timeZone?: string | undefined;
  /**
   * Per-key limits: sustained requests per second and burst (default 25/s, burst 25), and requests in flight at
   * once (default 15).
   */
  rateLimit?: { perSecond: number; burst: number; concurrent?: number };
  /** Failed authentications per client address: sustained per second and burst (default 1/s, burst 20). */
  authFailureLimit?: { perSecond: number; burst: number };
  /** The JSON log: its level (default info) and where it goes (default stdout). */
  log?: { level?: string; stream?: NodeJS.WritableStream };
  /** PEM certificate and key: the API serves HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
  /** Largest POST /v1/topology body, bytes (default 64 MiB). */
  topologyMaxBytes?: number;
  /** Export limits per tenant (api/exports.ts). */
  exportLimits?: { maxJobs: number; maxBytes: number; ttlMs: number };
  /**
   * Imports meter readings onto the log as MQTT ingest would, and its per-key limits; without it POST
   * /v1/energy-consumption is not served.
   */
  energyConsumption?: EnergyConsumptionOptions;
  /**
   * Puts flexibility-event commands on the log (gridstream.events), and how long POST /v1/events waits for the
   * events task; without it the /v1/events routes are not served.
   */
  events?: Omit<EventOptions, 'warehouse'>;
  /** Loads a topology version through the pipeline; without it POST /v1/topology is not served. */
  loadTopology?: (file: TopologyFile, source: string) => Promise<number>;
  /** Directory for batch-export files; without it the export routes are not served. */
  exportDir?: string;
  /** Serve the /v1 routes (false: only /healthz, /metrics and /openapi.json, for bridge and processor roles). */
  routes?: boolean;
  /** Called after a webhook subscription changes (the sender in this process reloads them at once). */
  onWebhooksChanged?: () => void;
  /**
   * A DT's tenant and feeder in the topology table, and counters by answer path: load profiles from the
   * warehouse's pieces (api/routes/dt.ts), impedance look-ups by meter (api/impedance-query.ts).
   */
  dts?: {
    dtOf: DtOf;
    profileServed(source: 'pieces' | 'rows'): void;
    /** The load-profile pieces kept between requests (bounded), with their hits and misses counted. */
    profileCache?: ProfileCache;
    impedanceServed(source: 'meters' | 'query'): void;
  };
  /** The console's bundle (default dist/console, built by `npm run build`); served at / with the /v1 routes. */
  consoleDir?: string;
  /** Liveness details for /healthz (e.g. consumer lag); a thrown error makes it 503. */
  health?: () => Promise<Record<string, unknown>>;
}

/** Paths served without a key: probes, scraping and the API description. */
const PUBLIC = new Set(['/healthz', '/metrics', '/openapi.json']);

/** Credentials never written to the log, whatever logs a request's headers. */
const REDACT = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["x-api-key"]',
];

/** Longest path parameter the router passes on to validation: 128 characters of 4 UTF-8 bytes, encoded. */
export const MAX_PARAM_LENGTH = 128 * 12;

const HEALTHZ_SCHEMA = {
  summary: 'Liveness: the warehouse answers (no key needed)',
  security: [],
  response: {
    200: {
      description: 'Alive, with details such as consumer lag',
      ...object(
        { status: { type: 'string', enum: ['ok'] }, warehouse: { type: 'string' } },
        { additional: true },
      ),
    },
    503: {
      description: 'The warehouse or a health detail failed',
      ...object({ status: { type: 'string', enum: ['unavailable'] }, message: { type: 'string' } }),
    },
  },
};

const METRICS_SCHEMA = {
  summary: 'Prometheus metrics in the text exposition format (no key needed)',
  security: [],
  response: {
    200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
  },
};

const OPENAPI_SCHEMA = {
  // Not an operation of the API it describes.
  hide: true,
  response: { 200: { description: 'The OpenAPI 3.1 document', ...object({}, { additional: true }) } },
};

/**
 * The API key a request presents: its X-API-Key header, else the token of an `Authorization: Bearer` header
 * (how clients of the impedance-statistics interface send theirs); either way on every route.
 */
function presentedKey(headers: FastifyRequest['headers']): string | undefined {
  const header = headers['x-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key) return key;
  const bearer = /^Bearer +(\S+) *$/i.exec(headers.authorization ?? '');
  return bearer?.[1];
}

/** The HTTP API: thin, reads the warehouse, an API key (X-API-Key or Bearer) on every other route. */
export async function buildApi(deps: ApiDependencies): Promise<FastifyInstance> {
  const options: FastifyServerOptions = {
    logger: {
      level: deps.log?.level ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      ...(deps.log?.stream ? { stream: deps.log.stream } : {}),
    },
    // An access line for every request would flood the log under load: the onResponse hook below logs the
    // 4xx and 5xx ones only.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    // Our own id for every request, never the client's (a client could make ids collide in the log).
    genReqId: () => randomUUID(),
    // allowUnionTypes: list filters take a comma-separated string or an array (api/impedance-query.ts).
    ajv: {
      customOptions: { allErrors: true, coerceTypes: true, removeAdditional: false, allowUnionTypes: true },
    },
    // The router's own refusals (a path parameter over its length limit, a malformed escape) get the API's
    // error body too, not fastify's.
    frameworkErrors: errorHandler,
    // Route schemas bound path parameters by characters (a DT id up to 128); the router counts them
    // percent-encoded, up to 12 characters each, so it must not refuse a valid id first.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  };
  const app = (deps.tls
    ? Fastify({ ...options, https: deps.tls } as FastifyHttpsOptions<HttpsServer>)
    : Fastify(options)) as unknown as FastifyInstance;
  app.setErrorHandler(errorHandler);
  const allowed = new AllowedMethods();
  app.addHook('onRoute', (route) => allowed.add(route.url, route.method));
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode < 400) return;
    const line = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      client: request.ip,
    };
    if (reply.statusCode >= 500) request.log.error(line, 'request failed');
    else request.log.info(line, 'request refused');
  });
  // The OpenAPI document is generated from the same route schemas that validate requests (api/openapi.ts).
  await app.register(swagger, swaggerOptions());
  app.addSchema(API_ERROR_SCHEMA);
  app.addSchema(VALIDATION_DETAIL_SCHEMA);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: 'not_found',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
      request_id: request.id,
    }),
  );

  const limiter = tokenBucketLimiter(deps.rateLimit?.perSecond ?? 25, deps.rateLimit?.burst ?? 25);
  const inFlight = concurrencyLimiter(deps.rateLimit?.concurrent ?? 15);
  const failures = tokenBucketLimiter(
    deps.authFailureLimit?.perSecond ?? 1,
    deps.authFailureLimit?.burst ?? 20,
  );
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (request.is404) {
      const methods = allowed.of(path);
      if (methods) {
        reply.header('allow', methods.join(', '));
        throw new ApiError(
          405,
          'method_not_allowed',
          `${path} answers ${methods.join(', ')}, not ${request.method}`,
        );
      }
    }
    if (PUBLIC.has(path) || (deps.routes !== false && isConsolePath(path))) return;
    // A client address that failed to authenticate too often is refused before its key is even looked at, so
    // keys cannot be guessed at the speed of the server (and guessing costs us no hashing).
    const blocked = failures.peek(request.ip);
    if (blocked > 0) {
      reply.header('retry-after', String(blocked));
      throw new ApiError(
        429,
        'too_many_failed_authentications',
        `too many requests without a valid API key from this address; retry after ${blocked} s`,
      );
    }
    const key = presentedKey(request.headers);
    if (!key) {
      failures.take(request.ip);
      throw new ApiError(401, 'unauthorized', 'missing X-API-Key header (or Authorization: Bearer)');
    }
    const identity = deps.keys.identify(key);
    if (!identity) {
      failures.take(request.ip);
      throw new ApiError(401, 'unauthorized', 'the API key is not valid');
    }
    // Limited per key after authentication, so unknown keys cannot fill the limiters' tables.
    if (inFlight.inFlight(identity.keyId) >= inFlight.max) {
      reply.header('retry-after', '1');
      throw new ApiError(
        429,
        'concurrency_limited',
        `this X-API-Key has ${inFlight.max} requests in flight already; retry after 1 s`,
      );
    }
    const wait = limiter.take(identity.keyId);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new ApiError(
        429,
        'rate_limited',
        `this API key exceeded ${limiter.perSecond} requests per second (burst ${limiter.burst}); retry after ${wait} s`,
      );
    }
    request.tenant = identity.tenant;
    request.keyId = identity.keyId;
    inFlight.acquire(identity.keyId);
    // The response's close comes once whatever the outcome: sent (an answer, an error), or the connection
    // gone (the client aborted, a timeout); a connection gone already has had its close.
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      inFlight.release(identity.keyId);
    };
    reply.raw.once('close', release);
    if (reply.raw.destroyed) release();
  });

  app.get('/healthz', { schema: HEALTHZ_SCHEMA }, async (_request, reply) => {
    try {
      await deps.warehouse.query('SELECT 1 AS ok');
      return { status: 'ok', warehouse: deps.warehouse.kind, ...(await deps.health?.()) };
    } catch (error) {
      return reply.status(503).send({ status: 'unavailable', message: (error as Error).message });
    }
  });

  app.get('/metrics', { schema: METRICS_SCHEMA }, async (_request, reply) => {
    reply.header('content-type', deps.registry.contentType);
    return deps.registry.metrics();
  });

  app.get('/openapi.json', { schema: OPENAPI_SCHEMA }, async () => app.swagger());

  // Each route module is a plugin in its own context, given only what it needs; the hooks, error and not-found
  // handlers and shared schemas above were set on the root first, so every context inherits them.
  if (deps.routes !== false) {
    const { warehouse, retentionDays, timeZone } = deps;
    const dts = deps.dts;
    await app.register(consoleRoutes, deps.consoleDir ? { dir: deps.consoleDir } : {});
    const byMeter: ImpedanceByMeter | undefined = dts && {
      dtOf: dts.dtOf,
      served: (source) => dts.impedanceServed(source),
    };
    app.register(dtRoutes, {
      warehouse,
      retentionDays,
      dtOf: dts?.dtOf,
      served: dts && ((source) => dts.profileServed(source)),
      profileCache: dts?.profileCache,
      timeZone,
    });
    app.register(fleetRoutes, { warehouse, timeZone });
    app.register(dtStressRoutes, { warehouse, retentionDays });
    app.register(dtMetersRoutes, { warehouse, retentionDays });
    app.register(hostingRoutes, { warehouse, timeZone });
    app.register(feederRoutes, { warehouse, timeZone });
    app.register(impedanceRoutes, { warehouse, byMeter });
    app.register(dispatchRoutes, { warehouse });
    app.register(periodLimitRoutes, { warehouse });
    app.register(webhookRoutes, { warehouse, onChange: deps.onWebhooksChanged });
    const jobs = deps.exportDir ? new ExportJobs(warehouse, deps.exportDir, deps.exportLimits) : undefined;
    if (jobs) {
      // Exports still running finish before the API (and then the warehouse) closes.
      app.addHook('onClose', () => jobs.close());
      app.register(impedanceExportRoutes, { warehouse, jobs });
    }
    if (deps.energyConsumption) await app.register(energyConsumptionRoutes, deps.energyConsumption);
    if (deps.events) app.register(eventRoutes, { warehouse, ...deps.events });
    await app.register(impedanceCompatRoutes, { warehouse, byMeter, jobs });
    if (deps.loadTopology)
      app.register(topologyRoutes, {
        warehouse,
        loadTopology: deps.loadTopology,
        maxBytes: deps.topologyMaxBytes ?? 64 * 1024 * 1024,
      });
  }
  await app.ready();
  return app;
}

declare module 'fastify' {
  interface FastifyRequest {
    tenant?: string;
    /** The X-API-Key's id (its SHA-256 digest in hex), for limits per key. */
    keyId?: string;
  }
}
