-- The parked (unknown_meter) dead letters of some meters not re-ingested yet, with their raw bytes as hex
-- (the same on every server version) and their receive time, oldest first.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, received_at_ms stands in for the conversion.
SELECT
    dead_letter_id,
    source_topic,
    key,
    hex(raw) AS raw_hex,
-- @if datetime64
    toUnixTimestamp64Milli(received_at) AS received_ms
-- @else
--  received_at_ms AS received_ms
-- @end
FROM dead_letters FINAL
WHERE reason_code = 'unknown_meter'
  AND key IN {meters:Array(String)}
  AND dead_letter_id NOT IN (SELECT dead_letter_id FROM released_dead_letters)
ORDER BY received_ms, dead_letter_id
