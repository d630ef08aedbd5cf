-- Dispatch commands of some assets with from_ms <= dispatch_time < to_ms and delivery_from_ms <=
-- delivery_period_start < delivery_to_ms (epoch ms; the delivery bounds are the UTC day of the delivery_day
-- filter), one row per command (FINAL: a re-delivered command counts once), ordered by dispatch time, for
-- GET /v1/dispatches.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64 the _ms columns stand in for the conversions
-- @note (UInt64 and Int64 are the same JSON, a string of digits); see sql/006_dispatches.sql. Units are
-- @note selected as the Enums they are (JSON gives their names): toString of a NULL Nullable(Enum8) fails on 18.16.
-- @note action (sql/028_dispatch_action.sql): dispatch or cancel.
SELECT
    event_id,
    source,
-- @if datetime64
    toUnixTimestamp64Milli(published_at) AS published_ms,
    toUnixTimestamp64Milli(dispatch_time) AS dispatch_ms,
    toUnixTimestamp64Milli(delivery_period_start) AS delivery_ms,
-- @else
--  published_at_ms AS published_ms,
--  dispatch_time_ms AS dispatch_ms,
--  delivery_period_start_ms AS delivery_ms,
-- @end
    asset_id,
    action,
    target_power_amount,
    target_power_unit,
    nominal_power_amount,
    nominal_power_unit,
    power_imbalance_amount,
    power_imbalance_unit,
    soc_imbalance_amount,
    soc_imbalance_unit
FROM dispatches FINAL
WHERE asset_id IN {asset_ids:Array(String)}
-- @if datetime64
  AND dispatch_time >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
  AND dispatch_time < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')
  AND delivery_period_start >= fromUnixTimestamp64Milli({delivery_from_ms:Int64}, 'UTC')
  AND delivery_period_start < fromUnixTimestamp64Milli({delivery_to_ms:Int64}, 'UTC')
ORDER BY dispatch_time, asset_id, event_id
-- @else
--   AND dispatch_time_ms >= {from_ms:Int64}
--   AND dispatch_time_ms < {to_ms:Int64}
--   AND delivery_period_start_ms >= {delivery_from_ms:Int64}
--   AND delivery_period_start_ms < {delivery_to_ms:Int64}
-- ORDER BY dispatch_time_ms, asset_id, event_id
-- @end
LIMIT {limit:UInt64} OFFSET {offset:UInt64}
