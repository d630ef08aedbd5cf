-- The secrets of one current subscription of a tenant (POST /v1/webhooks/{id}/test signs with them,
-- POST /v1/webhooks/{id}/rotate-secret replaces them).
SELECT
    argMax(secret, version) AS secret,
    argMax(previous_secret, version) AS previous_secret,
    argMax(previous_secret_expires_ms, version) AS previous_secret_expires_ms
FROM webhook_subscriptions
WHERE tenant = {tenant:String} AND id = {id:String}
GROUP BY id
HAVING argMax(deleted, version) = 0
