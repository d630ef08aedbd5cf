-- Per feeder, local day type and local slot of day: the measured kW and the meters reporting, summed over
-- the final envelope slots of the four weeks ending with {until_ms} (the newest final slot, from
-- load_pattern_window.sql; processors/load-envelope/imputation.ts divides them into the feeder's mean kW per
-- reporting meter). Only the measured part of a slot counts (net_mean_kw - imputed_kw); modelled slots have no
-- meters reporting and are left out.
-- Local time is each DT's own time zone, daylight-saving time included, given as parameters by
-- serving/load-patterns.ts (core/zone-offsets.ts ZoneOffsets.changes): DT {dt_ids}[i] is in zone {dt_zones}[i]
-- (from 1; DTs not listed are left out), whose offset is {zone_base_ms}[zone] at the window's start plus
-- {change_delta_ms}[k] from each {change_at_ms}[k] of {change_zones}[k] = zone on. A slot's local time is
-- its start plus the offset in force at its start: the processors' cell for it (core/zone-offsets.ts
-- localCell). day_type 0 = Monday to Friday, 1 = Saturday and Sunday (1970-01-01, day 0, was a Thursday).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts); see io/warehouse/README.md. One JOIN, integer arithmetic on
-- @note epoch milliseconds, offsets as parameters rather than time-zone functions: the same rows on 18.16.
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
        slot_ms + arrayElement({zone_base_ms:Array(Int64)}, zone)
            + arraySum((z, at, delta) -> if(z = zone AND at <= slot_ms, delta, 0),
                       {change_zones:Array(UInt32)}, {change_at_ms:Array(Int64)}, {change_delta_ms:Array(Int64)}) AS local_ms,
        kw,
        meters
    FROM
    (
        SELECT
            dt_id,
            slot_ms,
            transform(dt_id, {dt_ids:Array(String)}, {dt_zones:Array(UInt32)}, toUInt32(0)) AS zone,
            kw,
            meters
        FROM
        (
            SELECT
                dt_id,
-- @if datetime64
                toInt64(toUnixTimestamp64Milli(slot_start)) AS slot_ms,
-- @else
--              toInt64(slot_start_ms) AS slot_ms,
-- @end
                net_mean_kw - imputed_kw AS kw,
                meters_reporting AS meters
            FROM envelopes FINAL
            WHERE meters_reporting > 0
-- @if bool
              AND is_final
-- @else
--            AND is_final = 'true'
-- @end
        )
        WHERE slot_ms >= {until_ms:Int64} - 28 * 86400000 AND slot_ms <= {until_ms:Int64} AND zone > 0
    ) AS e
    ALL INNER JOIN (SELECT dt_id, feeder_id FROM topology_transformers FINAL) AS t USING dt_id
)
GROUP BY feeder_id, day_type, slot_of_day
ORDER BY feeder_id, day_type, slot_of_day
