-- How far the delivery log has got with some deliveries (subscription x event, any of the pairs given): the
-- newest attempt and its outcome. The sender looks here before it queues an event (one already logged is not
-- queued again: a replay after a crash or a rebalance sends nothing twice) and before each retry (one
-- another sender already made is not made again); pipelines/webhook-task.ts.
SELECT
    subscription_id,
    event_id,
    max(attempt) AS last_attempt,
    argMax(outcome, attempt) AS last_outcome
FROM webhook_deliveries FINAL
WHERE subscription_id IN {subscriptions:Array(String)} AND event_id IN {events:Array(String)}
GROUP BY subscription_id, event_id
