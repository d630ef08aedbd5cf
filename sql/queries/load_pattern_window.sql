-- The ends of the load patterns' four-week windows: the newest final envelope slot (feeder_load_patterns.sql,
-- dt_load_levels.sql) and the newest reading (meter_load_patterns.sql), epoch milliseconds (0: none yet).
-- serving/load-patterns.ts reads each DT's time-zone offsets over these windows and passes them, with the
-- window's end, to the pattern queries.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts); see io/warehouse/README.md.
SELECT
-- @if bool
    toInt64((SELECT max(toUnixTimestamp64Milli(slot_start)) FROM envelopes WHERE is_final)) AS envelopes_until_ms,
-- @else
--  toInt64((SELECT max(slot_start_ms) FROM envelopes WHERE is_final = 'true')) AS envelopes_until_ms,
-- @end
-- @if datetime64
    toInt64((SELECT max(toUnixTimestamp64Milli(ts)) FROM readings)) AS readings_until_ms
-- @else
--  toInt64((SELECT max(ts_ms) FROM readings)) AS readings_until_ms
-- @end
