-- The tenant of each of some DTs, from the topology (the newest version of each; argMax rather than FINAL so
-- the answer does not depend on how far ReplacingMergeTree has merged). DTs not in the topology are absent.
SELECT dt_id, argMax(tenant, topology_version) AS tenant
FROM topology_transformers
WHERE dt_id IN {dt_ids:Array(String)}
GROUP BY dt_id
ORDER BY dt_id
