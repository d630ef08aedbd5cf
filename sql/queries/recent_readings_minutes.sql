-- How many readings of some DTs, back to `horizon_s` seconds before the newest among them, were received in
-- each minute, and where that horizon starts (`from_ms`, the same on every row): how a processor cuts the
-- readings that rebuild a partition it takes over into pieces of recent_readings.sql. Counted with FINAL, as
-- the pieces are read (a copy not yet merged away counts once).
-- @note Gates: see recent_readings.sql.
SELECT
-- @if datetime64
    (SELECT toUnixTimestamp64Milli(max(ts)) FROM readings WHERE dt_id IN {dts:Array(String)}) - {horizon_s:UInt32} * 1000 AS from_ms,
    intDiv(toUnixTimestamp64Milli(received_at), 60000) * 60000 AS minute_ms,
-- @else
--  (SELECT toInt64(max(ts_ms)) FROM readings WHERE dt_id IN {dts:Array(String)}) - {horizon_s:UInt32} * 1000 AS from_ms,
--  intDiv(received_at_ms, 60000) * 60000 AS minute_ms,
-- @end
    count() AS readings
FROM readings FINAL
WHERE dt_id IN {dts:Array(String)}
-- @if datetime64
  AND toUnixTimestamp64Milli(ts) >= from_ms
-- @else
--   AND ts_ms >= from_ms
-- @end
GROUP BY from_ms, minute_ms
ORDER BY minute_ms
