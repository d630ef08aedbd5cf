-- Per meter, local day type and local hour: the sum of its readings' kW and their count, over the readings
-- of the four weeks ending with {until_ms} (the newest reading, from load_pattern_window.sql;
-- processors/load-envelope/imputation.ts divides them into the meter's own mean load shape, used to impute the
-- meter when it does not report). Local time and day type as in feeder_load_patterns.sql, from the same
-- parameters: each reading counts in the local hour of its 15-minute slot's start (the processors' cell of
-- the slot), so the readings are summed by UTC slot first and the offset is applied once a slot.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts); see io/warehouse/README.md. FINAL: a re-delivered reading counts once.
SELECT
    dt_id,
    meter_id,
    toUInt8(if((intDiv(local_ms, 86400000) + 3) % 7 >= 5, 1, 0)) AS day_type,
    toUInt8(intDiv(local_ms % 86400000, 3600000)) AS hour,
    sum(slot_kw) AS kw_sum,
    sum(slot_readings) AS readings
FROM
(
    SELECT
        dt_id,
        meter_id,
        slot_ms + arrayElement({zone_base_ms:Array(Int64)}, zone)
            + arraySum((z, at, delta) -> if(z = zone AND at <= slot_ms, delta, 0),
                       {change_zones:Array(UInt32)}, {change_at_ms:Array(Int64)}, {change_delta_ms:Array(Int64)}) AS local_ms,
        slot_kw,
        slot_readings
    FROM
    (
        SELECT
            dt_id,
            meter_id,
            intDiv(reading_ms, 900000) * 900000 AS slot_ms,
            transform(dt_id, {dt_ids:Array(String)}, {dt_zones:Array(UInt32)}, toUInt32(0)) AS zone,
            sum(p_kw) AS slot_kw,
            count() AS slot_readings
        FROM
        (
            SELECT
                dt_id,
                meter_id,
-- @if datetime64
                toInt64(toUnixTimestamp64Milli(ts)) AS reading_ms,
-- @else
--              toInt64(ts_ms) AS reading_ms,
-- @end
                p_kw
            FROM readings FINAL
        )
        WHERE reading_ms >= {until_ms:Int64} - 28 * 86400000 AND reading_ms <= {until_ms:Int64}
        GROUP BY dt_id, meter_id, slot_ms
    )
    WHERE zone > 0
)
GROUP BY dt_id, meter_id, day_type, hour
ORDER BY dt_id, meter_id, day_type, hour
