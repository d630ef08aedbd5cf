import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { SCHEDULE_PATTERN } from '../core/schedule.js';
import { DATA_QUALITY_TIERS } from './data-quality.js';

/**
 * The OpenAPI 3.1 description served at /openapi.json. Route schemas are JSON Schema 2020-12 (what OpenAPI 3.1
 * uses): `exclusiveMinimum` a number, a nullable value a type array. The error answers every route can give
 * (validation, key, tenancy, router and body limits, rate limit, failures) are declared once here as shared
 * responses and added to each operation by `withSharedResponses`; a route declares only its own (a 409, a 422).
 */

/**
 * An object schema whose field names are written once: every property is required unless `optional` names it
 * (`true`: none is required). `additional` becomes additionalProperties (absent unless given: fastify's
 * serialiser then drops unknown fields); `nullable` admits null as well. The properties keep their order,
 * which is the order the serialiser writes a response's fields in.
 */
export function object<const P extends Record<string, unknown>, const O extends keyof P & string = never>(
  properties: P,
  options: { optional?: readonly O[] | true; additional?: boolean; nullable?: boolean } = {},
): ObjectSchema<P, Exclude<keyof P & string, O>> {
  const optional: readonly string[] =
    options.optional === true ? Object.keys(properties) : (options.optional ?? []);
  const required = Object.keys(properties).filter((key) => !optional.includes(key));
  return {
    type: options.nullable ? ['object', 'null'] : 'object',
    // No `required` at all rather than an empty one, as a hand-written schema would have it.
    ...(required.length ? { required } : {}),
    properties,
    ...(options.additional === undefined ? {} : { additionalProperties: options.additional }),
  } as ObjectSchema<P, Exclude<keyof P & string, O>>;
}

/** What `object` returns: a JSON Schema object, its required keys typed for the compiler. */
export interface ObjectSchema<P, R extends string> {
  readonly type: 'object' | readonly ['object', 'null'];
  readonly required?: readonly R[];
  readonly properties: P;
  readonly additionalProperties?: boolean;
}

/** The body of every error answer (ApiErrorBody in errors.ts), component `ApiError`. */
export const API_ERROR_SCHEMA = {
  $id: 'ApiError',
  ...object(
    {
      error: { type: 'string', description: 'Stable code, e.g. bad_request, not_found, rate_limited' },
      message: { type: 'string' },
      fields: {
        type: 'array',
        description: 'The offending request fields, when there are any',
        items: object({ field: { type: 'string' }, problem: { type: 'string' } }),
      },
      request_id: { type: 'string', description: 'Id of the request in the server log' },
    },
    { optional: ['fields', 'request_id'] },
  ),
} as const;

/** The 422 answer to a client whose Accept names DETAIL_ERRORS_MEDIA_TYPE (errors.ts), component `ValidationDetail`. */
export const VALIDATION_DETAIL_SCHEMA = {
  $id: 'ValidationDetail',
  ...object({
    detail: {
      type: 'array',
      items: object({
        loc: {
          type: 'array',
          items: { type: 'string' },
          description: 'query, body, path or header, then the path of the field',
        },
        msg: { type: 'string' },
        type: { type: 'string', description: 'e.g. missing, extra_forbidden, less_than_equal, value_error' },
      }),
    },
  }),
} as const;

const VALIDATION_DETAIL_REF = { $ref: '#/components/schemas/ValidationDetail' } as const;
const VALIDATION_DETAIL_DESCRIPTION =
  'The request breaks its schema or a rule across fields, answered so to a client whose Accept names application/vnd.gridstream.detail+json (else a 400)';

/** A route-specific error answer (e.g. 409, 422) in route schemas: the shared body, its own description. */
export function errorResponse(description: string) {
  return { description, $ref: 'ApiError#' } as const;
}

/** The refusal of a route that takes min_data_quality. */
export const BELOW_MINIMUM = {
  422: errorResponse('The data quality is below min_data_quality (data_quality_below_minimum)'),
} as const;

/** Shared error answers: component name, description, and which operations can give them. */
const SHARED: Record<string, { name: string; description: string; on: 'all' | 'keyed' | 'body' }> = {
  400: {
    name: 'BadRequest',
    description:
      'The request breaks its schema or a rule across fields (e.g. from before to); `fields` names each',
    on: 'all',
  },
  401: {
    name: 'Unauthorized',
    description: 'API key (X-API-Key or Authorization: Bearer) missing or not valid',
    on: 'keyed',
  },
  403: {
    name: 'Forbidden',
    description: "What was asked for belongs to another tenant than the key's",
    on: 'keyed',
  },
  404: {
    name: 'NotFound',
    description: 'No such route, or no such transformer, feeder, subscription or export',
    on: 'all',
  },
  413: {
    name: 'PayloadTooLarge',
    description: 'The request body is larger than the route accepts',
    on: 'body',
  },
  414: {
    name: 'UriTooLong',
    description: 'A path parameter is longer than the router accepts (1,536 characters percent-encoded)',
    on: 'all',
  },
  415: { name: 'UnsupportedMediaType', description: 'The request body is not application/json', on: 'body' },
  431: {
    name: 'HeaderFieldsTooLarge',
    description: 'The request line and headers exceed 16 KiB (e.g. a very long query string)',
    on: 'all',
  },
  429: {
    name: 'RateLimited',
    description:
      'This API key exceeded its requests per second (rate_limited) or requests in flight (concurrency_limited); retry after Retry-After seconds',
    on: 'keyed',
  },
  500: { name: 'Internal', description: 'An unexpected failure, logged with its cause', on: 'all' },
  503: { name: 'Unavailable', description: 'A service the answer needs is not available now', on: 'all' },
};

