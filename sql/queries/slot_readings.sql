-- The stored readings of some DTs with `ts` in [from_ms, to_ms) (one slot): what the envelope processor
-- rebuilds a slot it released from when a late reading revises it (pipelines/load-envelope-stage.ts).
-- @note Gates as in recent_readings.sql: without DateTime64 the epoch-millisecond columns stand in.
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
  AND ts < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')
-- @else
--   AND ts_ms >= {from_ms:Int64}
--   AND ts_ms < {to_ms:Int64}
-- @end
ORDER BY dt_id, meter_id, ts
