import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Every error the API returns: a stable code, a sentence, the offending fields when there are any, and the
 * request's id, which is also on the request's log lines (so a 500 can be found in the log).
 */
export interface ApiErrorBody {
  error: string;
  message: string;
  request_id?: string;
  fields?: Array<{ field: string; problem: string }>;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly fields?: ApiErrorBody['fields'],
  ) {
    super(message);
  }
}

export function badRequest(field: string, problem: string): ApiError {
  return new ApiError(400, 'bad_request', `${field}: ${problem}`, [{ field, problem }]);
}

/** fastify's own 4xx codes that deserve a stable name of ours. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
};

/**
 * The media type a client adds to its Accept header to get request-validation errors as 422
 * `{"detail": [{"loc", "msg", "type"}]}` (the shape asset and dispatch clients built on FastAPI read) instead of
 * the 400 ApiErrorBody; every other error keeps its status and body.
 */
export const DETAIL_ERRORS_MEDIA_TYPE = 'application/vnd.gridstream.detail+json';

/** One item of a 422 detail answer: where (`query`, `body`, `path`, `header`, then the field's path), what, and its kind. */
export interface DetailItem {
  loc: string[];
  msg: string;
  type: string;
}

/** A refused field: the ApiErrorBody's field and problem, with its place in the request and its kind. */
interface Refusal {
  field: string;
  problem: string;
  location?: string | undefined;
  /** The field's path in its part of the request, when it differs from `field`. */
  path?: string[];
  type: string;
}

/** Whether the request's Accept header names DETAIL_ERRORS_MEDIA_TYPE. */
export function wantsDetailErrors(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return (
    accept !== undefined &&
    accept
      .toLowerCase()
      .split(',')
      .some((part) => part.split(';')[0]!.trim() === DETAIL_ERRORS_MEDIA_TYPE)
  );
}

/** JSON Schema keywords as the detail answer's `type` names them. */
const DETAIL_TYPES: Record<string, string> = {
  required: 'missing',
  additionalProperties: 'extra_forbidden',
  minimum: 'greater_than_equal',
  exclusiveMinimum: 'greater_than',
  maximum: 'less_than_equal',
  exclusiveMaximum: 'less_than',
  minLength: 'string_too_short',
  maxLength: 'string_too_long',
  minItems: 'too_short',
  maxItems: 'too_long',
  pattern: 'string_pattern_mismatch',
  format: 'value_error',
  enum: 'enum',
  type: 'type_error',
};

/** The part of the request a refused field is in (fastify's validation context, or where the field is found). */
const LOCATIONS: Record<string, string> = {
  querystring: 'query',
  body: 'body',
  params: 'path',
  headers: 'header',
};

function locationOf(request: FastifyRequest, field: string): string {
  const name = field.split('.')[0]!;
  const has = (part: unknown) => typeof part === 'object' && part !== null && Object.hasOwn(part, name);
  if (has(request.params)) return 'path';
  if (has(request.body)) return 'body';
  return request.method === 'GET' || request.body === undefined ? 'query' : 'body';
}

/**
 * The one error handler: schema-validation failures and badRequest() are a 400 naming each bad field (or, for
 * a client that asks with DETAIL_ERRORS_MEDIA_TYPE, a 422 detail answer), anything unexpected a 500 logged
 * with its stack under the request's id.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const request_id = request.id;
  if (error instanceof ApiError) {
    if (error.code === 'bad_request' && error.fields)
      return refuse(
        request,
        reply,
        error.message,
        error.fields.map((f) => ({ ...f, type: 'value_error' })),
      );
    const body: ApiErrorBody = { error: error.code, message: error.message, request_id };
    if (error.fields) body.fields = error.fields;
    return reply.status(error.statusCode).send(body);
  }
  if (error.validation) {
    const location = error.validationContext && LOCATIONS[error.validationContext];
    const refusals = error.validation.map((v): Refusal => {
      const params = v.params as { missingProperty?: string; additionalProperty?: string };
      const path = (v.instancePath || '').replace(/^\//, '').replaceAll('/', '.');
      const type = DETAIL_TYPES[v.keyword] ?? 'value_error';
      // An unknown or a missing property is named by itself (its path in the request goes to `loc`).
      const [property, problem] = params.additionalProperty
        ? [params.additionalProperty, 'is not a known parameter']
        : params.missingProperty
          ? [params.missingProperty, 'is required']
          : [undefined, undefined];
      if (property !== undefined)
        return {
          field: property,
          problem,
          location,
          path: [...(path ? path.split('.') : []), property],
          type,
        };
      return {
        field: path || error.validationContext || 'request',
        problem: v.message ?? 'is invalid',
        location,
        path: path ? path.split('.') : [],
        type,
      };
    });
    return refuse(request, reply, refusals.map((f) => `${f.field}: ${f.problem}`).join('; '), refusals);
  }
  if (error.statusCode && error.statusCode < 500) {
    const code = FASTIFY_CODES[error.code] ?? error.code ?? 'bad_request';
    if (code === 'bad_request' && error.statusCode === 400 && wantsDetailErrors(request))
      return refuse(request, reply, error.message, [
        { field: 'body', problem: error.message, location: 'body', path: [], type: 'json_invalid' },
      ]);
    return reply
      .status(error.statusCode)
      .send({ error: code, message: error.message, request_id } satisfies ApiErrorBody);
  }
  request.log.error(
    { err: error },
    `${request.method} ${request.routeOptions.url ?? request.url}: ${error.message}`,
  );
  return reply.status(500).send({
    error: 'internal',
    message: `internal error; see the server log (request_id ${request_id})`,
    request_id,
  } satisfies ApiErrorBody);
}

/** A request refused for its fields: 400 ApiErrorBody, or 422 detail for a client that asks for it. */
function refuse(request: FastifyRequest, reply: FastifyReply, message: string, refusals: Refusal[]) {
  if (wantsDetailErrors(request))
    return reply.status(422).send({
      detail: refusals.map((r): DetailItem => ({
        loc: [r.location ?? locationOf(request, r.field), ...(r.path ?? r.field.split('.'))],
        msg: r.problem,
        type: r.type,
      })),
    });
  return reply.status(400).send({
    error: 'bad_request',
    message,
    request_id: request.id,
    fields: refusals.map(({ field, problem }) => ({ field, problem })),
  } satisfies ApiErrorBody);
}