const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } };

/** components.responses: each shared error answer, declared once. */
function sharedResponses(): Record<string, unknown> {
  return Object.fromEntries([
    ...Object.values(SHARED).map(({ name, description }) => [
      name,
      {
        description,
        content: errorContent,
        ...(name === 'RateLimited'
          ? {
              headers: {
                'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', minimum: 1 } },
              },
            }
          : {}),
      },
    ]),
    [
      'ValidationDetail',
      {
        description: VALIDATION_DETAIL_DESCRIPTION,
        content: { 'application/json': { schema: VALIDATION_DETAIL_REF } },
      },
    ],
  ]);
}

interface Operation {
  security?: unknown[];
  responses?: Record<string, unknown>;
}

/**
 * Adds the shared error answers to every operation (a status the route declares itself is kept): all of them
 * to keyed routes, all but 401, 403 and 429 to public ones, 413 and 415 only where a body is read.
 */
export function withSharedResponses<T extends { paths?: object; components?: object }>(doc: T): T {
  const components = (doc.components ?? {}) as Record<string, unknown>;
  components.responses = { ...(components.responses as object | undefined), ...sharedResponses() };
  components.schemas ??= {};
  for (const item of Object.values(doc.paths ?? {}) as Array<Record<string, Operation>>) {
    for (const [method, operation] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const keyed = operation.security === undefined || operation.security.length > 0;
      const responses = (operation.responses ??= {});
      for (const [status, shared] of Object.entries(SHARED)) {
        if (shared.on === 'keyed' && !keyed) continue;
        if (shared.on === 'body' && method === 'get') continue;
        responses[status] ??= { $ref: `#/components/responses/${shared.name}` };
      }
      // A 422 the route declares (an ApiError) may also be the validation detail a client asks for.
      const own = responses['422'] as { content?: Record<string, { schema?: unknown }> } | undefined;
      const json = own?.content?.['application/json'];
      if (json?.schema) json.schema = { anyOf: [json.schema, VALIDATION_DETAIL_REF] };
      else responses['422'] ??= { $ref: '#/components/responses/ValidationDetail' };
    }
  }
  return { ...doc, components };
}

/** Options of @fastify/swagger: OpenAPI 3.1, the key scheme, the shared components by name. */
export function swaggerOptions(): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'gridstream API',
        version: '1',
        description: 'Load profiles and grid analytics of LV distribution transformers',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearer: { type: 'http', scheme: 'bearer', description: 'The same API key as a Bearer token' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
    // Shared schemas (app.addSchema) appear under their $id, e.g. #/components/schemas/ApiError.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transformObject: (document) =>
      withSharedResponses('openapiObject' in document ? document.openapiObject : {}),
  };
}

// Building blocks of the routes' response schemas.
export const TIER = { type: 'string', enum: [...DATA_QUALITY_TIERS] } as const;
export const LIMITING_FACTOR = {
  type: 'string',
  enum: ['load_factor', 'hot_spot', 'top_oil', 'voltage'],
} as const;
export const VERDICT = {
  type: 'string',
  enum: ['approve', 'approve-with-curtailment', 'decline', 'defer-to-DERMS'],
} as const;
export const DATE_TIME = { type: 'string', format: 'date-time' } as const;
export const DATE_TIME_OR_NULL = { type: ['string', 'null'], format: 'date-time' } as const;
export const NUMBER_OR_NULL = { type: ['number', 'null'] } as const;

// Building blocks of request schemas.
/** A DT id in a request (path or body): the router's limit on path parameters is sized for these 128. */
export const DT_ID = { type: 'string', minLength: 1, maxLength: 128 } as const;
export const TIMEZONE = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  description:
    "IANA time zone the schedules are read in, e.g. Asia/Kolkata (default: each DT's own: its topology's, else GRIDSTREAM_TIMEZONE, else the zone at its coordinates)",
} as const;
/** A load or generator added to a DT (processors/stress/hosting.ts Addition), as the hosting and feeder routes take it. */
export const ADDITION = {
  type: { type: 'string', enum: ['ev', 'pv', 'bess', 'heat_pump'] },
  kw: { type: 'number', exclusiveMinimum: 0, maximum: 100000, description: 'Rated power (PV: peak), kW' },
  schedule: {
    type: 'string',
    maxLength: 11,
    pattern: SCHEDULE_PATTERN.source,
    description: 'Daily window HH:MM-HH:MM, e.g. 23:00-05:00',
  },
  mode: { type: 'string', enum: ['charge', 'discharge'], description: 'Batteries only (default discharge)' },
} as const;

/** A DT with the tier and AMI coverage of its data: how the feeder's and the judges' answers name one. */
export const DT_QUALITY = {
  dt_id: { type: 'string' },
  data_quality: TIER,
  ami_coverage_pct: { type: 'number' },
} as const;
/** The typical confidence band of a tier (core/data-quality.ts TIER_CONFIDENCE_BAND), apart from an envelope's confidence. */
export const TIER_CONFIDENCE = {
  ...object({ low: { type: 'number' }, high: { type: 'number' } }),
  description:
    "Typical confidence of answers at the response's data_quality tier (ami-direct 0.85-0.95, ami-imputed 0.65-0.85, modelled-only 0.40-0.65); not the envelope's statistical confidence",
} as const;
