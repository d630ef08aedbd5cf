-- Per DT: the measured kW and the meters reporting, summed over the final envelope slots of the four weeks
-- ending with the newest final slot (the window of feeder_load_patterns.sql). processors/load-envelope/imputation.ts
-- divides the DT's mean kW per reporting meter by its feeder's to scale the feeder pattern to the DT.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts); see io/warehouse/README.md.
SELECT
    dt_id,
    sum(net_mean_kw - imputed_kw) AS kw_sum,
    sum(meters_reporting) AS meter_slots
FROM envelopes FINAL
WHERE meters_reporting > 0
-- @if bool
  AND is_final
  AND toUnixTimestamp64Milli(slot_start) >= (SELECT max(toUnixTimestamp64Milli(slot_start)) FROM envelopes WHERE is_final) - 28 * 86400000
-- @else
--   AND is_final = 'true'
--   AND slot_start_ms >= (SELECT max(slot_start_ms) FROM envelopes WHERE is_final = 'true') - 28 * 86400000
-- @end
GROUP BY dt_id
ORDER BY dt_id
