-- Every DT of the topology with its meter count and the coverage and tier of its newest envelope slot.
-- A DT without envelopes has no AMI data: 0% coverage, modelled-only.
SELECT
    t.dt_id AS dt_id,
    t.feeder_id AS feeder_id,
    t.rated_kva AS rated_kva,
    toString(t.cooling_class) AS cooling_class,
    t.latitude AS latitude,
    t.longitude AS longitude,
    t.weather_station_id AS weather_station_id,
    ifNull(m.meters, 0) AS meters_connected,
    e.last_slot_start AS last_slot_start,
    ifNull(e.ami_coverage_pct, 0) AS ami_coverage_pct,
    if(e.dt_id IS NULL, 'modelled-only', toString(e.data_quality)) AS data_quality
FROM (SELECT * FROM topology_transformers FINAL) AS t
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
SETTINGS join_use_nulls = 1
