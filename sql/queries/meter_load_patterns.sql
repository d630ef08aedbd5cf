-- Per meter, local day type and local hour: the sum of its readings' kW and their count, over the readings
-- of the four weeks ending with the newest reading (processors/load-envelope/imputation.ts divides them into the meter's
-- own mean load shape, used to impute the meter when it does not report). Local time and day type as in
-- feeder_load_patterns.sql: UTC offset floor(longitude / 15 + 0.5) h, day_type 1 = Saturday and Sunday.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts); see io/warehouse/README.md. FINAL: a re-delivered reading counts once.
SELECT
    dt_id,
    meter_id,
    toUInt8(if((intDiv(local_ms, 86400000) + 3) % 7 >= 5, 1, 0)) AS day_type,
    toUInt8(intDiv(local_ms % 86400000, 3600000)) AS hour,
    sum(p_kw) AS kw_sum,
    count() AS readings
FROM
(
    SELECT
        dt_id,
        meter_id,
        toInt64(ts_ms) + toInt64(floor(longitude / 15 + 0.5)) * 3600000 AS local_ms,
        p_kw
    FROM
    (
        SELECT
            dt_id,
            meter_id,
-- @if datetime64
            toUnixTimestamp64Milli(ts) AS ts_ms,
-- @else
--          ts_ms,
-- @end
            p_kw
        FROM readings FINAL
-- @if datetime64
        WHERE toUnixTimestamp64Milli(ts) >= (SELECT max(toUnixTimestamp64Milli(ts)) FROM readings) - 28 * 86400000
-- @else
--      WHERE ts_ms >= (SELECT max(ts_ms) FROM readings) - 28 * 86400000
-- @end
    ) AS r
    ALL INNER JOIN (SELECT dt_id, longitude FROM topology_transformers FINAL) AS t USING dt_id
)
GROUP BY dt_id, meter_id, day_type, hour
ORDER BY dt_id, meter_id, day_type, hour
