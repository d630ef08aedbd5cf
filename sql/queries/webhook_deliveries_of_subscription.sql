-- The delivery log of one subscription, newest attempt first, for GET /v1/webhooks/{id}/deliveries (the
-- attempts: not the `queued` rows the sender writes before a first attempt).
SELECT
    event_id,
    event_type,
    attempt,
    outcome,
    http_status,
    error,
    duration_ms,
    attempted_ms,
    next_attempt_ms
FROM webhook_deliveries FINAL
WHERE tenant = {tenant:String} AND subscription_id = {id:String} AND attempt > 0
ORDER BY attempted_ms DESC, event_id, attempt DESC
LIMIT {limit:UInt64} OFFSET {offset:UInt64}
