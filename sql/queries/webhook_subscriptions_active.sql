-- Every current, not deleted, webhook subscription with its secrets: what the sender delivers to
-- (pipelines/webhook-task.ts reloads it every few seconds).
SELECT
    tenant,
    id,
    argMax(url, version) AS url,
    argMax(event_types, version) AS event_types,
    argMax(secret, version) AS secret,
    argMax(previous_secret, version) AS previous_secret,
    argMax(previous_secret_expires_ms, version) AS previous_secret_expires_ms
FROM webhook_subscriptions
GROUP BY tenant, id
HAVING argMax(deleted, version) = 0
ORDER BY tenant, id
