-- Ambient temperature observations (topic gridstream.weather).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/001_readings.sql and io/warehouse/README.md.
CREATE TABLE IF NOT EXISTS weather
(
-- @if low_cardinality
    station_id LowCardinality(String) COMMENT 'Weather station (topology_transformers.weather_station_id).',
-- @else
--  station_id String COMMENT 'Weather station (topology_transformers.weather_station_id).',
-- @end
-- @if datetime64
    ts DateTime64(3, 'UTC') COMMENT 'Time of the observation, UTC.',
-- @else
--  ts String COMMENT 'Time of the observation, UTC, as text YYYY-MM-DD hh:mm:ss.sss (this server has no DateTime64; ts_ms is the same instant as a number).',
--  ts_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(ts, 1, 19), 'UTC')) * 1000 + toUInt64(substring(ts, 21, 3)) + throwIf(length(ts) != 23) COMMENT 'ts as epoch milliseconds (computed on insert).',
-- @end
    ambient_c Float64 COMMENT 'Ambient air temperature, degrees Celsius.',
-- @if datetime64
    received_at DateTime64(3, 'UTC') COMMENT 'When gridstream received the observation, UTC; among copies of the same (station_id, ts) the latest received is kept.'
-- @else
--  received_at String COMMENT 'When gridstream received the observation, UTC, as text YYYY-MM-DD hh:mm:ss.sss; among copies of the same (station_id, ts) the latest received is kept.',
--  received_at_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(received_at, 1, 19), 'UTC')) * 1000 + toUInt64(substring(received_at, 21, 3)) + throwIf(length(received_at) != 23) COMMENT 'received_at as epoch milliseconds (computed on insert); the ReplacingMergeTree version.'
-- @end
)
-- @if datetime64
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (station_id, ts)
-- @else
-- ENGINE = ReplacingMergeTree(received_at_ms)
-- PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000), 'UTC'))
-- ORDER BY (station_id, ts_ms)
-- @end
-- @if ttl
TTL toDateTime(ts) + INTERVAL {{retention_days}} DAY
-- @end
-- @if non_replicated_dedup
SETTINGS non_replicated_deduplication_window = 1000
-- @end
-- @if table_comment
COMMENT 'Ambient temperature per weather station and time (input to the transformer thermal model). Query with FINAL to count each observation once.';
-- @else
-- ;
-- @end
