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
 * Turns schema-validation failures into a 400 naming each bad field, and anything unexpected into a 500
 * logged with its stack under the request's id.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const request_id = request.id;
  if (error instanceof ApiError) {
    const body: ApiErrorBody = { error: error.code, message: error.message, request_id };
    if (error.fields) body.fields = error.fields;
    return reply.status(error.statusCode).send(body);
  }
  if (error.validation) {
    const fields = error.validation.map((v) => {
      const params = v.params as { missingProperty?: string; additionalProperty?: string };
      const path = (v.instancePath || '').replace(/^\//, '').replaceAll('/', '.');
      if (params.additionalProperty)
        return { field: params.additionalProperty, problem: 'is not a known parameter' };
      if (params.missingProperty) return { field: params.missingProperty, problem: 'is required' };
      return { field: path || error.validationContext || 'request', problem: v.message ?? 'is invalid' };
    });
    return reply.status(400).send({
      error: 'bad_request',
      message: fields.map((f) => `${f.field}: ${f.problem}`).join('; '),
      request_id,
      fields,
    } satisfies ApiErrorBody);
  }
  if (error.statusCode && error.statusCode < 500) {
    const code = FASTIFY_CODES[error.code] ?? error.code ?? 'bad_request';
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
