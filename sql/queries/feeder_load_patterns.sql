-- Per feeder, local day type and local slot of day: the measured kW and the meters reporting, summed over
-- the final envelope slots of the four weeks ending with the newest final slot (processors/load-envelope/imputation.ts
-- divides them into the feeder's mean kW per reporting meter). Only the measured part of a slot counts
-- (net_mean_kw - imputed_kw); modelled slots have no meters reporting and are left out.
-- Local time is mean solar time in whole hours, UTC offset floor(longitude / 15 + 0.5) h (the topology has no
-- time zone); day_type 0 = Monday to Friday, 1 = Saturday and Sunday (1970-01-01, day 0, was a Thursday).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts); see io/warehouse/README.md. One JOIN, integer arithmetic on
-- @note epoch milliseconds: the same rows on 18.16.
SELECT
    feeder_id,
    toUInt8(if((intDiv(local_ms, 86400000) + 3) % 7 >= 5, 1, 0)) AS day_type,
    toUInt16(intDiv(local_ms % 86400000, 900000)) AS slot_of_day,
    sum(kw) AS kw_sum,
    sum(meters) AS meter_slots
FROM
(
    SELECT
        feeder_id,
        toInt64(slot_ms) + toInt64(floor(longitude / 15 + 0.5)) * 3600000 AS local_ms,
        kw,
        meters
    FROM
    (
        SELECT
            dt_id,
-- @if datetime64
            toUnixTimestamp64Milli(slot_start) AS slot_ms,
-- @else
--          slot_start_ms AS slot_ms,
-- @end
            net_mean_kw - imputed_kw AS kw,
            meters_reporting AS meters
        FROM envelopes FINAL
        WHERE meters_reporting > 0
-- @if bool
          AND is_final
          AND toUnixTimestamp64Milli(slot_start) >= (SELECT max(toUnixTimestamp64Milli(slot_start)) FROM envelopes WHERE is_final) - 28 * 86400000
-- @else
--        AND is_final = 'true'
--        AND slot_start_ms >= (SELECT max(slot_start_ms) FROM envelopes WHERE is_final = 'true') - 28 * 86400000
-- @end
    ) AS e
    ALL INNER JOIN (SELECT dt_id, feeder_id, longitude FROM topology_transformers FINAL) AS t USING dt_id
)
GROUP BY feeder_id, day_type, slot_of_day
ORDER BY feeder_id, day_type, slot_of_day
