-- The DT each of some meters is connected to, from the topology (the newest version of each; argMax rather
-- than FINAL, as in dt_tenants.sql). Meters not in the topology are absent.
SELECT meter_id, argMax(dt_id, topology_version) AS dt_id
FROM topology_meters
WHERE meter_id IN {meter_ids:Array(String)}
GROUP BY meter_id
ORDER BY meter_id
