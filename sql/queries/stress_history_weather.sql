-- Every station's observations of the last horizon_s seconds before the newest, in time order: the ambient
-- history the stress stage's weather table starts from (pipelines/weather-table.ts), before what the weather
-- topic still holds.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, ts_ms is a column; see io/warehouse/README.md.
SELECT
    station_id,
-- @if datetime64
    toUnixTimestamp64Milli(ts) AS ts_ms,
    toUnixTimestamp64Milli(received_at) AS received_ms,
-- @else
--  ts_ms,
--  received_at_ms AS received_ms,
-- @end
    ambient_c
FROM weather FINAL
-- @if datetime64
WHERE ts >= (SELECT max(ts) FROM weather) - INTERVAL {horizon_s:UInt32} SECOND
-- @else
-- WHERE ts_ms >= (SELECT max(ts_ms) FROM weather) - {horizon_s:UInt32} * 1000
-- @end
ORDER BY ts_ms, station_id
