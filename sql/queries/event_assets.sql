-- The assets of a flexibility event with what its baselines and stats are computed from: the meter at each
-- asset's connection, its DT, and the DT's tenant, place and time zone (NULL: none named). The newest topology
-- version of each row (argMax, as in dt_tenants.sql). Assets the topology does not place are absent.
SELECT
    a.asset_id AS asset_id,
    a.dt_id AS dt_id,
    a.meter_id AS meter_id,
    t.tenant AS tenant,
    t.timezone AS timezone,
    t.latitude AS latitude,
    t.longitude AS longitude
FROM
(
    SELECT asset_id, argMax(dt_id, topology_version) AS dt_id, argMax(meter_id, topology_version) AS meter_id
    FROM topology_assets
    WHERE asset_id IN {asset_ids:Array(String)}
    GROUP BY asset_id
) AS a
LEFT JOIN
(
    SELECT
        dt_id,
        argMax(tenant, topology_version) AS tenant,
        argMax(timezone, topology_version) AS timezone,
        argMax(latitude, topology_version) AS latitude,
        argMax(longitude, topology_version) AS longitude
    FROM topology_transformers
    GROUP BY dt_id
) AS t ON a.dt_id = t.dt_id
ORDER BY asset_id
