-- Every lifecycle step of some flexibility events of a tenant, in sequence order (FINAL: a step the events task
-- wrote twice, after a restart, counts once). Each row carries the event as it stood after the step; the API
-- builds an event from its steps (api/routes/events.ts).
SELECT
    event_id,
    step,
    status,
    sequence,
    at_ms,
    source,
    asset_ids,
    direction,
    start_ms,
    end_ms,
    target_amount,
    target_unit,
    methodology,
    baseline_issue,
    delivered_kwh,
    target_kwh,
    share_with_data,
    data_quality,
    reason
FROM flex_events FINAL
WHERE event_id IN {event_ids:Array(String)}
  AND tenant = {tenant:String}
ORDER BY event_id, sequence
