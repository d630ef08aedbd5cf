-- Deliveries not yet attempted (outcome queued, attempt 0) or whose newest attempt asked for another one
-- (retrying), with the body to send: a restarted sender picks them up where the last one left off
-- (pipelines/webhook-task.ts).
SELECT
    tenant,
    subscription_id,
    event_id,
    argMax(event_type, attempt) AS type,
    max(attempt) AS last_attempt,
    argMax(outcome, attempt) AS last_outcome,
    argMax(next_attempt_ms, attempt) AS due_ms,
    argMax(body, attempt) AS last_body
FROM webhook_deliveries FINAL
WHERE attempted_at >= now() - INTERVAL 2 DAY
GROUP BY tenant, subscription_id, event_id
HAVING last_outcome IN ('queued', 'retrying')
ORDER BY due_ms
