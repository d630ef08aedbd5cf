-- The newest reading time of each of some DTs among readings at or after `from_ms`: the events task waits until
-- the warehouse holds readings of an event's DTs up to the stream time it computes baselines or stats at.
SELECT
    dt_id,
-- @if datetime64
    toUnixTimestamp64Milli(max(ts)) AS through_ms
-- @else
--  max(ts_ms) AS through_ms
-- @end
FROM readings
WHERE dt_id IN {dt_ids:Array(String)}
-- @if datetime64
  AND ts >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
-- @else
--   AND ts_ms >= {from_ms:Int64}
-- @end
GROUP BY dt_id
ORDER BY dt_id
