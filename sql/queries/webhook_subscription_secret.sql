-- The secret of one current subscription of a tenant (POST /v1/webhooks/{id}/test signs with it).
SELECT argMax(secret, version) AS secret
FROM webhook_subscriptions
WHERE tenant = {tenant:String} AND id = {id:String}
GROUP BY id
HAVING argMax(deleted, version) = 0
