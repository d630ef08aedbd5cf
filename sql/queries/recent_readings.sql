-- The newest readings of some DTs, back to `horizon_s` seconds before the newest among them: what a
-- processor replays to rebuild the state of a partition it takes over.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64 the epoch-millisecond columns ts_ms and
-- @note received_at_ms stand in for the conversions (UInt64 and Int64 give the same JSON); see
-- @note sql/001_readings.sql and io/warehouse/README.md.
SELECT
    meter_id,
    dt_id,
-- @if datetime64
    toUnixTimestamp64Milli(ts) AS ts_ms,
-- @else
--  ts_ms,
-- @end
    p_kw,
    q_kvar,
    legs.leg AS leg,
    legs.v AS v,
    legs.i AS i,
    e_imp_kwh,
    e_exp_kwh,
-- @if datetime64
    toUnixTimestamp64Milli(received_at) AS received_ms
-- @else
--  received_at_ms AS received_ms
-- @end
FROM readings FINAL
WHERE dt_id IN {dts:Array(String)}
-- @if datetime64
  AND ts >= (SELECT max(ts) FROM readings WHERE dt_id IN {dts:Array(String)}) - INTERVAL {horizon_s:UInt32} SECOND
-- @else
--   AND ts_ms >= (SELECT max(ts_ms) FROM readings WHERE dt_id IN {dts:Array(String)}) - {horizon_s:UInt32} * 1000
-- @end
ORDER BY received_at, ts
