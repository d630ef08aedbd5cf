import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { object } from '../openapi.js';
import { concurrencyLimiter, tokenBucketLimiter } from '../rate-limit.js';
import { tenantOf } from '../tenancy.js';

/** Records one energy-consumption import may hold. */
export const MAX_IMPORT_RECORDS = 50_000;

/** What became of one record of an import, by its index in `records`. */
export interface ImportAnswer {
  index: number;
  status: 'accepted' | 'rejected';
  reason_code?: string;
  reason?: string;
}

export interface EnergyConsumptionOptions {
  /** Validates and logs the records as the tenant's meter readings; resolves once the log holds them. */
  importReadings: (records: readonly unknown[], tenant: string) => Promise<ImportAnswer[]>;
  /** Largest body, bytes. */
  maxBytes: number;
  /** Requests per second each key may make (burst 1), on top of the API's own limit. */
  perSecond: number;
  /** Requests each key may have in progress at once. */
  concurrency: number;
}

const RECORD_EXAMPLE = {
  meter_id: 'mtr-000001',
  ts: '2026-07-01T10:15:00Z',
  p_kw: 1.42,
  q_kvar: 0.31,
  legs: [{ leg: 1, v: 231.4, i: 6.2 }],
  e_imp_kwh: 5120.4,
  e_exp_kwh: 88.1,
};

/**
 * POST /v1/energy-consumption: meter readings in bulk, up to MAX_IMPORT_RECORDS a request. Each record is
 * accepted or rejected on its own, with the MQTT telemetry's validation and dead letters, and the answer (202)
 * comes only once the log holds everything accepted. Limited per key to `perSecond` requests a second and
 * `concurrency` in progress, checked before the body is read.
 */
export const energyConsumptionRoutes: FastifyPluginAsync<EnergyConsumptionOptions> = async (app, options) => {
  const limiter = tokenBucketLimiter(options.perSecond, 1);
  const inProgress = concurrencyLimiter(options.concurrency);
  const imports = new WeakMap<FastifyRequest, Promise<unknown>>();

  /** 429s before the body is read: the rate first, then the requests in progress, whose slot ends with the response. */
  const admit = async (request: FastifyRequest, reply: FastifyReply) => {
    const keyId = request.keyId;
    if (keyId === undefined) throw new Error('no key id on a /v1 request: the key hook did not run');
    const wait = limiter.take(keyId);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new ApiError(
        429,
        'rate_limited',
        `this X-API-Key may make ${options.perSecond} energy-consumption import(s) per second; retry after ${wait} s`,
      );
    }
    if (!inProgress.acquire(keyId)) {
      reply.header('retry-after', '1');
      throw new ApiError(
        429,
        'concurrency_limited',
        `this X-API-Key already has ${inProgress.max} energy-consumption import(s) in progress; retry after 1 s`,
      );
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      inProgress.release(keyId);
    };
    // 'close' comes however the exchange ends (answered, refused, or the client gone); an import still
    // writing to the log holds its slot until it is done. A connection gone already has had its close.
    const onClose = () => {
      const running = imports.get(request);
      if (running) running.then(release, release);
      else release();
    };
    reply.raw.once('close', onClose);
    if (reply.raw.destroyed) onClose();
  };

  app.post<{ Body: { records: unknown[] } }>(
    '/v1/energy-consumption',
    {
      bodyLimit: options.maxBytes,
      onRequest: admit,
      schema: {
        summary: 'Import meter readings in bulk (up to 50,000 records a request)',
        description: `Each record is a meter reading: meter_id and the fields its meter publishes on its MQTT telemetry topic (e.g. ${JSON.stringify(RECORD_EXAMPLE)}). Each is validated as that MQTT message would be and accepted or rejected on its own (rejected ones are dead-lettered as MQTT's are); a record of a meter not on a transformer of the key's tenant is rejected (not_found). 202 once the log holds every accepted record, with the result of each by index. Per key: GRIDSTREAM_CONSUMPTION_RATE_LIMIT requests a second and GRIDSTREAM_CONSUMPTION_CONCURRENCY in progress (429 with Retry-After), bodies up to GRIDSTREAM_CONSUMPTION_MAX_BYTES (413).`,
        body: object(
          {
            records: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_IMPORT_RECORDS,
              description: 'Readings, each {meter_id, ts, p_kw, q_kvar?, legs, e_imp_kwh?, e_exp_kwh?}',
              items: {},
            },
          },
          { additional: false },
        ),
        response: {
          202: {
            description: 'The log holds every accepted record; the result of each record by index',
            ...object({
              accepted: { type: 'integer' },
              rejected: { type: 'integer' },
              results: {
                type: 'array',
                items: object(
                  {
                    index: { type: 'integer' },
                    status: { type: 'string', enum: ['accepted', 'rejected'] },
                    reason_code: {
                      type: 'string',
                      description:
                        'Why rejected: a dead-letter reason code (schema, invalid_value, too_large), or not_found for a meter not on a transformer of the tenant',
                    },
                    reason: { type: 'string', description: 'The offending field and what is wrong with it' },
                  },
                  { optional: ['reason_code', 'reason'] },
                ),
              },
            }),
          },
        },
      },
    },
    async (request, reply) => {
      const running = options.importReadings(request.body.records, tenantOf(request));
      imports.set(request, running);
      const results = await running;
      const accepted = results.filter((r) => r.status === 'accepted').length;
      return reply.status(202).send({ accepted, rejected: results.length - accepted, results });
    },
  );
};
