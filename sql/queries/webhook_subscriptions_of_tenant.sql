-- The current, not deleted, webhook subscriptions of a tenant (argMax by version rather than FINAL, so the
-- answer does not depend on how far ReplacingMergeTree has merged), for GET /v1/webhooks.
SELECT
    id,
    argMax(url, version) AS url,
    argMax(event_types, version) AS event_types,
    argMax(description, version) AS description,
    argMax(created_ms, version) AS created_ms
FROM webhook_subscriptions
WHERE tenant = {tenant:String}
GROUP BY id
HAVING argMax(deleted, version) = 0
ORDER BY created_ms, id
