-- Every DT of one tenant's topology with its meter count and the coverage and tier of its newest envelope slot,
-- ordered by dt_id, a page of them (EVERY_ROW in io/warehouse/query.ts: all).
-- A DT without envelopes has no AMI data: 0% coverage, modelled-only.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts); see io/warehouse/README.md. A server with one JOIN per SELECT
-- @note (Debian's 18.16) joins the meter counts in a subquery and names the joined columns apart instead of
-- @note qualifying them; the rows and their JSON are the same.
-- @if multiple_joins
SELECT
    t.dt_id AS dt_id,
    t.feeder_id AS feeder_id,
    t.rated_kva AS rated_kva,
    toString(t.cooling_class) AS cooling_class,
    t.latitude AS latitude,
    t.longitude AS longitude,
    t.weather_station_id AS weather_station_id,
    t.timezone AS timezone,
    t.nominal_voltage_v AS nominal_voltage_v,
    ifNull(m.meters, 0) AS meters_connected,
    e.last_slot_start AS last_slot_start,
    ifNull(e.ami_coverage_pct, 0) AS ami_coverage_pct,
    if(e.dt_id IS NULL, 'modelled-only', toString(e.data_quality)) AS data_quality
FROM (SELECT * FROM topology_transformers FINAL WHERE tenant = {tenant:String}) AS t
LEFT JOIN (SELECT dt_id, count() AS meters FROM topology_meters FINAL GROUP BY dt_id) AS m ON m.dt_id = t.dt_id
LEFT JOIN
(
    SELECT dt_id, max(slot_start) AS last_slot_start,
           argMax(ami_coverage_pct, slot_start) AS ami_coverage_pct,
           argMax(data_quality, slot_start) AS data_quality
    FROM envelopes FINAL
    GROUP BY dt_id
) AS e ON e.dt_id = t.dt_id
ORDER BY t.dt_id
-- @else
-- SELECT
--     dt_id,
--     feeder_id,
--     rated_kva,
--     toString(cooling_class) AS cooling_class,
--     latitude,
--     longitude,
--     weather_station_id,
--     timezone,
--     nominal_voltage_v,
--     ifNull(meters, 0) AS meters_connected,
--     last_slot_start,
--     ifNull(e_ami_coverage_pct, 0) AS ami_coverage_pct,
--     ifNull(e_data_quality, 'modelled-only') AS data_quality
-- FROM
-- (
--     SELECT *
--     FROM (SELECT * FROM topology_transformers FINAL WHERE tenant = {tenant:String}) AS t
--     ALL LEFT JOIN (SELECT dt_id, count() AS meters FROM topology_meters FINAL GROUP BY dt_id) AS m USING dt_id
-- ) AS tm
-- ALL LEFT JOIN
-- (
--     SELECT dt_id, max(slot_start) AS last_slot_start,
--            argMax(ami_coverage_pct, slot_start) AS e_ami_coverage_pct,
--            toString(argMax(data_quality, slot_start)) AS e_data_quality
--     FROM envelopes FINAL
--     GROUP BY dt_id
-- ) AS e USING dt_id
-- ORDER BY dt_id
-- @end
LIMIT {limit:UInt64} OFFSET {offset:UInt64}
SETTINGS join_use_nulls = 1
