import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { iso } from '../../core/time.js';
import { webhookEgress } from '../../io/webhooks/egress.js';
import { sendWebhook, webhookBody } from '../../io/webhooks/send.js';
import { WEBHOOK_SIGNATURE_TOLERANCE_S } from '../../io/webhooks/signature.js';
import {
  deliveriesOf,
  logAttempts,
  saveSubscription,
  subscriptionSecret,
  subscriptionsOf,
  type WebhookSubscription,
} from '../../io/webhooks/store.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { ALERT_EVENT_TYPES } from '../../processors/alerts.js';
import { ApiError, badRequest } from '../errors.js';
import {
  PAGE_ANSWER_OPTIONAL,
  PAGE_ANSWER_PROPERTIES,
  pageAnswer,
  pageOf,
  pageRows,
  pagingProperties,
  type PagingInput,
} from '../page.js';
import { DATE_TIME, errorResponse, object } from '../openapi.js';
import { tenantOf } from '../tenancy.js';

const MAX_SUBSCRIPTIONS = 100;
/** Subscriptions a page holds unless the request says otherwise: all a tenant may have. */
const SUBSCRIPTION_PAGE_DEFAULT = MAX_SUBSCRIPTIONS;
/** Delivery attempts a page holds unless the request says otherwise. */
const DELIVERY_PAGE_DEFAULT = 50;
/** How long a rotated-out secret keeps signing deliveries unless the rotation says otherwise, seconds. */
const ROTATION_WINDOW_S = 86_400;
/** The longest a rotation may keep the previous secret, seconds. */
const MAX_ROTATION_WINDOW_S = 7 * 86_400;

const newSecret = () => 'whsec_' + randomBytes(24).toString('base64url');

const SUBSCRIPTION = object({
  id: { type: 'string', description: 'Subscription id: the webhook_id of every event sent to it' },
  url: { type: 'string' },
  event_types: { type: 'array', items: { type: 'string', enum: [...ALERT_EVENT_TYPES] } },
  description: { type: 'string' },
  created_at: DATE_TIME,
});

const ID_PARAMS = object({ id: { type: 'string', minLength: 1, maxLength: 64 } });

const view = (s: WebhookSubscription) => ({
  id: s.id,
  url: s.url,
  event_types: s.event_types,
  description: s.description,
  created_at: iso(s.created_ms),
});

export interface WebhookRoutesOptions {
  warehouse: Warehouse;
  /** Called after a subscription changes, so the sender in this process reloads them at once. */
  onChange?: (() => void) | undefined;
}

/**
 * Webhook subscriptions: a tenant subscribes a URL to event types and gets a secret, once, to verify the
 * `Gridstream-Signature` header (io/webhooks/signature.ts), and can rotate it; the URL must be a receiver the
 * egress policy permits (io/webhooks/egress.ts); the sender (pipelines/webhook-task.ts) delivers with
 * retries; the test endpoint sends one event now and says how it went, never what the receiver answered; the
 * delivery log shows every attempt. Subscriptions are the key's tenant's only: another tenant's id is a 404.
 */
