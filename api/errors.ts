import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** Every error the API returns: a stable code, a sentence, and the offending fields when there are any. */
export interface ApiErrorBody {
  error: string;
  message: string;
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

/** Turns schema-validation failures into a 400 naming each bad field, and anything unexpected into a 500. */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof ApiError) {
    const body: ApiErrorBody = { error: error.code, message: error.message };
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
      fields,
    } satisfies ApiErrorBody);
  }
  if (error.statusCode && error.statusCode < 500) {
    return reply
      .status(error.statusCode)
      .send({ error: error.code ?? 'bad_request', message: error.message } satisfies ApiErrorBody);
  }
  request.log.error(error);
  return reply
    .status(500)
    .send({ error: 'internal', message: 'internal error; see the server log' } satisfies ApiErrorBody);
}
