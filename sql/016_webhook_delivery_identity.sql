-- The webhook delivery log keyed by what a delivery is (tenant, subscription, event, attempt) instead of when it
-- was written: the sender consults the log before it queues an event or makes an attempt
-- (pipelines/webhook-task.ts), and a row written again anyway (two instances during a rebalance, a replay
-- between the look-up and the write) replaces its copy. ClickHouse cannot change a sorting key in place: the
-- table is rebuilt under the new key and its rows copied over, as sql/015_dead_letter_identity.sql does.
-- @note Every statement can run again (see sql/015_dead_letter_identity.sql): a run that stopped after the
-- @note RENAME drops the old table and copies the new one onto itself; a RENAME interrupted between its two
-- @note tables needs RENAME TABLE webhook_deliveries_keyed TO webhook_deliveries by hand.
DROP TABLE IF EXISTS webhook_deliveries_unkeyed;

CREATE TABLE IF NOT EXISTS webhook_deliveries_keyed
(
    tenant String COMMENT 'Tenant of the subscription.',
    subscription_id String COMMENT 'webhook_subscriptions.id the attempt was for.',
    event_id String COMMENT 'The event''s id (the same on every attempt and on a replay: receivers de-duplicate on it).',
    event_type String COMMENT 'STRESS.ALERT, IMPEDANCE.ALERT, ENVELOPE.VIOLATION, DISPATCH.REJECTED or WEBHOOK.TEST.',
    attempt UInt16 COMMENT 'Attempt number, from 1; 0 for the row written when the delivery is queued, before its first attempt. With tenant, subscription_id and event_id the row''s identity: a replay of the same row replaces it.',
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(attempted_at)
ORDER BY (tenant, subscription_id, event_id, attempt)
-- @if ttl
TTL attempted_at + INTERVAL {{retention_days}} DAY
-- @end
-- @if table_comment
COMMENT 'Every webhook delivery attempt with its outcome (GET /v1/webhooks/{id}/deliveries), one row per subscription, event and attempt (read with FINAL): the sender consults it before sending, and a replayed row replaces its copy.';
-- @else
-- ;
-- @end

-- The rows so far (run again, it copies them again: the copies have the same key and merge).
INSERT INTO webhook_deliveries_keyed SELECT * FROM webhook_deliveries;

RENAME TABLE webhook_deliveries TO webhook_deliveries_unkeyed, webhook_deliveries_keyed TO webhook_deliveries;

DROP TABLE IF EXISTS webhook_deliveries_unkeyed;
