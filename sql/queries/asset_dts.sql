-- The DT each of some assets sits behind, from the topology (the newest version of each; argMax rather than
-- FINAL, as in dt_tenants.sql). Assets not in the topology are absent.
SELECT asset_id, argMax(dt_id, topology_version) AS dt_id
FROM topology_assets
WHERE asset_id IN {asset_ids:Array(String)}
GROUP BY asset_id
ORDER BY asset_id