export async function webhookRoutes(
  app: FastifyInstance,
  { warehouse, onChange = () => undefined }: WebhookRoutesOptions,
) {
  const own = async (tenant: string, id: string) => {
    const found = (await subscriptionsOf(warehouse, tenant)).find((s) => s.id === id);
    if (!found) throw new ApiError(404, 'not_found', `no webhook subscription ${JSON.stringify(id)}`);
    return found;
  };

  app.post<{ Body: { url: string; event_types: string[]; description?: string } }>(
    '/v1/webhooks',
    {
      schema: {
        summary: 'Subscribe a URL to event types',
        description: `The URL must reach a public address: loopback, private, link-local, unique-local, CGNAT, multicast and reserved addresses (in any notation, and host names resolving to them) are refused with a 400 unless the operator allows them (GRIDSTREAM_WEBHOOK_ALLOW), and are checked again on every delivery. Events: STRESS.ALERT (a DT's forecast thermal or voltage stress probability reaches GRIDSTREAM_STRESS_ALERT_PROBABILITY), ENVELOPE.VIOLATION (an observed slot broke a thermal or voltage limit), IMPEDANCE.ALERT (a meter leg's daily impedance was flagged), DISPATCH.REJECTED (a dispatch exceeded its DT's operating envelope). The response carries the secret, shown only here. At most ${MAX_SUBSCRIPTIONS} subscriptions per tenant.`,
        body: object(
          {
            url: {
              type: 'string',
              minLength: 1,
              maxLength: 2048,
              format: 'uri',
              pattern: '^[Hh][Tt][Tt][Pp][Ss]?://',
              description: 'http or https URL',
            },
            event_types: {
              type: 'array',
              minItems: 1,
              uniqueItems: true,
              items: { type: 'string', enum: [...ALERT_EVENT_TYPES] },
            },
            description: { type: 'string', maxLength: 500 },
          },
          { optional: ['description'], additional: false },
        ),
        response: {
          201: object({
            ...SUBSCRIPTION.properties,
            secret: {
              type: 'string',
              description: `HMAC-SHA256 key of the Gridstream-Signature header; shown once. Refuse signatures older than ${WEBHOOK_SIGNATURE_TOLERANCE_S} s.`,
            },
          }),
          409: errorResponse(
            `The tenant has ${MAX_SUBSCRIPTIONS} subscriptions already (too_many_subscriptions)`,
          ),
        },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const { url, event_types, description = '' } = request.body;
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw badRequest('url', 'is not a URL');
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
        throw badRequest('url', 'must be an http or https URL');
      const refused = await webhookEgress().urlRefusal(parsed);
      if (refused)
        throw badRequest(
          'url',
          `is not a permitted webhook receiver: ${refused} (the operator can allow private receivers with GRIDSTREAM_WEBHOOK_ALLOW)`,
        );
      if ((await subscriptionsOf(warehouse, tenant)).length >= MAX_SUBSCRIPTIONS)
        throw new ApiError(
          409,
          'too_many_subscriptions',
          `this tenant has ${MAX_SUBSCRIPTIONS} webhook subscriptions already; delete one first`,
        );
      const now = Date.now();
      const subscription = {
        tenant,
        id: randomUUID(),
        url: parsed.href,
        event_types,
        description,
        created_ms: now,
        secret: newSecret(),
      };
      await saveSubscription(warehouse, subscription, { at: now, deleted: false });
      onChange();
      return reply.status(201).send({ ...view(subscription), secret: subscription.secret });
    },
  );

  app.get<{ Querystring: PagingInput }>(
    '/v1/webhooks',
    {
      schema: {
        summary: "The tenant's webhook subscriptions (without their secrets)",
        description: `Oldest first; paged by limit and offset (default: ${SUBSCRIPTION_PAGE_DEFAULT} from the first) or by page and pageSize.`,
        querystring: object(pagingProperties(SUBSCRIPTION_PAGE_DEFAULT), {
          optional: true,
          additional: false,
        }),
        response: {
          200: object(
            { webhooks: { type: 'array', items: SUBSCRIPTION }, ...PAGE_ANSWER_PROPERTIES },
            { optional: PAGE_ANSWER_OPTIONAL },
          ),
        },
      },
    },
    async (request) => {
      const page = pageOf(request.query, SUBSCRIPTION_PAGE_DEFAULT);
      // At most MAX_SUBSCRIPTIONS: read whole, paged here.
      const { rows, total } = pageRows(await subscriptionsOf(warehouse, tenantOf(request)), page);
      return { webhooks: rows.map(view), ...pageAnswer(page, total) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    { schema: { summary: 'One webhook subscription', params: ID_PARAMS, response: { 200: SUBSCRIPTION } } },
    async (request) => view(await own(tenantOf(request), request.params.id)),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    {
      schema: {
        summary: 'Delete a subscription: nothing more is sent to it',
        params: ID_PARAMS,
        response: { 204: { description: 'Deleted', type: 'null' } },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const found = await own(tenant, request.params.id);
      // The secret is not needed any more: the deletion row does not carry it.
      await saveSubscription(warehouse, { ...found, secret: '' }, { at: Date.now(), deleted: true });
      onChange();
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/webhooks/:id/test',
    {
      schema: {
        summary: 'Send a WEBHOOK.TEST event to the subscription now (one attempt, logged)',
        description:
          "Reports how the attempt went (status, delivered or not, and gridstream's own error text), never what the receiver answered.",
        params: ID_PARAMS,
        response: {
          200: object(
            {
              event_id: { type: 'string' },
              delivered: { type: 'boolean' },
              http_status: { type: 'integer', description: '0 without a response' },
              error: {
                type: 'string',
                description:
                  'Why it was not delivered, in our words (HTTP 503, ECONNREFUSED, refused by the egress policy: ...); empty when delivered',
              },
              duration_ms: { type: 'integer' },
            },
            { optional: ['error'], additional: false },
          ),
        },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const subscription = await own(tenant, request.params.id);
      const secrets = await subscriptionSecret(warehouse, tenant, subscription.id);
      if (secrets === undefined)
        throw new ApiError(404, 'not_found', `no webhook subscription ${JSON.stringify(subscription.id)}`);
      const now = Date.now();
      const event = {
        id: `WEBHOOK.TEST:${randomUUID()}`,
        type: 'WEBHOOK.TEST',
        occurred_at: now,
        data: { message: 'a test event from gridstream', requested_at: iso(now) },
      };
      const body = webhookBody(event, subscription.id);
      const result = await sendWebhook({
        url: subscription.url,
        secrets,
        body,
        subscriptionId: subscription.id,
        eventId: event.id,
        attempt: 1,
      });
      await logAttempts(warehouse, [
        {
          tenant,
          subscription_id: subscription.id,
          event_id: event.id,
          event_type: event.type,
          attempt: 1,
          outcome: result.delivered ? 'delivered' : 'failed',
          http_status: result.httpStatus,
          error: result.error,
          duration_ms: result.durationMs,
          attempted_ms: Date.now(),
          next_attempt_ms: 0,
          url: subscription.url,
          body,
        },
      ]);
      return {
        event_id: event.id,
        delivered: result.delivered,
        http_status: result.httpStatus,
        error: result.error,
        duration_ms: result.durationMs,
      };
    },
  );

  app.post<{ Params: { id: string }; Body: { expire_previous_in_s?: number } | undefined }>(
    '/v1/webhooks/:id/rotate-secret',
    {
      schema: {
        summary: "Replace a subscription's secret; the previous one keeps signing for a while",
        description: `Returns the new secret, shown only here. Until previous_secret_expires_at (expire_previous_in_s later, ${ROTATION_WINDOW_S} s by default) every delivery carries two v1= signatures, by the new and the previous secret, so receivers can switch over; afterwards only the new one. A rotation during another's window replaces the older previous secret.`,
        params: ID_PARAMS,
        // No body at all is a rotation with the default window: null lets it pass validation.
        body: object(
          {
            expire_previous_in_s: {
              type: 'integer',
              minimum: 0,
              maximum: MAX_ROTATION_WINDOW_S,
              description: `How long the previous secret keeps signing, seconds (0: not at all); default ${ROTATION_WINDOW_S}`,
            },
          },
          { optional: true, additional: false, nullable: true },
        ),
        response: {
          200: object(
            {
              id: { type: 'string' },
              secret: { type: 'string', description: 'The new secret; shown once' },
              previous_secret_expires_at: {
                type: ['string', 'null'],
                description: 'Until when the previous secret signs too; null when it stopped at once',
              },
            },
            { optional: true, additional: false },
          ),
        },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const subscription = await own(tenant, request.params.id);
      const current = await subscriptionSecret(warehouse, tenant, subscription.id);
      if (current === undefined)
        throw new ApiError(404, 'not_found', `no webhook subscription ${JSON.stringify(subscription.id)}`);
      const now = Date.now();
      const windowS = request.body?.expire_previous_in_s ?? ROTATION_WINDOW_S;
      const rotated = {
        ...subscription,
        secret: newSecret(),
        previous_secret: windowS > 0 ? current.secret : '',
        previous_secret_expires_ms: windowS > 0 ? now + windowS * 1000 : 0,
      };
      await saveSubscription(warehouse, rotated, { at: now, deleted: false });
      onChange();
      return {
        id: subscription.id,
        secret: rotated.secret,
        previous_secret_expires_at: windowS > 0 ? iso(rotated.previous_secret_expires_ms) : null,
      };
    },
  );

  app.get<{ Params: { id: string }; Querystring: PagingInput }>(
    '/v1/webhooks/:id/deliveries',
    {
      schema: {
        summary: 'The delivery log of a subscription, newest attempt first',
        params: ID_PARAMS,
        querystring: object(pagingProperties(DELIVERY_PAGE_DEFAULT), { optional: true, additional: false }),
        response: {
          200: object(
            {
              deliveries: {
                type: 'array',
                items: object(
                  {
                    event_id: { type: 'string' },
                    event_type: { type: 'string' },
                    attempt: { type: 'integer' },
                    outcome: { type: 'string', enum: ['delivered', 'retrying', 'failed'] },
                    http_status: { type: 'integer', description: '0 without a response' },
                    error: { type: 'string' },
                    duration_ms: { type: 'integer' },
                    attempted_at: { type: 'string' },
                    next_attempt_at: { type: ['string', 'null'] },
                  },
                  { optional: true },
                ),
              },
              ...PAGE_ANSWER_PROPERTIES,
            },
            { optional: PAGE_ANSWER_OPTIONAL },
          ),
        },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const subscription = await own(tenant, request.params.id);
      const page = pageOf(request.query, DELIVERY_PAGE_DEFAULT);
      const { rows, total } = await deliveriesOf(warehouse, tenant, subscription.id, page);
      return {
        deliveries: rows.map((r) => ({
          event_id: r.event_id,
          event_type: r.event_type,
          attempt: r.attempt,
          outcome: r.outcome,
          http_status: r.http_status,
          error: r.error,
          duration_ms: r.duration_ms,
          attempted_at: iso(r.attempted_ms),
          next_attempt_at: r.next_attempt_ms === 0 ? null : iso(r.next_attempt_ms),
        })),
        ...pageAnswer(page, total),
      };
    },
  );
}
