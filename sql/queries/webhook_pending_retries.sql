-- Deliveries whose newest attempt asked for another one (outcome retrying), with the body to resend: a
-- restarted sender picks them up where the last one left off (pipelines/webhook-task.ts).
SELECT
    tenant,
    subscription_id,
    event_id,
    argMax(event_type, attempt) AS type,
    max(attempt) AS last_attempt,
    argMax(outcome, attempt) AS last_outcome,
    argMax(next_attempt_ms, attempt) AS due_ms,
    argMax(body, attempt) AS last_body
FROM webhook_deliveries
WHERE attempted_at >= now() - INTERVAL 2 DAY
GROUP BY tenant, subscription_id, event_id
HAVING last_outcome = 'retrying'
ORDER BY due_ms
