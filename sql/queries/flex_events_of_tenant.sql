-- The ids of a tenant's flexibility events, newest start first, optionally only those whose current status (that
-- of the step with the highest sequence) is {status} ('' for any) and with from_ms <= start_ms < to_ms, for
-- GET /v1/events (which reads their steps with flex_event_steps).
SELECT event_id
FROM
(
    SELECT
        event_id,
        argMax(status, sequence) AS current_status,
        argMax(start_ms, sequence) AS event_start_ms
    FROM flex_events
    WHERE tenant = {tenant:String}
    GROUP BY event_id
)
WHERE ({status:String} = '' OR current_status = {status:String})
  AND event_start_ms >= {from_ms:UInt64}
  AND event_start_ms < {to_ms:UInt64}
ORDER BY event_start_ms DESC, event_id
LIMIT {limit:UInt64} OFFSET {offset:UInt64}
