-- Dispatch commands from flexibility and battery platforms (topic gridstream.dispatches).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/001_readings.sql and io/warehouse/README.md.
CREATE TABLE IF NOT EXISTS dispatches
(
    event_id String COMMENT 'Id of the dispatch event (a UUID as the platforms send it).',
    source Nullable(String) COMMENT 'Platform that issued the command; NULL when not given.',
-- @if datetime64
    published_at Nullable(DateTime64(3, 'UTC')) COMMENT 'When the platform published the command, UTC; NULL when not given.',
-- @else
--  published_at Nullable(String) COMMENT 'When the platform published the command, UTC, as text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64); NULL when not given.',
--  published_at_ms Nullable(UInt64) MATERIALIZED if(isNull(published_at), NULL, toUInt64(toDateTime(substring(ifNull(published_at, '1970-01-01 00:00:00.000'), 1, 19), 'UTC')) * 1000 + toUInt64(substring(ifNull(published_at, '1970-01-01 00:00:00.000'), 21, 3)) + throwIf(length(ifNull(published_at, '1970-01-01 00:00:00.000')) != 23)) COMMENT 'published_at as epoch milliseconds (computed on insert); NULL when not given.',
-- @end
    asset_id String COMMENT 'Asset (battery, EV charger, ...) the command is for.',
-- @if datetime64
    dispatch_time DateTime64(3, 'UTC') COMMENT 'When the command was issued, UTC.',
    delivery_period_start DateTime64(3, 'UTC') COMMENT 'Start of the 15-minute delivery period, UTC.',
-- @else
--  dispatch_time String COMMENT 'When the command was issued, UTC, as text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; dispatch_time_ms is the same instant as a number).',
--  dispatch_time_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(dispatch_time, 1, 19), 'UTC')) * 1000 + toUInt64(substring(dispatch_time, 21, 3)) + throwIf(length(dispatch_time) != 23) COMMENT 'dispatch_time as epoch milliseconds (computed on insert).',
--  delivery_period_start String COMMENT 'Start of the 15-minute delivery period, UTC, as text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; delivery_period_start_ms is the same instant as a number).',
--  delivery_period_start_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(delivery_period_start, 1, 19), 'UTC')) * 1000 + toUInt64(substring(delivery_period_start, 21, 3)) + throwIf(length(delivery_period_start) != 23) COMMENT 'delivery_period_start as epoch milliseconds (computed on insert).',
-- @end
    target_power_amount String COMMENT 'Target power as the platform sent it, an exact decimal string, in target_power_unit.',
    target_power_unit Enum8('W' = 1, 'kW' = 2, 'MW' = 3) COMMENT 'Unit of target_power_amount.',
    target_power_kw Nullable(Float64) ALIAS toFloat64OrNull(target_power_amount) * multiIf(target_power_unit = 'W', 0.001, target_power_unit = 'MW', 1000., 1.) COMMENT 'Target power converted to kW (computed, not stored; a float, so not exact).',
    nominal_power_amount Nullable(String) COMMENT 'Nominal power of the asset, decimal string in nominal_power_unit; NULL when not given.',
    nominal_power_unit Nullable(Enum8('W' = 1, 'kW' = 2, 'MW' = 3)) COMMENT 'Unit of nominal_power_amount.',
    power_imbalance_amount Nullable(String) COMMENT 'Power imbalance, decimal string in power_imbalance_unit; NULL when not given.',
    power_imbalance_unit Nullable(Enum8('W' = 1, 'kW' = 2, 'MW' = 3)) COMMENT 'Unit of power_imbalance_amount.',
    soc_imbalance_amount Nullable(String) COMMENT 'State-of-charge imbalance, decimal string in soc_imbalance_unit; NULL when not given.',
    soc_imbalance_unit Nullable(Enum8('W' = 1, 'kW' = 2, 'MW' = 3)) COMMENT 'Unit of soc_imbalance_amount.',
-- @if datetime64
    received_at DateTime64(3, 'UTC') COMMENT 'When gridstream received the command, UTC; among copies of the same command the latest received is kept.'
-- @else
--  received_at String COMMENT 'When gridstream received the command, UTC, as text YYYY-MM-DD hh:mm:ss.sss; among copies of the same command the latest received is kept.',
--  received_at_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(received_at, 1, 19), 'UTC')) * 1000 + toUInt64(substring(received_at, 21, 3)) + throwIf(length(received_at) != 23) COMMENT 'received_at as epoch milliseconds (computed on insert); the ReplacingMergeTree version.'
-- @end
)
-- @if datetime64
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(dispatch_time)
ORDER BY (asset_id, dispatch_time, event_id)
-- @else
-- ENGINE = ReplacingMergeTree(received_at_ms)
-- PARTITION BY toYYYYMM(toDateTime(intDiv(dispatch_time_ms, 1000), 'UTC'))
-- ORDER BY (asset_id, dispatch_time_ms, event_id)
-- @end
-- @if ttl
TTL toDateTime(dispatch_time) + INTERVAL {{retention_days}} DAY
-- @end
-- @if non_replicated_dedup
SETTINGS non_replicated_deduplication_window = 1000
-- @end
-- @if table_comment
COMMENT 'Dispatch commands per asset and time, amounts kept as the exact decimal strings sent. Query with FINAL to count each command once.';
-- @else
-- ;
-- @end
