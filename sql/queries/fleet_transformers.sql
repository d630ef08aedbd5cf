-- Every DT of one tenant's topology with its meter count, by dt_id (GET /v1/fleet): list_dts.sql without the
-- newest envelope, which fleet_envelope_newest.sql reads for the recent days first.
SELECT
    dt_id,
    feeder_id,
    rated_kva,
    toString(cooling_class) AS cooling_class,
    latitude,
    longitude,
    weather_station_id,
    timezone,
    nominal_voltage_v,
    meters AS meters_connected
FROM (SELECT * FROM topology_transformers FINAL WHERE tenant = {tenant:String}) AS t
ALL LEFT JOIN (SELECT dt_id, count() AS meters FROM topology_meters FINAL GROUP BY dt_id) AS m USING dt_id
ORDER BY dt_id
