-- The operating-envelope row of one DT and slot that was in force at a time (epoch ms): of the issues made at or
-- before it that cover the slot, the newest. What a dispatch delivered in that slot is checked against. The
-- table keeps only a slot's newest issue once its parts merge, so a check made late (a replay) may find only
-- issues made after the time: then the earliest of them, the nearest to what was in force (its issued_at is
-- part of the check).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms and issued_at_ms are columns.
SELECT
-- @if datetime64
    toUnixTimestamp64Milli(issued_at) AS issued_at_ms,
-- @else
--  issued_at_ms,
-- @end
    import_kw,
    export_kw,
    import_limited_by,
    export_limited_by,
    data_quality
FROM dt_operating_envelopes
WHERE dt_id = {dt_id:String}
-- @if datetime64
  AND slot_start = fromUnixTimestamp64Milli({slot_ms:Int64}, 'UTC')
-- @else
--   AND slot_start_ms = {slot_ms:Int64}
-- @end
ORDER BY issued_at_ms <= {at_ms:Int64} DESC, if(issued_at_ms <= {at_ms:Int64}, -toInt64(issued_at_ms), toInt64(issued_at_ms))
LIMIT 1
