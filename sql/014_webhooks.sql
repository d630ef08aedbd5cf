-- Webhooks (seed 001): the subscriptions tenants make through /v1/webhooks, and the log of every delivery
-- attempt (pipelines/webhook-task.ts sends, api/routes/webhooks.ts serves). Times are epoch-ms UInt64 columns
-- (the same on every server version) with a DateTime beside the log's for its partitions and TTL.
CREATE TABLE IF NOT EXISTS webhook_subscriptions
(
    tenant String COMMENT 'Tenant that owns the subscription: it receives events of its own DTs only.',
    id String COMMENT 'Subscription id (a UUID), the webhook_id of every event sent to it.',
    url String COMMENT 'http(s) URL the events are POSTed to.',
    event_types Array(String) COMMENT 'Event types sent: STRESS.ALERT, IMPEDANCE.ALERT, ENVELOPE.VIOLATION, DISPATCH.REJECTED.',
    description String COMMENT 'Free text from the subscriber.',
    secret String COMMENT 'HMAC-SHA256 key of the signature header. Kept as given (the sender needs it to sign): restrict who can read this table.',
    created_ms UInt64 COMMENT 'When the subscription was made, epoch ms.',
    version UInt64 COMMENT 'Epoch ms of the change the row records (ReplacingMergeTree version: the newest row of an id is current).',
    deleted UInt8 COMMENT '1 once the subscription is deleted: nothing more is sent to it.'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, id)
-- @if table_comment
COMMENT 'Webhook subscriptions, one row per change (the newest row of an id is current).';
-- @else
-- ;
-- @end
CREATE TABLE IF NOT EXISTS webhook_deliveries
(
    tenant String COMMENT 'Tenant of the subscription.',
    subscription_id String COMMENT 'webhook_subscriptions.id the attempt was for.',
    event_id String COMMENT 'The event''s id (the same on every attempt and on a replay: receivers de-duplicate on it).',
    event_type String COMMENT 'STRESS.ALERT, IMPEDANCE.ALERT, ENVELOPE.VIOLATION, DISPATCH.REJECTED or WEBHOOK.TEST.',
    attempt UInt16 COMMENT 'Attempt number, from 1; 0 for the row written when the delivery is queued, before its first attempt.',
    outcome String COMMENT 'queued (attempt 0, the first attempt at next_attempt_ms), delivered (a 2xx), retrying (another attempt at next_attempt_ms) or failed (no more attempts).',
    http_status UInt16 COMMENT 'HTTP status of the response; 0 without one (connection refused, timeout).',
    error String COMMENT 'Why the attempt failed, empty when delivered.',
    duration_ms UInt32 COMMENT 'Time from the request to the response (or the failure), ms.',
    attempted_at DateTime COMMENT 'When the attempt was made, UTC (partitions and TTL).',
    attempted_ms UInt64 COMMENT 'When the attempt was made, epoch ms.',
    next_attempt_ms UInt64 COMMENT 'When the next attempt is due, epoch ms; 0 when none (delivered or failed).',
    url String COMMENT 'URL the attempt was sent to.',
    body String COMMENT 'The JSON body sent, byte for byte (its signature is over these bytes); a restarted sender resends it.'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(attempted_at)
ORDER BY (tenant, subscription_id, attempted_ms, event_id, attempt)
-- @if ttl
TTL attempted_at + INTERVAL {{retention_days}} DAY
-- @end
-- @if table_comment
COMMENT 'Every webhook delivery attempt with its outcome (GET /v1/webhooks/{id}/deliveries).';
-- @else
-- ;
-- @end
