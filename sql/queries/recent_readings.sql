-- The readings of some DTs with `ts` from `from_ms` on and received in [received_from_ms, received_to_ms):
-- one piece of what a processor replays to rebuild the state of a partition it takes over (the pieces, in
-- order of their received times, are the horizon's readings in this query's order: recent_readings_minutes.sql).
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
  AND ts >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
  AND received_at >= fromUnixTimestamp64Milli({received_from_ms:Int64}, 'UTC')
  AND received_at < fromUnixTimestamp64Milli({received_to_ms:Int64}, 'UTC')
-- @else
--   AND ts_ms >= {from_ms:Int64}
--   AND received_at_ms >= {received_from_ms:Int64}
--   AND received_at_ms < {received_to_ms:Int64}
-- @end
ORDER BY received_at, ts, dt_id, meter_id
